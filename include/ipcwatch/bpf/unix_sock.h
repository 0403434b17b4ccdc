/* Kernel/user ABI of the unix-socket probe family (bpf/unix_sock.bpf.c).
 * No includes, fixed-width types, explicit padding; the includer provides __u32. */
#ifndef IPCWATCH_BPF_UNIX_SOCK_H
#define IPCWATCH_BPF_UNIX_SOCK_H

#define IPCW_UNIX_PATH_LEN 108 /* sizeof(sockaddr_un.sun_path) */
#define IPCW_UNIX_COMM_LEN 16  /* TASK_COMM_LEN */

/* Key of the per-CPU counter maps of failed connect()/bind() on AF_UNIX sockets. A filesystem
 * name is NUL-terminated in path; an abstract name has path[0] == 0 and name_len bytes after it
 * (it may itself contain NULs). name_len is 0 for a filesystem path. Every byte past a name is
 * zero: keys are compared bytewise. */
struct ipcw_unix_err_key {
  char path[IPCW_UNIX_PATH_LEN];
  __s32 err;       /* positive errno */
  __u32 netns;     /* inode number of the socket's network namespace */
  __u32 name_len;  /* bytes of an abstract name after the leading NUL, else 0 */
  char comm[IPCW_UNIX_COMM_LEN]; /* the failing task's */
  __u64 cgroup; /* the failing task's cgroup id (bpf/ipcw_cgroup.bpf.h), 0 if unknown */
};

#endif /* IPCWATCH_BPF_UNIX_SOCK_H */
