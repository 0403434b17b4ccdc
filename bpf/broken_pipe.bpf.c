// SPDX-License-Identifier: GPL-2.0
/* Broken pipes, counted in the kernel.
 *
 * - EPIPE: on the exits of the write/send family. Two backends, one count: fexit on the
 *   syscalls' x86-64 entry points (__x64_sys_write, ...), which costs only when those syscalls
 *   run, where the kernel has BPF trampolines; else their syscall-exit tracepoints. Both take
 *   the failing fd from the user registers the syscall entered with (no entry program, no
 *   per-call map traffic) and classify it from its inode and socket: the same code.
 * - EPIPE of io_uring requests: tp_btf/io_uring_complete, which sees every completion, wherever
 *   the request ran; no syscall sees these.
 * - SIGPIPE: tp_btf/signal_generate, which fires only when a signal is generated and hands us
 *   the target task, so its disposition and mask tell what becomes of the signal.
 * - Deaths: tp_btf/sched_process_exit, the group leader's exit code.
 * - Pipe buffer limits: on the exits of pipe/pipe2 (ENFILE past the hard limit; a new pipe
 *   with fewer pages than the default, past the soft limit) and fcntl (F_SETPIPE_SZ refused
 *   with EPERM), fexit on the entry points where the kernel has trampolines, as for EPIPE.
 * The BTF tracepoints need no tracefs and cost nothing on the syscall path. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
#include "ipcw_identity.bpf.h"
#include "ipcwatch/bpf/broken_pipe.h"

#define EPIPE 32
#define EPERM 1
#define ENFILE 23
#define F_SETPIPE_SZ 1031
#define PIPE_DEF_BUFFERS 16
#define SIGPIPE 13
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_SEQPACKET 5
#define SIG_DFL 0
#define SIG_IGN 1
/* enum trace_signal_result (include/trace/events/signal.h) */
#define TRACE_SIGNAL_IGNORED 1

char LICENSE[] SEC("license") = "GPL";

/* Sizes are set by the agent before load (bpf_map__set_max_entries). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_comm_key);
  __type(value, __u64);
} epipe_counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_comm_key);
  __type(value, __u64);
} sigpipe_counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_comm_key);
  __type(value, __u64);
} sigpipe_deaths SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_comm_key);
  __type(value, __u64);
} pipe_limit_counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, IPCW_FALLBACK_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} fallback_counts SEC(".maps");

/* Adds one to key's per-CPU counter; when the map is full the event lands in a fallback slot
 * that the agent reports under comm="other", so nothing is lost. */
static __always_inline void count(void *map, struct ipcw_comm_key *key, __u32 fallback_slot)
{
  if (ipcw_count(map, key)) {
    return;
  }
  __u64 *value = bpf_map_lookup_elem(&fallback_counts, &fallback_slot);
  if (value) {
    *value += 1;
  }
}

static __always_inline __u32 classify_socket(struct file *file)
{
  struct socket *sock = BPF_CORE_READ(file, private_data);
  if (!sock) {
    return IPCW_KIND_OTHER;
  }
  short type = BPF_CORE_READ(sock, type);
  unsigned short family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
  if (family == AF_UNIX) {
    if (type == SOCK_STREAM) {
      return IPCW_KIND_UNIX_STREAM;
    }
    if (type == SOCK_SEQPACKET) {
      return IPCW_KIND_UNIX_SEQPACKET;
    }
    return IPCW_KIND_OTHER;
  }
  if ((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM) {
    return IPCW_KIND_TCP;
  }
  return IPCW_KIND_OTHER;
}

static __always_inline __u32 classify_file(struct file *file)
{
  if (!file) {
    return IPCW_KIND_OTHER;
  }
  umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
  if ((mode & S_IFMT) == S_IFIFO) {
    unsigned long magic = BPF_CORE_READ(file, f_inode, i_sb, s_magic);
    return magic == PIPEFS_MAGIC ? IPCW_KIND_PIPE : IPCW_KIND_FIFO;
  }
  if ((mode & S_IFMT) == S_IFSOCK) {
    return classify_socket(file);
  }
  return IPCW_KIND_OTHER;
}

/* Counts one EPIPE of the current task, on what `file` is. */
static __always_inline void count_epipe(struct file *file)
{
  struct ipcw_comm_key key = {};
  key.code = classify_file(file);
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  key.cgroup = ipcw_task_cgroup(ipcw_current_task());
  count(&epipe_counts, &key, IPCW_FALLBACK_EPIPE_BASE + key.code);
}

/* The fd among a syscall's user registers; fd_arg is its 1-based position among the syscall's
 * arguments. */
static __always_inline long syscall_fd(struct pt_regs *regs, int fd_arg)
{
  return fd_arg == 3 ? PT_REGS_PARM3_CORE_SYSCALL(regs) : PT_REGS_PARM1_CORE_SYSCALL(regs);
}

/* Counts the EPIPE of the current syscall (number syscall_nr, fd at fd_arg): both backends. */
static __always_inline int on_syscall_exit(long ret, long syscall_nr, int fd_arg)
{
  if (ret != -EPIPE) {
    return 0;
  }
  struct task_struct *task = ipcw_current_task();
  struct pt_regs *regs = ipcw_syscall_regs(task, syscall_nr);
  if (!regs) {
    return 0;
  }
  count_epipe(ipcw_fd_file(task, syscall_fd(regs, fd_arg)));
  return 0;
}

static __always_inline int on_write_exit(struct trace_event_raw_sys_exit *ctx, int fd_arg)
{
  return on_syscall_exit(ctx->ret, ctx->id, fd_arg);
}

/* The entry points take the user registers as their one argument, but before 6.x their BTF
 * types it as a pointer to an undefined struct, which the verifier will not let a program
 * read (5.10: "arg0 type FWD is not a struct"): the programs read only the return value and
 * find the registers as the tracepoints do, under the syscall's x86-64 number. */
#define NR_write 1
#define NR_writev 20
#define NR_sendfile64 40
#define NR_sendto 44
#define NR_sendmsg 46
#define NR_splice 275
#define NR_sendmmsg 307

#define EPIPE_FEXIT(syscall, name, fd_arg)                              \
  SEC("fexit/__x64_sys_" #syscall)                                      \
  int name(unsigned long long *ctx)                                     \
  {                                                                     \
    return on_syscall_exit((long)ctx[1], NR_##syscall, fd_arg);         \
  }

SEC("tracepoint/syscalls/sys_exit_write")
int epipe_write(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

SEC("tracepoint/syscalls/sys_exit_writev")
int epipe_writev(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

SEC("tracepoint/syscalls/sys_exit_sendto")
int epipe_sendto(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int epipe_sendmsg(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int epipe_sendmmsg(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

/* splice(fd_in, off_in, fd_out, ...): EPIPE comes from the output side. */
SEC("tracepoint/syscalls/sys_exit_splice")
int epipe_splice(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 3); }

/* sendfile(out_fd, in_fd, ...) */
SEC("tracepoint/syscalls/sys_exit_sendfile64")
int epipe_sendfile(struct trace_event_raw_sys_exit *ctx) { return on_write_exit(ctx, 1); }

EPIPE_FEXIT(write, epipe_fexit_write, 1)
EPIPE_FEXIT(writev, epipe_fexit_writev, 1)
EPIPE_FEXIT(sendto, epipe_fexit_sendto, 1)
EPIPE_FEXIT(sendmsg, epipe_fexit_sendmsg, 1)
EPIPE_FEXIT(sendmmsg, epipe_fexit_sendmmsg, 1)
EPIPE_FEXIT(splice, epipe_fexit_splice, 3)
EPIPE_FEXIT(sendfile64, epipe_fexit_sendfile, 1)

/* Counts one pipe limit event of the current task. */
static __always_inline void count_pipe_limit(__u32 event)
{
  struct ipcw_comm_key key = {};
  key.code = event;
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  key.cgroup = ipcw_task_cgroup(ipcw_current_task());
  count(&pipe_limit_counts, &key, IPCW_FALLBACK_PIPE_LIMIT_BASE + event);
}

#define NR_pipe 22
#define NR_pipe2 293
#define NR_fcntl 72

/* The exit of pipe(fds) or pipe2(fds, flags): ENFILE is the hard limit (or the system's file
 * limit); a success is judged by the new pipe's size, read through the read end the syscall
 * just stored in the user's array. */
static __always_inline int on_pipe_exit(long ret, long syscall_nr)
{
  if (ret == -ENFILE) {
    count_pipe_limit(IPCW_PIPE_CREATE_ENFILE);
    return 0;
  }
  if (ret != 0) {
    return 0;
  }
  struct task_struct *task = ipcw_current_task();
  struct pt_regs *regs = ipcw_syscall_regs(task, syscall_nr);
  if (!regs) {
    return 0;
  }
  int fds[2] = {-1, -1};
  if (bpf_probe_read_user(fds, sizeof(fds), (void *)PT_REGS_PARM1_CORE_SYSCALL(regs)) != 0) {
    return 0;
  }
  struct file *file = ipcw_fd_file(task, fds[0]);
  if (!file) {
    return 0;
  }
  struct pipe_inode_info *pipe = BPF_CORE_READ(file, private_data);
  if (pipe && BPF_CORE_READ(pipe, max_usage) < PIPE_DEF_BUFFERS) {
    count_pipe_limit(IPCW_PIPE_REDUCED);
  }
  return 0;
}

static __always_inline int on_fcntl_exit(long ret)
{
  if (ret != -EPERM) {
    return 0;
  }
  struct pt_regs *regs = ipcw_syscall_regs(ipcw_current_task(), NR_fcntl);
  if (regs && PT_REGS_PARM2_CORE_SYSCALL(regs) == F_SETPIPE_SZ) {
    count_pipe_limit(IPCW_PIPE_RESIZE_EPERM);
  }
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_pipe")
int pipe_limit_pipe(struct trace_event_raw_sys_exit *ctx) { return on_pipe_exit(ctx->ret, NR_pipe); }

SEC("tracepoint/syscalls/sys_exit_pipe2")
int pipe_limit_pipe2(struct trace_event_raw_sys_exit *ctx)
{
  return on_pipe_exit(ctx->ret, NR_pipe2);
}

SEC("tracepoint/syscalls/sys_exit_fcntl")
int pipe_limit_fcntl(struct trace_event_raw_sys_exit *ctx) { return on_fcntl_exit(ctx->ret); }

SEC("fexit/__x64_sys_pipe")
int pipe_limit_fexit_pipe(unsigned long long *ctx) { return on_pipe_exit((long)ctx[1], NR_pipe); }

SEC("fexit/__x64_sys_pipe2")
int pipe_limit_fexit_pipe2(unsigned long long *ctx)
{
  return on_pipe_exit((long)ctx[1], NR_pipe2);
}

SEC("fexit/__x64_sys_fcntl")
int pipe_limit_fexit_fcntl(unsigned long long *ctx) { return on_fcntl_exit((long)ctx[1]); }

/* Before 6.13 a request named its task directly; since, through its io_uring_task. */
struct io_kiocb___task {
  struct task_struct *task;
} __attribute__((preserve_access_index));

static __always_inline struct task_struct *io_uring_request_task(struct io_kiocb *req)
{
  if (bpf_core_field_exists(((struct io_kiocb___task *)0)->task)) {
    return BPF_CORE_READ((struct io_kiocb___task *)req, task);
  }
  return BPF_CORE_READ(req, tctx, task);
}

/* Every io_uring completion, inline or from an io-wq worker: an EPIPE one is counted on the
 * request's file (the output of a splice) and for the task that submitted it. The tracepoint
 * hands over the request since 5.19; the agent attaches this only where its prototype says so. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(epipe_io_uring, void *ring, struct io_kiocb *req)
{
  if (!req || BPF_CORE_READ(req, cqe.res) != -EPIPE) {
    return 0;
  }
  struct ipcw_comm_key key = {};
  key.code = classify_file(BPF_CORE_READ(req, file));
  struct task_struct *task = io_uring_request_task(req);
  if (task) {
    bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), task->comm);
  } else {
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    task = ipcw_current_task();
  }
  key.cgroup = ipcw_task_cgroup(task);
  count(&epipe_counts, &key, IPCW_FALLBACK_EPIPE_BASE + key.code);
  return 0;
}

static __always_inline __u32 sigpipe_action(struct task_struct *task, int result)
{
  if (result == TRACE_SIGNAL_IGNORED) {
    return IPCW_SIGPIPE_IGNORED;
  }
  unsigned long blocked = BPF_CORE_READ(task, blocked.sig[0]);
  if (blocked & (1UL << (SIGPIPE - 1))) {
    return IPCW_SIGPIPE_BLOCKED;
  }
  unsigned long handler =
      (unsigned long)BPF_CORE_READ(task, sighand, action[SIGPIPE - 1].sa.sa_handler);
  if (handler == SIG_DFL) {
    return IPCW_SIGPIPE_DEFAULT;
  }
  return handler == SIG_IGN ? IPCW_SIGPIPE_IGNORED : IPCW_SIGPIPE_HANDLED;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(sigpipe_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
             int group, int result)
{
  if (sig != SIGPIPE || !task) {
    return 0;
  }
  struct ipcw_comm_key key = {};
  key.code = sigpipe_action(task, result);
  bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), task->comm);
  key.cgroup = ipcw_task_cgroup(task); /* the target's: the process the signal is for */
  count(&sigpipe_counts, &key, IPCW_FALLBACK_SIGPIPE_BASE + key.code);
  return 0;
}

/* A process killed by a signal exits every thread with that signal as exit code; counting the
 * group leader counts the process once. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sigpipe_exit, struct task_struct *task)
{
  if (!task || BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid)) {
    return 0;
  }
  if ((BPF_CORE_READ(task, exit_code) & 0x7f) != SIGPIPE) {
    return 0;
  }
  struct ipcw_comm_key key = {};
  bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), task->comm);
  key.cgroup = ipcw_task_cgroup(task);
  count(&sigpipe_deaths, &key, IPCW_FALLBACK_DEATH_SLOT);
  return 0;
}
