/* Kernel/user ABI of the FIFO-open probe family (bpf/fifo_open.bpf.c).
 * No includes, fixed-width types, explicit padding; the includer provides __u32/__u64. */
#ifndef IPCWATCH_BPF_FIFO_OPEN_H
#define IPCWATCH_BPF_FIFO_OPEN_H

#define IPCW_FIFO_PATH_LEN 256
#define IPCW_FIFO_COMM_LEN 16
#define IPCW_MAX_WATCH_PATHS 16
#define IPCW_WATCH_PATH_LEN 128

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

enum ipcw_fifo_event_type {
  IPCW_EV_FIFO_BLOCKED = 1,    /* a FIFO open that waited at least the threshold */
  IPCW_EV_FIFO_OPEN_ERROR = 2, /* a failed open: ENXIO/EACCES/EPERM anywhere, any on watched */
};

struct ipcw_fifo_event {
  __u32 type;
  __u32 mode;  /* enum ipcw_fifo_mode, or the O_ACCMODE bits for errors */
  __s32 err;   /* positive errno for IPCW_EV_FIFO_OPEN_ERROR */
  __u32 tgid;
  __s32 dfd;
  __u32 pad;
  __u64 wait_ns;
  char comm[IPCW_FIFO_COMM_LEN];
  char path[IPCW_FIFO_PATH_LEN];
};

/* A watched path or prefix (config watch_paths): failed opens below it are reported. */
struct ipcw_watch_path {
  __u32 len;
  __u32 pad;
  char prefix[IPCW_WATCH_PATH_LEN];
};

#endif /* IPCWATCH_BPF_FIFO_OPEN_H */
