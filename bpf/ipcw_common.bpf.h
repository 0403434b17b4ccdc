/* Helpers shared by ipcwatch's BPF programs (BPF side only). */
#ifndef IPCWATCH_BPF_COMMON_BPF_H
#define IPCWATCH_BPF_COMMON_BPF_H

#define S_IFMT 00170000
#define S_IFIFO 0010000
#define S_IFSOCK 0140000
#define PIPEFS_MAGIC 0x50495045

/* The struct file behind fd in task's descriptor table, or NULL. */
static __always_inline struct file *ipcw_fd_file(struct task_struct *task, long fd)
{
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds)) {
    return NULL;
  }
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = NULL;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0) {
    return NULL;
  }
  return file;
}

/* Adds one to key's per-CPU counter in a PERCPU_HASH; false when the map is full. */
static __always_inline bool ipcw_count(void *map, const void *key)
{
  __u64 *value = bpf_map_lookup_elem(map, key);
  if (value) {
    *value += 1;
    return true;
  }
  __u64 one = 1;
  if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST) == 0) {
    return true;
  }
  value = bpf_map_lookup_elem(map, key); /* inserted by another CPU meanwhile */
  if (value) {
    *value += 1;
    return true;
  }
  return false;
}

/* The current task. bpf_get_current_task_btf() (5.11+) where the kernel has it; before, the
 * untyped bpf_get_current_task(): every read through it is a CO-RE probe read either way.
 * Which one is settled at load time (libbpf resolves the enum value against the kernel's BTF)
 * and the verifier drops the other branch, so the programs load on 5.10. */
static __always_inline struct task_struct *ipcw_current_task(void)
{
  if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
    return bpf_get_current_task_btf();
  }
  return (struct task_struct *)bpf_get_current_task();
}

/* THREAD_SIZE on x86-64 (PAGE_SIZE << 2) without KASAN, as every Debian amd64 kernel has it. */
#define IPCW_X86_64_THREAD_SIZE 16384

/* The user registers saved when the current task entered the kernel, or NULL: bpf_task_pt_regs()
 * (5.15+) where the kernel has it; before, where task_pt_regs() puts them on x86-64 (the top of
 * the task's kernel stack). orig_ax in them is the syscall that entered: check it before reading
 * any argument. */
static __always_inline struct pt_regs *ipcw_user_regs(struct task_struct *task)
{
  if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
    return (struct pt_regs *)bpf_task_pt_regs(task);
  }
  void *stack = BPF_CORE_READ(task, stack);
  if (!stack) {
    return NULL;
  }
  return (struct pt_regs *)(stack + IPCW_X86_64_THREAD_SIZE) - 1;
}

/* The user registers of the current syscall (number syscall_nr, the tracepoint's id), or NULL.
 * Where they are found by their place on the stack, they are checked against the syscall number
 * they record, so a kernel built otherwise reads nothing rather than the wrong arguments. */
static __always_inline struct pt_regs *ipcw_syscall_regs(struct task_struct *task,
                                                         long syscall_nr)
{
  struct pt_regs *regs = ipcw_user_regs(task);
  if (!regs || bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
    return regs;
  }
  if ((long)BPF_CORE_READ(regs, orig_ax) != syscall_nr) {
    return NULL;
  }
  return regs;
}

#endif /* IPCWATCH_BPF_COMMON_BPF_H */
