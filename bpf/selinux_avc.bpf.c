// SPDX-License-Identifier: GPL-2.0
/* SELinux AVC denials from the avc:selinux_audited tracepoint (Linux >= 5.10), as a BTF
 * tracepoint: it needs no tracefs and works whether or not an audit daemon runs. It fires for
 * every audited AVC decision; only those with denied permissions are passed on. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ipcwatch/bpf/selinux_avc.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* [0]: denials dropped because the ring buffer was full. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

SEC("tp_btf/selinux_audited")
int BPF_PROG(avc_denied, struct selinux_audit_data *sad, char *scontext, char *tcontext,
             const char *tclass)
{
  __u32 denied = BPF_CORE_READ(sad, denied);
  if (denied == 0) {
    return 0; /* an auditallow'ed grant */
  }
  struct ipcw_avc_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    __u32 slot = 0;
    __u64 *value = bpf_map_lookup_elem(&drops, &slot);
    if (value) {
      *value += 1;
    }
    return 0;
  }
  ev->denied = denied;
  ev->result = BPF_CORE_READ(sad, result);
  ev->tgid = bpf_get_current_pid_tgid() >> 32;
  ev->pad = 0;
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
  bpf_probe_read_kernel_str(ev->tclass, sizeof(ev->tclass), tclass);
  bpf_probe_read_kernel_str(ev->scontext, sizeof(ev->scontext), scontext);
  bpf_probe_read_kernel_str(ev->tcontext, sizeof(ev->tcontext), tcontext);
  bpf_ringbuf_submit(ev, 0);
  return 0;
}
