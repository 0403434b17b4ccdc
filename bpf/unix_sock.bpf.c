// SPDX-License-Identifier: GPL-2.0
/* Failed connect() and bind() on AF_UNIX sockets, by path (or abstract name), errno and
 * network namespace, counted in per-CPU maps. Only the exits of these two syscalls are traced,
 * and only failures on AF_UNIX sockets touch a map. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcw_common.bpf.h"
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
  long fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
  const char *uaddr = (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs);
  long addrlen = PT_REGS_PARM3_CORE_SYSCALL(regs);

  struct file *file = ipcw_fd_file(task, fd);
  if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK) {
    return 0;
  }
  struct socket *sock = BPF_CORE_READ(file, private_data);
  if (!sock || BPF_CORE_READ(sock, sk, __sk_common.skc_family) != AF_UNIX) {
    return 0;
  }
  struct ipcw_unix_err_key key = {};
  key.err = (__s32)-ret;
  key.netns = BPF_CORE_READ(sock, sk, __sk_common.skc_net.net, ns.inum);
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
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int unix_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
  return on_exit(ctx, &connect_errors, 0);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int unix_exit_bind(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx, &bind_errors, 1); }
