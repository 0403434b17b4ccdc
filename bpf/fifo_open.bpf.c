// SPDX-License-Identifier: GPL-2.0
/* FIFO opens: how long they wait for a peer, which ones block, which ones fail.
 *
 * sys_enter_open(at) records the start time and the caller's filename pointer per thread;
 * sys_exit_open(at) looks at the opened file: a FIFO's wait goes into a per-CPU log2 histogram,
 * and a wait past the threshold becomes a ring-buffer event with the path. Failed opens become
 * events only when they can matter here: ENXIO (a non-blocking writer found no reader), EACCES
 * and EPERM anywhere (the agent keeps those whose path is a FIFO), and every errno on the watched
 * paths. The agent lists opens still in flight at scrape time
 * (the inflight map), so a process stuck for an hour shows up at every scrape. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
#include "ipcwatch/bpf/fifo_open.h"

#define EPERM 1
#define ENXIO 6
#define EACCES 13
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
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

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* [0]: ring-buffer records dropped, [1]: opens not tracked because inflight was full. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

struct scratch_path {
  char path[IPCW_FIFO_PATH_LEN];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch_path);
} scratch SEC(".maps");

static __always_inline void count_drop(__u32 slot)
{
  __u64 *value = bpf_map_lookup_elem(&drops, &slot);
  if (value) {
    *value += 1;
  }
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

static __always_inline void emit(__u32 type, __u32 mode, __s32 err, __u64 wait_ns, __s32 dfd,
                                 const char *path)
{
  struct ipcw_fifo_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    count_drop(0);
    return;
  }
  ev->type = type;
  ev->mode = mode;
  ev->err = err;
  ev->tgid = bpf_get_current_pid_tgid() >> 32;
  ev->dfd = dfd;
  ev->pad = 0;
  ev->wait_ns = wait_ns;
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
  bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), path);
  bpf_ringbuf_submit(ev, 0);
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

static __always_inline void on_success(struct ipcw_inflight_open *open, long fd)
{
  struct file *file = ipcw_fd_file(ipcw_current_task(), fd);
  if (!file) {
    return;
  }
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
  __u32 zero = 0;
  struct scratch_path *buf = bpf_map_lookup_elem(&scratch, &zero);
  if (!buf) {
    return;
  }
  if (bpf_probe_read_user_str(buf->path, sizeof(buf->path), (const void *)open->filename) < 0) {
    buf->path[0] = 0;
  }
  emit(IPCW_EV_FIFO_BLOCKED, fifo_mode, 0, wait_ns, open->dfd, buf->path);
}

static __always_inline void on_error(long err, long dfd, long filename, long flags)
{
  __u32 zero = 0;
  struct scratch_path *buf = bpf_map_lookup_elem(&scratch, &zero);
  if (!buf) {
    return;
  }
  if (bpf_probe_read_user_str(buf->path, sizeof(buf->path), (const void *)filename) < 0) {
    return;
  }
  /* ENXIO, EACCES and EPERM may concern an existing FIFO: the agent checks the path. Other
   * errors (ENOENT...) cannot be tied to a FIFO and are reported on watched paths only. */
  if (err != ENXIO && err != EACCES && err != EPERM && !watched(buf->path)) {
    return;
  }
  emit(IPCW_EV_FIFO_OPEN_ERROR, (__u32)flags & O_ACCMODE, (__s32)err, 0, (__s32)dfd, buf->path);
}

/* The arguments are read from the saved user registers, as at syscall entry. */
static __always_inline int on_exit(struct trace_event_raw_sys_exit *ctx, bool is_openat)
{
  long ret = ctx->ret;
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct ipcw_inflight_open *tracked = bpf_map_lookup_elem(&inflight, &tid);
  struct ipcw_inflight_open open = {};
  if (tracked) {
    open = *tracked;
    bpf_map_delete_elem(&inflight, &tid);
  }
  if (ret >= 0) {
    if (tracked) {
      on_success(&open, ret);
    }
    return 0;
  }
  /* Every failed open is looked at, tracked at entry or not: its arguments come from the
   * registers (none where they cannot be found, see ipcw_syscall_regs). */
  struct pt_regs *regs = ipcw_syscall_regs(ipcw_current_task(), ctx->id);
  if (!regs) {
    return 0;
  }
  long dfd = is_openat ? (long)PT_REGS_PARM1_CORE_SYSCALL(regs) : -100 /* AT_FDCWD */;
  long filename = is_openat ? PT_REGS_PARM2_CORE_SYSCALL(regs) : PT_REGS_PARM1_CORE_SYSCALL(regs);
  long flags = is_openat ? PT_REGS_PARM3_CORE_SYSCALL(regs) : PT_REGS_PARM2_CORE_SYSCALL(regs);
  on_error(-ret, dfd, filename, flags);
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
  return on_enter(-100 /* AT_FDCWD */, (long)ctx->args[0], (long)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int fifo_exit_open(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx, false); }
