/* Kernel/user ABI of the broken-pipe probe family (bpf/broken_pipe.bpf.c).
 *
 * Shared verbatim by the BPF program and the agent: no includes, fixed-width types, explicit
 * padding. The includer provides __u32/__u64 (vmlinux.h in BPF, <linux/types.h> in C++). */
#ifndef IPCWATCH_BPF_BROKEN_PIPE_H
#define IPCWATCH_BPF_BROKEN_PIPE_H

#define IPCW_COMM_LEN 16

/* What kind of file a write/send that failed with EPIPE went to. */
enum ipcw_epipe_kind {
  IPCW_KIND_PIPE = 0,           /* anonymous pipe (pipefs) */
  IPCW_KIND_FIFO = 1,           /* named FIFO on a real filesystem */
  IPCW_KIND_UNIX_STREAM = 2,    /* AF_UNIX SOCK_STREAM */
  IPCW_KIND_UNIX_SEQPACKET = 3, /* AF_UNIX SOCK_SEQPACKET */
  IPCW_KIND_TCP = 4,            /* AF_INET/AF_INET6 SOCK_STREAM */
  IPCW_KIND_OTHER = 5,
  IPCW_KIND_COUNT = 6,
};

/* What became of a generated SIGPIPE, judged from the target's disposition and mask. */
enum ipcw_sigpipe_action {
  IPCW_SIGPIPE_DEFAULT = 0, /* SIG_DFL and not blocked: the process is terminated */
  IPCW_SIGPIPE_HANDLED = 1, /* a handler is installed */
  IPCW_SIGPIPE_IGNORED = 2, /* SIG_IGN */
  IPCW_SIGPIPE_BLOCKED = 3, /* masked: left pending */
  IPCW_SIGPIPE_ACTION_COUNT = 4,
};

/* What a pipe buffer limit (fs.pipe-user-pages-soft/-hard, fs.pipe-max-size) did to a task. */
enum ipcw_pipe_limit_event {
  IPCW_PIPE_CREATE_ENFILE = 0,  /* pipe()/pipe2() failed with ENFILE (past the hard limit) */
  IPCW_PIPE_RESIZE_EPERM = 1,   /* fcntl(F_SETPIPE_SZ) failed with EPERM */
  IPCW_PIPE_REDUCED = 2,        /* a pipe created with fewer than the default 16 pages */
  IPCW_PIPE_LIMIT_EVENT_COUNT = 3,
};

/* Slots of the per-CPU fallback array used when a counter hash map is full, so that no event is
 * lost: EPIPE kinds first, then SIGPIPE actions, then deaths, then pipe limit events. */
#define IPCW_FALLBACK_EPIPE_BASE 0
#define IPCW_FALLBACK_SIGPIPE_BASE (IPCW_FALLBACK_EPIPE_BASE + IPCW_KIND_COUNT)
#define IPCW_FALLBACK_DEATH_SLOT (IPCW_FALLBACK_SIGPIPE_BASE + IPCW_SIGPIPE_ACTION_COUNT)
#define IPCW_FALLBACK_PIPE_LIMIT_BASE (IPCW_FALLBACK_DEATH_SLOT + 1)
#define IPCW_FALLBACK_SLOTS (IPCW_FALLBACK_PIPE_LIMIT_BASE + IPCW_PIPE_LIMIT_EVENT_COUNT)

/* Key of the per-CPU counter hash maps: the task's comm and cgroup plus a kind, action or pipe
 * limit event code (0 for deaths). Values are __u64 counts per CPU. */
struct ipcw_comm_key {
  char comm[IPCW_COMM_LEN];
  __u32 code;
  __u32 pad;    /* always zero: keys are compared bytewise */
  __u64 cgroup; /* the task's cgroup id (bpf/ipcw_identity.bpf.h), 0 when not recorded */
};

#endif /* IPCWATCH_BPF_BROKEN_PIPE_H */
