// SPDX-License-Identifier: GPL-2.0
/* Host facts gathered in the kernel, one pass per read of an iterator fd: the processes with
 * their credentials and namespaces (iter/task), and the named FIFOs and AF_UNIX sockets each
 * process holds open. This replaces walking /proc/PID/fd and stat()ing every descriptor, which
 * costs one system call per descriptor on the host. The open files come from one of three
 * programs, chosen by the agent at start: host_files_loop_btf (iter/task walking each
 * descriptor table with bpf_loop, loading fields through bpf_rdonly_cast pointers, 6.2+),
 * host_files_loop (the same walk with probe reads, 5.17+) or host_files (iter/task_file, 5.8+).
 * The agent turns autoload off for the others, so the object still loads on 5.10 kernels. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
#include "ipcwatch/bpf/host_iter.h"

#define AF_UNIX 1
#define SOCKFS_MAGIC 0x534F434B
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
/* MAX_PID_NS_LEVEL: bounds the index into struct pid's numbers[]. */
#define IPCW_MAX_PID_NS_LEVEL 32
/* open_fds is an array of unsigned long; this object is built for 64-bit targets only. */
#define IPCW_FDWALK_BITS_PER_WORD 64

char LICENSE[] SEC("license") = "GPL";

/* Set by the agent before load: sockets are the bulk of a busy host's descriptors, and a caller
 * that only needs FIFO holders should not pay for emitting them. */
const volatile bool want_sockets = true;

/* Set by the agent between reads (with want_sockets): report only the sockets whose inode is
 * a key of wanted_sockets. */
bool filter_sockets = false;
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, IPCW_WANTED_SOCKETS_MAX);
  __type(key, __u64);
  __type(value, __u8);
} wanted_sockets SEC(".maps");

/* The pid namespace /proc/PID/ns/pid names: task_active_pid_ns(), the namespace at the level of
 * the task's own struct pid. nsproxy->pid_ns_for_children differs after unshare(CLONE_NEWPID). */
static __always_inline __u32 active_pid_ns_inum(struct task_struct *task)
{
  struct pid *pid = BPF_CORE_READ(task, thread_pid);
  if (!pid) {
    return 0;
  }
  unsigned int level = BPF_CORE_READ(pid, level);
  if (level > IPCW_MAX_PID_NS_LEVEL) {
    return 0;
  }
  return BPF_CORE_READ(pid, numbers[level].ns, ns.inum);
}

SEC("iter/task")
int host_tasks(struct bpf_iter__task *ctx)
{
  struct seq_file *seq = ctx->meta->seq;
  struct task_struct *task = ctx->task;
  if (!task) {
    return 0; /* the end of the iteration */
  }
  /* The iterator visits every thread; a process is reported once, by its leader. */
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid)) {
    return 0;
  }
  struct ipcw_host_task rec = {};
  rec.tgid = BPF_CORE_READ(task, tgid);
  rec.ppid = BPF_CORE_READ(task, real_parent, tgid);
  /* real_cred: the objective credentials, the ones /proc/PID/status shows and that others'
   * permission checks see (cred differs only during an in-kernel override_creds()). */
  rec.euid = BPF_CORE_READ(task, real_cred, euid.val);
  rec.egid = BPF_CORE_READ(task, real_cred, egid.val);
  BPF_CORE_READ_INTO(&rec.comm, task, comm);
  struct user_struct *user = BPF_CORE_READ(task, real_cred, user);
  if (user) {
    rec.pipe_uid = BPF_CORE_READ(user, uid.val);
    rec.pipe_pages = BPF_CORE_READ(user, pipe_bufs.counter);
  }
  struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);
  if (ns) {
    rec.mnt_ns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
    rec.net_ns = BPF_CORE_READ(ns, net_ns, ns.inum);
    rec.ipc_ns = BPF_CORE_READ(ns, ipc_ns, ns.inum);
    rec.pid_ns = active_pid_ns_inum(task);
    /* The mqueue sysctls of a namespace are these fields; reading them here spares the agent
     * three sysctl opens per IPC namespace, each a walk of one long dentry hash chain. */
    struct ipc_namespace *ipc = BPF_CORE_READ(ns, ipc_ns);
    if (ipc && bpf_core_field_exists(ipc->mq_queues_max)) {
      rec.mq_queues_max = BPF_CORE_READ(ipc, mq_queues_max);
      rec.mq_msg_max = BPF_CORE_READ(ipc, mq_msg_max);
      rec.mq_msgsize_max = BPF_CORE_READ(ipc, mq_msgsize_max);
      rec.mq_valid = 1;
    }
  }
  bpf_seq_write(seq, &rec, sizeof(rec));
  return 0;
}

/* Where the kernel has it (6.2+), bpf_rdonly_cast turns a pointer read out of the descriptor
 * table into a BTF-typed one, through which fields are plain loads the verifier makes
 * fault-safe: one instruction each instead of a bpf_probe_read_kernel call. Weak, so that the
 * object still loads where it is missing; only host_files_loop_btf calls it, and the agent
 * loads that program only where the kernel's BTF has the kfunc. */
extern void *bpf_rdonly_cast(void *obj__ign, __u32 btf_id__k) __ksym __weak;

/* One field of src: a plain load through a BTF pointer when direct, else a CO-RE probe read.
 * direct is a constant at every call, so each walk compiles to one of the two. */
#define IPCW_FIELD(direct, src, field) ((direct) ? (src)->field : BPF_CORE_READ(src, field))

/* Fills kind, access, dev and ino of rec when file is a named FIFO or (with want_sockets) an
 * AF_UNIX socket; false for every other file. Shared by all descriptor walks so that they
 * report exactly the same records; direct: file is a bpf_rdonly_cast pointer. */
static __always_inline bool host_file_fill(struct file *file, struct ipcw_host_file *rec,
                                           const bool direct)
{
  struct inode *inode = IPCW_FIELD(direct, file, f_inode);
  if (!inode) {
    return false;
  }
  /* Most descriptors are neither FIFOs nor sockets: decide on i_mode alone before any other
   * read, since this runs once per open file on the host. */
  __u32 type = IPCW_FIELD(direct, inode, i_mode) & S_IFMT;
  if (type != S_IFIFO && (type != S_IFSOCK || !want_sockets)) {
    return false;
  }
  struct super_block *sb = IPCW_FIELD(direct, inode, i_sb);
  if (!sb) {
    return false;
  }
  unsigned long magic = IPCW_FIELD(direct, sb, s_magic);
  if (type == S_IFIFO) {
    if (magic == PIPEFS_MAGIC) {
      return false; /* an anonymous pipe */
    }
    rec->kind = IPCW_HOST_FILE_FIFO;
  } else {
    /* An O_PATH descriptor of a socket file has a filesystem inode and no struct socket. */
    if (magic != SOCKFS_MAGIC) {
      return false;
    }
    /* Only the sockets asked about, when the agent says which: the bound ones are a few
     * hundred of a busy host's tens of thousands, and the rest would only be read back and
     * dropped. */
    if (filter_sockets) {
      __u64 ino = IPCW_FIELD(direct, inode, i_ino);
      if (!bpf_map_lookup_elem(&wanted_sockets, &ino)) {
        return false;
      }
    }
    struct socket *sock = BPF_CORE_READ(file, private_data);
    if (!sock || BPF_CORE_READ(sock, sk, __sk_common.skc_family) != AF_UNIX) {
      return false;
    }
    rec->kind = IPCW_HOST_FILE_UNIX_SOCKET;
  }
  fmode_t mode = IPCW_FIELD(direct, file, f_mode);
  rec->access = ((mode & FMODE_READ) ? IPCW_HOST_FILE_READ : 0) |
                ((mode & FMODE_WRITE) ? IPCW_HOST_FILE_WRITE : 0);
  rec->dev = IPCW_FIELD(direct, sb, s_dev);
  rec->ino = IPCW_FIELD(direct, inode, i_ino);
  return true;
}

/* The fallback walk, for kernels without bpf_loop (before 5.17). The kernel calls the program
 * once per descriptor of every task, after an fget() of each: on a host with 100 000
 * descriptors that alone costs tens of milliseconds, whatever the program does. */
SEC("iter/task_file")
int host_files(struct bpf_iter__task_file *ctx)
{
  struct seq_file *seq = ctx->meta->seq;
  struct task_struct *task = ctx->task;
  struct file *file = ctx->file;
  if (!task || !file) {
    return 0;
  }
  struct ipcw_host_file rec = {};
  if (!host_file_fill(file, &rec, false)) {
    return 0;
  }
  /* Kernels since 5.10 skip threads sharing their leader's table themselves; checking here too
   * (only for the few files that pass the filters above) keeps one record per descriptor on
   * any kernel. A thread with a table of its own (clone without CLONE_FILES) is reported. */
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid) &&
      BPF_CORE_READ(task, files) == BPF_CORE_READ(task, group_leader, files)) {
    return 0;
  }
  rec.tgid = BPF_CORE_READ(task, tgid);
  rec.fd = ctx->fd;
  bpf_seq_write(seq, &rec, sizeof(rec));
  return 0;
}

/* Tasks whose descriptor walk stopped at IPCW_FDWALK_MAX_FDS, indexed by enum
 * ipcw_host_fdwalk_stat: the agent reads it after each walk and logs any growth, so a
 * truncated walk does not pass as a complete one. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, IPCW_FDWALK_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} fdwalk_stats SEC(".maps");

/* What one walk of a descriptor table needs; kept small, it lives on the caller's stack. */
struct fdwalk_ctx {
  struct seq_file *seq;
  struct file **fds;
  unsigned long *open_fds;
  __u32 tgid;
  __u32 max_fds;
};

/* One word (64 descriptors) of the open_fds bitmap: an empty word costs one read. The file
 * pointers of each byte of the word with a bit set are read in one go, since on most tables
 * the low descriptors are dense and every helper call counts. */
static __always_inline int fdwalk_word(__u32 index, struct fdwalk_ctx *walk, const bool direct)
{
  unsigned long word = 0;
  if (bpf_probe_read_kernel(&word, sizeof(word), &walk->open_fds[index]) != 0) {
    return 1; /* RCU keeps the table readable, so this is no race: stop rather than guess */
  }
  __u32 base = index * IPCW_FDWALK_BITS_PER_WORD;
#pragma clang loop unroll(disable)
  for (__u32 byte = 0; byte < 8 && word != 0; byte++, base += 8, word >>= 8) {
    __u32 bits = word & 0xff;
    /* max_fds is a multiple of BITS_PER_LONG, so all 8 slots lie inside fds[]. */
    struct file *batch[8];
    if (bits == 0 || base >= walk->max_fds ||
        bpf_probe_read_kernel(batch, sizeof(batch), &walk->fds[base]) != 0) {
      continue;
    }
#pragma clang loop unroll(disable)
    for (__u32 bit = 0; bit < 8; bit++) {
      struct file *file = batch[bit];
      /* NULL: a slot reserved by a concurrent open(), not yet installed. */
      if (!(bits & (1U << bit)) || !file) {
        continue;
      }
      if (direct) {
        file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
      }
      struct ipcw_host_file rec = {};
      if (!host_file_fill(file, &rec, direct)) {
        continue;
      }
      rec.tgid = walk->tgid;
      rec.fd = base + bit;
      bpf_seq_write(walk->seq, &rec, sizeof(rec));
    }
  }
  return 0;
}

static int fdwalk_word_probe(__u32 index, void *data)
{
  return fdwalk_word(index, data, false);
}

static int fdwalk_word_btf(__u32 index, void *data)
{
  return fdwalk_word(index, data, true);
}

/* The same records as host_files, from one program run per task instead of one per descriptor:
 * the program walks the task's descriptor table itself and never takes a reference on a file.
 *
 * The table is read without files->file_lock, as the kernel's own lockless fd lookup does. The
 * iterator runs the program under rcu_read_lock(), so an fdtable being replaced by a larger one
 * stays readable until the walk ends, and a struct file is freed only after a grace period
 * (its slab is SLAB_TYPESAFE_BY_RCU since 6.7). Every read is bpf_probe_read_kernel, which
 * cannot fault: a descriptor closed or replaced during the walk can at worst yield a record
 * that is stale by the time user space reads it, exactly as a descriptor closed just after
 * host_files saw it would, and never a crash. */
static __always_inline int files_loop(struct bpf_iter__task *ctx, const bool direct)
{
  struct task_struct *task = ctx->task;
  if (!task) {
    return 0;
  }
  struct files_struct *files = BPF_CORE_READ(task, files);
  if (!files) {
    return 0; /* an exiting task, or a kernel thread */
  }
  /* Threads created with CLONE_FILES share their leader's table: walk it once, for the leader,
   * as the task_file iterator does. */
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid) &&
      files == BPF_CORE_READ(task, group_leader, files)) {
    return 0;
  }
  struct fdtable *fdt = BPF_CORE_READ(files, fdt);
  if (!fdt) {
    return 0;
  }
  struct fdwalk_ctx walk = {
      .seq = ctx->meta->seq,
      .fds = BPF_CORE_READ(fdt, fd),
      .open_fds = BPF_CORE_READ(fdt, open_fds),
      .tgid = BPF_CORE_READ(task, tgid),
      .max_fds = BPF_CORE_READ(fdt, max_fds),
  };
  if (!walk.fds || !walk.open_fds) {
    return 0;
  }
  if (walk.max_fds > IPCW_FDWALK_MAX_FDS) {
    walk.max_fds = IPCW_FDWALK_MAX_FDS;
    __u32 key = IPCW_FDWALK_TRUNCATED_TASKS;
    __u64 *truncated = bpf_map_lookup_elem(&fdwalk_stats, &key);
    if (truncated) {
      __sync_fetch_and_add(truncated, 1);
    }
  }
  __u32 words = (walk.max_fds + IPCW_FDWALK_BITS_PER_WORD - 1) / IPCW_FDWALK_BITS_PER_WORD;
  bpf_loop(words, direct ? fdwalk_word_btf : fdwalk_word_probe, &walk, 0);
  return 0;
}

SEC("iter/task")
int host_files_loop(struct bpf_iter__task *ctx)
{
  return files_loop(ctx, false);
}

/* host_files_loop with the file, inode and superblock fields loaded through bpf_rdonly_cast
 * pointers (6.2+): the same records at a fraction of the cost on a host with 100 000
 * descriptors, where one probe read per field is most of the walk. */
SEC("iter/task")
int host_files_loop_btf(struct bpf_iter__task *ctx)
{
  return files_loop(ctx, true);
}
