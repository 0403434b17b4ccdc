// SPDX-License-Identifier: GPL-2.0
/* The alternative design's floor: empty BTF programs on the raw syscall tracepoints, which fire
 * for every syscall (and need no tracefs), instead of the per-syscall tracepoints the agent
 * uses. The benchmark compares the two floors. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_raw_sys_enter) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_raw_sys_exit) { return 0; }
