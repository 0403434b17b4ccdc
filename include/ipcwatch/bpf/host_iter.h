/* Kernel/user ABI of the host iterators (bpf/host_iter.bpf.c): records written with
 * bpf_seq_write and read back from the iterator fd, one whole record at a time.
 * No includes, fixed-width types, explicit padding; the includer provides __u8/__u32/__u64. */
#ifndef IPCWATCH_BPF_HOST_ITER_H
#define IPCWATCH_BPF_HOST_ITER_H

#define IPCW_HOST_COMM_LEN 16

/* One thread-group leader (iter/task). Pids are as seen from the initial pid namespace.
 * Namespace fields are nsfs inode numbers (what stat("/proc/PID/ns/...") reports as st_ino);
 * all four are 0 for a task without namespaces (an exiting task). */
struct ipcw_host_task {
  __u32 tgid;
  __u32 ppid; /* real_parent's tgid */
  __u32 euid;
  __u32 egid;
  char comm[IPCW_HOST_COMM_LEN];
  __u32 mnt_ns;
  __u32 net_ns;
  __u32 ipc_ns;
  __u32 pid_ns; /* the task's own (active) pid namespace, not the one for its children */
  /* The POSIX message queue limits of the task's IPC namespace, the values of
   * /proc/sys/fs/mqueue/{queues_max,msg_max,msgsize_max} inside it; valid only when mq_valid
   * is 1 (a kernel without CONFIG_POSIX_MQUEUE, or a task without namespaces, has none). */
  __u32 mq_queues_max;
  __u32 mq_msg_max;
  __u32 mq_msgsize_max;
  __u32 mq_valid;
  /* The pipe buffer pages charged to the task's user (its real uid's user_struct, what the
   * kernel holds against fs.pipe-user-pages-soft and -hard), and that uid (initial user
   * namespace). Every task of one user reports the same count. */
  __u32 pipe_uid;
  __u32 pad;
  __u64 pipe_pages;
};

enum ipcw_host_file_kind {
  IPCW_HOST_FILE_FIFO = 1,        /* a named FIFO (anonymous pipes are never reported) */
  IPCW_HOST_FILE_UNIX_SOCKET = 2, /* an AF_UNIX socket; ino is sock_diag's udiag_ino */
};

#define IPCW_HOST_FILE_READ 0x1  /* FMODE_READ */
#define IPCW_HOST_FILE_WRITE 0x2 /* FMODE_WRITE */

/* One open descriptor of interest (iter/task_file). dev is the kernel's internal dev_t of the
 * inode's superblock (MAJOR << 20 | MINOR), not st_dev: user space converts it. */
struct ipcw_host_file {
  __u32 tgid;
  __u32 fd;
  __u8 kind;   /* enum ipcw_host_file_kind */
  __u8 access; /* IPCW_HOST_FILE_READ | IPCW_HOST_FILE_WRITE */
  __u8 pad[2];
  __u32 dev;
  __u64 ino;
};

/* The most socket inodes a socket walk can be limited to (wanted_sockets); more are read
 * unfiltered. */
#define IPCW_WANTED_SOCKETS_MAX 65536

/* The most descriptors host_files_loop walks per task: fs.nr_open's default, so only a table
 * grown past it by a raised nr_open is cut short, and counted. */
#define IPCW_FDWALK_MAX_FDS (1U << 20)

/* Keys of the fdwalk_stats array (host_files_loop), each a __u64 count since load. */
enum ipcw_host_fdwalk_stat {
  IPCW_FDWALK_TRUNCATED_TASKS = 0, /* tasks with more than IPCW_FDWALK_MAX_FDS slots */
  IPCW_FDWALK_STAT_COUNT = 1,
};

#endif /* IPCWATCH_BPF_HOST_ITER_H */
