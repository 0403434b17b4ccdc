/* Kernel/user ABI of the FIFO-open probe family (bpf/fifo_open.bpf.c).
 * No includes, fixed-width types, explicit padding; the includer provides __u32/__u64. */
#ifndef IPCWATCH_BPF_FIFO_OPEN_H
#define IPCWATCH_BPF_FIFO_OPEN_H

#define IPCW_FIFO_PATH_LEN 256
#define IPCW_MAX_WATCH_PATHS 16
#define IPCW_WATCH_PATH_LEN 128
#define IPCW_FIFO_COMM_LEN 16 /* TASK_COMM_LEN */

/* Direction of a FIFO open (O_RDWR opens never wait and are not reported). */
enum ipcw_fifo_mode {
  IPCW_FIFO_READ = 0,
  IPCW_FIFO_WRITE = 1,
  IPCW_FIFO_MODES = 2,
};

/* log2 buckets of the wait: bucket 0 is < 1 ms, bucket b (1..22) is [2^(b-1), 2^b) ms,
 * bucket 23 is >= 2^22 ms (~70 min). */
#define IPCW_WAIT_BUCKETS 24

struct ipcw_wait_hist {
  __u64 buckets[IPCW_WAIT_BUCKETS];
  __u64 sum_ns;
};

/* An open() in progress, keyed by thread id. The agent reads the path from the caller's
 * memory at scrape time (it is valid while the call blocks), so the hot path copies no string. */
struct ipcw_inflight_open {
  __u64 start_ns;
  __u64 filename; /* user-space pointer */
  __s32 dfd;
  __u32 flags;
  __u32 tgid;
  __u32 pad;
};

/* What a FIFO count counts. */
enum ipcw_fifo_count_kind {
  IPCW_FIFO_COUNT_BLOCKED = 1, /* a FIFO open that waited at least the threshold */
  IPCW_FIFO_COUNT_ERROR = 2,   /* a failed open: ENXIO/EACCES/EPERM anywhere, any on watched */
};

/* The key of a count in the kernel's counts map: the name as the opener gave it, with what
 * that name is relative to (its mount namespace, and for a relative name the directory), so two
 * FIFOs that share a name in two containers, or two directories, keep two counts. A failed open
 * has no inode to go by; the name is what both kinds have and what the labels show. Who opened
 * (comm, cgroup) is part of the key too: each opener keeps its own count. Every byte
 * past the name's NUL is zero: the key is hashed as a whole. */
struct ipcw_fifo_key {
  __u32 kind;    /* enum ipcw_fifo_count_kind */
  __u32 mode;    /* blocked: enum ipcw_fifo_mode; error: the open's O_ACCMODE bits */
  __s32 err;     /* error: positive errno; blocked: 0 */
  __u32 dir_dev; /* relative name: the kernel dev_t of the directory it starts from, else 0 */
  __u64 dir_ino; /* relative name: that directory's inode number, else 0 */
  __u64 mntns;   /* the opener's mount namespace (its inode number) */
  __u64 cgroup;  /* the opener's cgroup id (bpf/ipcw_cgroup.bpf.h), 0 if unknown */
  char comm[IPCW_FIFO_COMM_LEN]; /* the opener's */
  char path[IPCW_FIFO_PATH_LEN];
};

/* The value: the count, and the opener that created the entry, for the agent to resolve the
 * name in that process's view while it lives. */
struct ipcw_fifo_count {
  __u64 count;
  __u32 tgid;
  __s32 dfd; /* the directory descriptor of a relative name (AT_FDCWD: the cwd) */
};

/* Sent through the ring buffer when a key is first counted, so that the agent resolves its name
 * while the opener still runs. Only a hint: a dropped one loses no count (the agent then
 * resolves the key at the next scrape, from the entry's opener). */
struct ipcw_fifo_event {
  struct ipcw_fifo_key key;
  __u32 tgid;
  __s32 dfd;
};

/* A watched path or prefix (config watch_paths): failed opens below it are reported. */
struct ipcw_watch_path {
  __u32 len;
  __u32 pad;
  char prefix[IPCW_WATCH_PATH_LEN];
};

#endif /* IPCWATCH_BPF_FIFO_OPEN_H */
