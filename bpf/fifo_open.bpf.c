// SPDX-License-Identifier: GPL-2.0
/* FIFO opens: how long they wait for a peer, which ones block, which ones fail.
 *
 * sys_enter_open(at) records the start time and the caller's filename pointer per thread;
 * sys_exit_open(at) looks at the opened file: a FIFO's wait goes into a per-CPU log2 histogram,
 * and a wait past the threshold is counted under the FIFO's name. Failed opens are counted when
 * they can matter here: ENXIO (a non-blocking writer found no reader), EACCES and EPERM anywhere
 * (the agent keeps those whose name is a FIFO), and every errno on the watched paths. Every
 * count is kept in the counts map, so none is lost to a full ring buffer: the ring buffer only
 * tells the agent of a new name while its opener runs. The agent lists opens still in flight at
 * scrape time (the inflight map), so a process stuck for an hour shows up at every scrape. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
#include "ipcw_identity.bpf.h"
#include "ipcwatch/bpf/fifo_open.h"

#define EPERM 1
#define ENXIO 6
#define EACCES 13
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define AT_FDCWD -100
#define NSEC_PER_MSEC 1000000ULL

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 blocked_threshold_ns = 1000000000ULL;
const volatile __u32 watch_count = 0;
const volatile struct ipcw_watch_path watch_paths[IPCW_MAX_WATCH_PATHS] = {};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct ipcw_inflight_open);
} inflight SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, IPCW_FIFO_MODES);
  __type(key, __u32);
  __type(value, struct ipcw_wait_hist);
} wait_hist SEC(".maps");

/* Blocked and failed opens, by name (struct ipcw_fifo_key). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096); /* set by the agent from the path label cap */
  __type(key, struct ipcw_fifo_key);
  __type(value, struct ipcw_fifo_count);
} counts SEC(".maps");

/* New names, for the agent to resolve while their opener runs (struct ipcw_fifo_event). */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* [0]: counts refused because the counts map was full, [1]: opens not tracked because inflight
 * was full. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

/* The key being built (too big for the stack next to the rest). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ipcw_fifo_key);
} scratch SEC(".maps");

static __always_inline void count_drop(__u32 slot)
{
  __u64 *value = bpf_map_lookup_elem(&drops, &slot);
  if (value) {
    *value += 1;
  }
}

/* The scratch key, zeroed: every byte of a key is hashed. */
static __always_inline struct ipcw_fifo_key *fresh_key(__u32 kind, __u32 mode, __s32 err)
{
  __u32 zero = 0;
  struct ipcw_fifo_key *key = bpf_map_lookup_elem(&scratch, &zero);
  if (!key) {
    return NULL;
  }
  __builtin_memset(key, 0, sizeof(*key));
  key->kind = kind;
  key->mode = mode;
  key->err = err;
  return key;
}

/* Who opened (task, the current one: its comm and cgroup) and what key's name (already read) is
 * relative to: the opener's mount namespace and, for a relative name, the directory it starts
 * from (dfd's, or the cwd for AT_FDCWD). */
static __always_inline void set_origin(struct ipcw_fifo_key *key, struct task_struct *task,
                                       long dfd)
{
  ipcw_set_identity(task, key->comm, &key->cgroup);
  key->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
  if (key->path[0] == '/') {
    return;
  }
  struct inode *dir = NULL;
  if (dfd == AT_FDCWD) {
    dir = BPF_CORE_READ(task, fs, pwd.dentry, d_inode);
  } else {
    struct file *file = ipcw_fd_file(task, dfd);
    if (file) {
      dir = BPF_CORE_READ(file, f_inode);
    }
  }
  if (dir) {
    key->dir_ino = BPF_CORE_READ(dir, i_ino);
    key->dir_dev = BPF_CORE_READ(dir, i_sb, s_dev);
  }
}

/* Counts one open under key; the first count of a name is told to the agent. */
static __always_inline void count_open(const struct ipcw_fifo_key *key, long dfd)
{
  struct ipcw_fifo_count *value = bpf_map_lookup_elem(&counts, key);
  if (value) {
    __sync_fetch_and_add(&value->count, 1);
    return;
  }
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct ipcw_fifo_count first = {.count = 1, .tgid = tgid, .dfd = (__s32)dfd};
  if (bpf_map_update_elem(&counts, key, &first, BPF_NOEXIST) == 0) {
    struct ipcw_fifo_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
    if (!ev) {
      return; /* the agent resolves the name at the next scrape instead */
    }
    __builtin_memcpy(&ev->key, key, sizeof(ev->key));
    ev->tgid = tgid;
    ev->dfd = (__s32)dfd;
    bpf_ringbuf_submit(ev, 0);
    return;
  }
  value = bpf_map_lookup_elem(&counts, key); /* created by another CPU meanwhile */
  if (value) {
    __sync_fetch_and_add(&value->count, 1);
    return;
  }
  count_drop(0);
}

static __always_inline __u32 wait_bucket(__u64 wait_ns)
{
  __u64 ms = wait_ns / NSEC_PER_MSEC;
  __u32 bucket = 0;
  /* bucket = floor(log2(ms)) + 1 for ms >= 1 */
  for (int i = 0; i < IPCW_WAIT_BUCKETS - 1 && ms > 0; i++) {
    ms >>= 1;
    bucket++;
  }
  return bucket;
}

static __always_inline bool watched(const char *path)
{
  for (__u32 i = 0; i < IPCW_MAX_WATCH_PATHS; i++) {
    if (i >= watch_count) {
      return false;
    }
    __u32 len = watch_paths[i].len;
    bool match = len > 0;
    for (__u32 j = 0; j < IPCW_WATCH_PATH_LEN; j++) {
      if (j >= len) {
        break;
      }
      if (path[j] != watch_paths[i].prefix[j]) {
        match = false;
        break;
      }
    }
    if (match) {
      return true;
    }
  }
  return false;
}

static __always_inline int on_enter(long dfd, long filename, long flags)
{
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)id;
  struct ipcw_inflight_open open = {
      .start_ns = bpf_ktime_get_ns(),
      .filename = (__u64)filename,
      .dfd = (__s32)dfd,
      .flags = (__u32)flags,
      .tgid = id >> 32,
  };
  if (bpf_map_update_elem(&inflight, &tid, &open, BPF_ANY) != 0) {
    count_drop(1);
  }
  return 0;
}

/* Reads the opener's name: from user memory for the tracepoints, from the kernel's copy (struct
 * filename) for the trampolines. */
static __always_inline long read_name(char *dst, const void *name, bool kernel_name)
{
  if (kernel_name) {
    return bpf_probe_read_kernel_str(dst, IPCW_FIFO_PATH_LEN, name);
  }
  return bpf_probe_read_user_str(dst, IPCW_FIFO_PATH_LEN, name);
}

/* An open that returned file, tracked since open->start_ns: a FIFO's wait is observed, and
 * counted as blocked past the threshold. */
static __always_inline void on_opened(struct ipcw_inflight_open *open, struct file *file,
                                      const void *name, bool kernel_name)
{
  umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
  if ((mode & S_IFMT) != S_IFIFO || BPF_CORE_READ(file, f_inode, i_sb, s_magic) == PIPEFS_MAGIC) {
    return;
  }
  __u32 accmode = open->flags & O_ACCMODE;
  if (accmode != O_RDONLY && accmode != O_WRONLY) {
    return;
  }
  __u32 fifo_mode = accmode == O_RDONLY ? IPCW_FIFO_READ : IPCW_FIFO_WRITE;
  __u64 wait_ns = bpf_ktime_get_ns() - open->start_ns;
  struct ipcw_wait_hist *hist = bpf_map_lookup_elem(&wait_hist, &fifo_mode);
  if (hist) {
    __u32 bucket = wait_bucket(wait_ns);
    if (bucket < IPCW_WAIT_BUCKETS) {
      hist->buckets[bucket] += 1;
    }
    hist->sum_ns += wait_ns;
  }
  if (wait_ns < blocked_threshold_ns) {
    return;
  }
  struct ipcw_fifo_key *key = fresh_key(IPCW_FIFO_COUNT_BLOCKED, fifo_mode, 0);
  if (!key) {
    return;
  }
  read_name(key->path, name, kernel_name);
  set_origin(key, ipcw_current_task(), open->dfd);
  count_open(key, open->dfd);
}

static __always_inline void on_error(long err, long dfd, const void *name, bool kernel_name,
                                     long flags)
{
  if (err != ENXIO && err != EACCES && err != EPERM && watch_count == 0) {
    return; /* the common failures (ENOENT...) cost a compare */
  }
  struct ipcw_fifo_key *key = fresh_key(IPCW_FIFO_COUNT_ERROR, (__u32)flags & O_ACCMODE,
                                        (__s32)err);
  if (!key) {
    return;
  }
  if (read_name(key->path, name, kernel_name) < 0) {
    return;
  }
  /* ENXIO, EACCES and EPERM may concern an existing FIFO: the agent checks the name. Other
   * errors (ENOENT...) cannot be tied to a FIFO and are counted on watched paths only. */
  if (err != ENXIO && err != EACCES && err != EPERM && !watched(key->path)) {
    return;
  }
  set_origin(key, ipcw_current_task(), dfd);
  count_open(key, dfd);
}

/* Moves the current thread's open tracked at fifo_open() (if any) into *open: false when there
 * is none. */
static __always_inline bool take_inflight(struct ipcw_inflight_open *open)
{
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct ipcw_inflight_open *tracked = bpf_map_lookup_elem(&inflight, &tid);
  if (!tracked) {
    return false;
  }
  *open = *tracked;
  bpf_map_delete_elem(&inflight, &tid);
  return true;
}

/* The arguments are read from the saved user registers, as at syscall entry. */
static __always_inline int on_exit(struct trace_event_raw_sys_exit *ctx, bool is_openat)
{
  long ret = ctx->ret;
  struct ipcw_inflight_open open = {};
  bool tracked = take_inflight(&open);
  if (ret >= 0) {
    struct file *file = tracked ? ipcw_fd_file(ipcw_current_task(), ret) : NULL;
    if (file) {
      on_opened(&open, file, (const void *)open.filename, false);
    }
    return 0;
  }
  /* Every failed open is looked at, tracked at entry or not: its arguments come from the
   * registers (none where they cannot be found, see ipcw_syscall_regs). */
  struct pt_regs *regs = ipcw_syscall_regs(ipcw_current_task(), ctx->id);
  if (!regs) {
    return 0;
  }
  long dfd = is_openat ? (long)PT_REGS_PARM1_CORE_SYSCALL(regs) : AT_FDCWD;
  long filename = is_openat ? PT_REGS_PARM2_CORE_SYSCALL(regs) : PT_REGS_PARM1_CORE_SYSCALL(regs);
  long flags = is_openat ? PT_REGS_PARM3_CORE_SYSCALL(regs) : PT_REGS_PARM2_CORE_SYSCALL(regs);
  on_error(-ret, dfd, (const void *)filename, false, flags);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int fifo_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
  return on_enter((long)ctx->args[0], (long)ctx->args[1], (long)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int fifo_exit_openat(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx, true); }

SEC("tracepoint/syscalls/sys_enter_open")
int fifo_enter_open(struct trace_event_raw_sys_enter *ctx)
{
  return on_enter(AT_FDCWD, (long)ctx->args[0], (long)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int fifo_exit_open(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx, false); }

/* The trampoline backend: fentry on fifo_open(), which only FIFO opens reach, starts the wait;
 * fexit on do_filp_open(), the body of every path open (open, openat, openat2, io_uring's
 * openat), sees its name, flags and result. Together they do what the four tracepoints do, and
 * cost nothing on any other syscall. */
#define NR_OPEN 2
#define NR_OPENAT 257
#define NR_OPENAT2 437
#define MAY_EXEC 0x00000001
#define MAX_ERRNO 4095

/* int fifo_open(struct inode *inode, struct file *filp) */
SEC("fentry/fifo_open")
int BPF_PROG(fifo_fentry_fifo_open, struct inode *inode, struct file *filp)
{
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)id;
  struct ipcw_inflight_open open = {
      .start_ns = bpf_ktime_get_ns(),
      .dfd = AT_FDCWD,
      .flags = BPF_CORE_READ(filp, f_flags),
      .tgid = id >> 32,
  };
  /* The caller's name, for the agent to read while the open waits: from the registers of
   * open(2), openat(2) or openat2(2). An open from io_uring or from the kernel has none. */
  struct pt_regs *regs = ipcw_user_regs(ipcw_current_task());
  if (regs) {
    long nr = (long)BPF_CORE_READ(regs, orig_ax);
    if (nr == NR_OPEN) {
      open.filename = PT_REGS_PARM1_CORE_SYSCALL(regs);
    } else if (nr == NR_OPENAT || nr == NR_OPENAT2) {
      open.dfd = (__s32)PT_REGS_PARM1_CORE_SYSCALL(regs);
      open.filename = PT_REGS_PARM2_CORE_SYSCALL(regs);
    }
  }
  if (bpf_map_update_elem(&inflight, &tid, &open, BPF_ANY) != 0) {
    count_drop(1);
  }
  return 0;
}

/* struct file *do_filp_open(int dfd, struct filename *pathname, const struct open_flags *op) */
SEC("fexit/do_filp_open")
int BPF_PROG(fifo_fexit_do_filp_open, int dfd, struct filename *pathname,
             const struct open_flags *op, struct file *ret)
{
  bool failed = (unsigned long)ret >= (unsigned long)-MAX_ERRNO;
  /* The common case, in three loads: a file that is not a FIFO. */
  if (!failed && (BPF_CORE_READ(ret, f_inode, i_mode) & S_IFMT) != S_IFIFO) {
    return 0;
  }
  struct ipcw_inflight_open open = {};
  bool tracked = take_inflight(&open);
  const char *name = BPF_CORE_READ(pathname, name);
  if (!failed) {
    if (tracked) {
      open.dfd = dfd;
      on_opened(&open, ret, name, true);
    }
    return 0;
  }
  /* exec() opens its file here too: not an open(2). */
  if (BPF_CORE_READ(op, acc_mode) & MAY_EXEC) {
    return 0;
  }
  on_error(-(long)ret, dfd, name, true, BPF_CORE_READ(op, open_flag));
  return 0;
}
