// SPDX-License-Identifier: GPL-2.0
/* The benchmark's floor: empty programs on exactly the tracepoints the agent's default
 * configuration attaches. What the agent costs above this is what its program bodies cost; what
 * this costs above no tracing at all is the price of the tracepoints themselves. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define EMPTY(section, name) \
  SEC(section) int name(void *ctx) { return 0; }

EMPTY("tracepoint/syscalls/sys_exit_write", floor_exit_write)
EMPTY("tracepoint/syscalls/sys_exit_writev", floor_exit_writev)
EMPTY("tracepoint/syscalls/sys_exit_sendto", floor_exit_sendto)
EMPTY("tracepoint/syscalls/sys_exit_sendmsg", floor_exit_sendmsg)
EMPTY("tracepoint/syscalls/sys_exit_sendmmsg", floor_exit_sendmmsg)
EMPTY("tracepoint/syscalls/sys_exit_splice", floor_exit_splice)
EMPTY("tracepoint/syscalls/sys_exit_sendfile64", floor_exit_sendfile)
EMPTY("tracepoint/syscalls/sys_enter_openat", floor_enter_openat)
EMPTY("tracepoint/syscalls/sys_exit_openat", floor_exit_openat)
EMPTY("tracepoint/syscalls/sys_enter_open", floor_enter_open)
EMPTY("tracepoint/syscalls/sys_exit_open", floor_exit_open)
EMPTY("tracepoint/syscalls/sys_exit_connect", floor_exit_connect)
EMPTY("tracepoint/syscalls/sys_exit_bind", floor_exit_bind)

SEC("tp_btf/signal_generate")
int BPF_PROG(floor_signal_generate) { return 0; }

SEC("tp_btf/io_uring_complete")
int BPF_PROG(floor_io_uring_complete) { return 0; }

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_process_exit) { return 0; }
