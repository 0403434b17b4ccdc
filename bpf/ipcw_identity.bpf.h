/* Who failed (BPF side only): the task's comm and cgroup, which the agent turns into the comm,
 * unit, container and pod labels at scrape time. */
#ifndef IPCWATCH_BPF_IDENTITY_BPF_H
#define IPCWATCH_BPF_IDENTITY_BPF_H

/* Whose cgroup is recorded: the agent's choice, set before load. */
#define IPCW_CGROUP_NONE -2    /* none: the cgroup field stays 0 */
#define IPCW_CGROUP_UNIFIED -1 /* the unified (v2) hierarchy's, as bpf_get_current_cgroup_id() */
#define IPCW_CGROUP_PIDS 0     /* a cgroup v1 controller's hierarchy: pids */
#define IPCW_CGROUP_MEMORY 1
#define IPCW_CGROUP_CPU 2

const volatile __s32 ipcw_cgroup_source = IPCW_CGROUP_UNIFIED;
/* false: no comm is recorded, so one name keeps one count whoever fails on it. */
const volatile bool ipcw_record_comm = true;

/* The subsystem id of a v1 controller in this kernel (its enum cgroup_subsys_id, which depends
 * on the kernel's configuration), -1 when the kernel has no such controller. */
static __always_inline int ipcw_controller_ssid(__s32 source)
{
  if (source == IPCW_CGROUP_PIDS && bpf_core_enum_value_exists(enum cgroup_subsys_id, pids_cgrp_id)) {
    return bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
  }
  if (source == IPCW_CGROUP_MEMORY &&
      bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
    return bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
  }
  if (source == IPCW_CGROUP_CPU && bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id)) {
    return bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
  }
  return -1;
}

/* The id of task's cgroup: its kernfs node id, which is the inode number of the cgroup's
 * directory, so the agent finds it by walking the hierarchy's mount. 0 when unreadable. */
static __always_inline __u64 ipcw_task_cgroup(struct task_struct *task)
{
  __s32 source = ipcw_cgroup_source;
  if (source == IPCW_CGROUP_NONE) {
    return 0;
  }
  struct css_set *cset = BPF_CORE_READ(task, cgroups);
  if (!cset) {
    return 0;
  }
  if (source == IPCW_CGROUP_UNIFIED) {
    return BPF_CORE_READ(cset, dfl_cgrp, kn, id);
  }
  int ssid = ipcw_controller_ssid(source);
  if (ssid < 0) {
    return 0;
  }
  struct cgroup_subsys_state *css = NULL;
  bpf_core_read(&css, sizeof(css), &cset->subsys[ssid & 0x3f]);
  if (!css) {
    return 0;
  }
  return BPF_CORE_READ(css, cgroup, kn, id);
}

/* Fills the who-failed fields of a key for the current task (task). comm must be 16 bytes. */
static __always_inline void ipcw_set_identity(struct task_struct *task, char *comm, __u64 *cgroup)
{
  if (ipcw_record_comm) {
    bpf_get_current_comm(comm, 16);
  }
  *cgroup = ipcw_task_cgroup(task);
}

#endif /* IPCWATCH_BPF_IDENTITY_BPF_H */
