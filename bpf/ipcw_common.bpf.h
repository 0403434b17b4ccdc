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

#endif /* IPCWATCH_BPF_COMMON_BPF_H */
