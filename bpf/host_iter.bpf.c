// SPDX-License-Identifier: GPL-2.0
/* Host facts gathered in the kernel, one pass per read of an iterator fd: the processes with
 * their credentials and namespaces (iter/task), and the named FIFOs and AF_UNIX sockets each
 * process holds open (iter/task_file). This replaces walking /proc/PID/fd and stat()ing every
 * descriptor, which costs one system call per descriptor on the host. Only helpers and
 * iterators available since 5.8 are used, so the object loads on 5.10 kernels. */
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

char LICENSE[] SEC("license") = "GPL";

/* Set by the agent before load: sockets are the bulk of a busy host's descriptors, and a caller
 * that only needs FIFO holders should not pay for emitting them. */
const volatile bool want_sockets = true;

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
  struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);
  if (ns) {
    rec.mnt_ns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
    rec.net_ns = BPF_CORE_READ(ns, net_ns, ns.inum);
    rec.ipc_ns = BPF_CORE_READ(ns, ipc_ns, ns.inum);
    rec.pid_ns = active_pid_ns_inum(task);
  }
  bpf_seq_write(seq, &rec, sizeof(rec));
  return 0;
}

SEC("iter/task_file")
int host_files(struct bpf_iter__task_file *ctx)
{
  struct seq_file *seq = ctx->meta->seq;
  struct task_struct *task = ctx->task;
  struct file *file = ctx->file;
  if (!task || !file) {
    return 0;
  }
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (!inode) {
    return 0;
  }
  /* Most descriptors are neither FIFOs nor sockets: decide on i_mode alone before any other
   * read, since this runs once per open file on the host. */
  __u32 type = BPF_CORE_READ(inode, i_mode) & S_IFMT;
  if (type != S_IFIFO && (type != S_IFSOCK || !want_sockets)) {
    return 0;
  }
  unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
  __u8 kind = 0;
  if (type == S_IFIFO) {
    if (magic == PIPEFS_MAGIC) {
      return 0; /* an anonymous pipe */
    }
    kind = IPCW_HOST_FILE_FIFO;
  } else {
    /* An O_PATH descriptor of a socket file has a filesystem inode and no struct socket. */
    if (magic != SOCKFS_MAGIC) {
      return 0;
    }
    struct socket *sock = BPF_CORE_READ(file, private_data);
    if (!sock || BPF_CORE_READ(sock, sk, __sk_common.skc_family) != AF_UNIX) {
      return 0;
    }
    kind = IPCW_HOST_FILE_UNIX_SOCKET;
  }
  /* Kernels since 5.10 skip threads sharing their leader's table themselves; checking here too
   * (only for the few files that pass the filters above) keeps one record per descriptor on
   * any kernel. A thread with a table of its own (clone without CLONE_FILES) is reported. */
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid) &&
      BPF_CORE_READ(task, files) == BPF_CORE_READ(task, group_leader, files)) {
    return 0;
  }
  struct ipcw_host_file rec = {};
  rec.tgid = BPF_CORE_READ(task, tgid);
  rec.fd = ctx->fd;
  rec.kind = kind;
  fmode_t mode = BPF_CORE_READ(file, f_mode);
  rec.access = ((mode & FMODE_READ) ? IPCW_HOST_FILE_READ : 0) |
               ((mode & FMODE_WRITE) ? IPCW_HOST_FILE_WRITE : 0);
  rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
  rec.ino = BPF_CORE_READ(inode, i_ino);
  bpf_seq_write(seq, &rec, sizeof(rec));
  return 0;
}
