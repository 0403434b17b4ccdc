/* Kernel/user ABI of the SELinux AVC probe (bpf/selinux_avc.bpf.c).
 * No includes, fixed-width types, explicit padding; the includer provides __u32/__s32. */
#ifndef IPCWATCH_BPF_SELINUX_AVC_H
#define IPCWATCH_BPF_SELINUX_AVC_H

#define IPCW_AVC_COMM_LEN 16
#define IPCW_AVC_CLASS_LEN 32
#define IPCW_AVC_CONTEXT_LEN 256

/* One audited AVC decision with at least one denied permission. `denied` uses the kernel's
 * own class/permission numbering (security/selinux/include/classmap.h), not the policy's. */
struct ipcw_avc_event {
  __u32 denied;
  __s32 result; /* 0: allowed anyway (permissive), else -EACCES */
  __u32 tgid;
  __u32 pad;
  char comm[IPCW_AVC_COMM_LEN];
  char tclass[IPCW_AVC_CLASS_LEN];
  char scontext[IPCW_AVC_CONTEXT_LEN];
  char tcontext[IPCW_AVC_CONTEXT_LEN];
};

#endif /* IPCWATCH_BPF_SELINUX_AVC_H */
