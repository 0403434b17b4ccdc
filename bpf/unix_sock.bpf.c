// SPDX-License-Identifier: GPL-2.0
/* Failed connect() and bind() on AF_UNIX sockets, by path (or abstract name), errno and
 * network namespace, counted in per-CPU maps. Two backends, one count: fexit on the syscalls'
 * bodies (__sys_connect, __sys_bind), which costs nothing on any other syscall, where the
 * kernel has BPF trampolines; else the exits of the two syscall tracepoints, which put every
 * syscall of every task on the slow path. The agent loads both and attaches one (ProgramSet).
 * Only failures on AF_UNIX sockets touch a map. Each count is keyed by who failed as well: the
 * task's comm and cgroup. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
#include "ipcw_identity.bpf.h"
#include "ipcwatch/bpf/unix_sock.h"

#define AF_UNIX 1
#define SUN_PATH_OFFSET 2 /* offsetof(struct sockaddr_un, sun_path) */

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_unix_err_key);
  __type(value, __u64);
} connect_errors SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct ipcw_unix_err_key);
  __type(value, __u64);
} bind_errors SEC(".maps");

/* Failures not counted because a map was full: [0] connect, [1] bind. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} map_full SEC(".maps");

/* Counts one failed connect()/bind() (ret < 0) of fd with the user address uaddr. */
static __always_inline void count_failure(struct task_struct *task, long ret, long fd,
                                          const char *uaddr, long addrlen, void *map,
                                          __u32 full_slot)
{
  struct file *file = ipcw_fd_file(task, fd);
  if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK) {
    return;
  }
  struct socket *sock = BPF_CORE_READ(file, private_data);
  if (!sock || BPF_CORE_READ(sock, sk, __sk_common.skc_family) != AF_UNIX) {
    return;
  }
  struct ipcw_unix_err_key key = {};
  key.err = (__s32)-ret;
  key.netns = BPF_CORE_READ(sock, sk, __sk_common.skc_net.net, ns.inum);
  ipcw_set_identity(task, key.comm, &key.cgroup);
  long name_len = addrlen - SUN_PATH_OFFSET;
  if (uaddr && name_len > 0) {
    char first = 0;
    bpf_probe_read_user(&first, 1, uaddr + SUN_PATH_OFFSET);
    if (first != 0) {
      bpf_probe_read_user_str(key.path, sizeof(key.path), uaddr + SUN_PATH_OFFSET);
    } else if (name_len > 1) {
      __u32 len = name_len > IPCW_UNIX_PATH_LEN ? IPCW_UNIX_PATH_LEN : (__u32)name_len;
      /* Hide the clamp from the compiler so that the mask below stays: the verifier needs a
       * bound it can see, and a 128-byte buffer makes any masked length safe. */
      asm volatile("" : "+r"(len));
      char name[128] = {};
      bpf_probe_read_user(name, len & 0x7f, uaddr + SUN_PATH_OFFSET);
      __builtin_memcpy(key.path, name, sizeof(key.path));
      key.path[0] = 0;
      key.name_len = len - 1;
    }
  }
  if (!ipcw_count(map, &key)) {
    __u64 *full = bpf_map_lookup_elem(&map_full, &full_slot);
    if (full) {
      *full += 1;
    }
  }
}

/* The arguments are read from the saved user registers, as at syscall entry. */
static __always_inline int on_exit(struct trace_event_raw_sys_exit *ctx, void *map,
                                   __u32 full_slot)
{
  long ret = ctx->ret;
  if (ret >= 0) {
    return 0;
  }
  struct task_struct *task = ipcw_current_task();
  struct pt_regs *regs = ipcw_syscall_regs(task, ctx->id);
  if (!regs) {
    return 0;
  }
  count_failure(task, ret, PT_REGS_PARM1_CORE_SYSCALL(regs),
                (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs),
                map, full_slot);
  return 0;
}

/* int __sys_connect(int fd, struct sockaddr __user *uservaddr, int addrlen): what connect(2)
 * runs and returns, with the arguments as the caller passed them. */
SEC("fexit/__sys_connect")
int BPF_PROG(unix_fexit_connect, int fd, void *uservaddr, int addrlen, int ret)
{
  if (ret < 0) {
    count_failure(ipcw_current_task(), ret, fd, (const char *)uservaddr, addrlen,
                  &connect_errors, 0);
  }
  return 0;
}

/* int __sys_bind(int fd, struct sockaddr __user *umyaddr, int addrlen) */
SEC("fexit/__sys_bind")
int BPF_PROG(unix_fexit_bind, int fd, void *umyaddr, int addrlen, int ret)
{
  if (ret < 0) {
    count_failure(ipcw_current_task(), ret, fd, (const char *)umyaddr, addrlen, &bind_errors,
                  1);
  }
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int unix_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
  return on_exit(ctx, &connect_errors, 0);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int unix_exit_bind(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx, &bind_errors, 1); }
