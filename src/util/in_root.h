#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "util/unique_fd.h"

namespace ipcwatch {

// The file tree as one process sees it: its root directory and, for relative paths, a base
// directory (its cwd or a dfd). Paths resolve the way the kernel resolves them for that process:
// absolute paths and absolute symlinks start at its root, ".." stops there, and the mounts are
// those of its mount namespace. Gluing paths to "<procfs>/<pid>/root" does not do that: the
// kernel follows an absolute symlink inside it (a container's /var/run -> /run) from the
// agent's root.
//
// openat2(RESOLVE_IN_ROOT) on the root does it for absolute paths. A relative path is first
// resolved with RESOLVE_BENEATH from its base; one that leaves the base (".." above it, an
// absolute symlink) is resolved by a short-lived thread that makes the root its own root
// (unshare(CLONE_FS) + chroot, for that thread only: needs CAP_SYS_CHROOT) and opens from the
// base there. That thread also serves where openat2 is refused (ENOSYS from a container
// runtime's seccomp filter). Magic links (/proc/PID/fd/N, /proc/self/root inside the process's
// /proc) are not followed by openat2: they would lead out of the root.
class RootedView {
 public:
  // `root` and `base` are directories to open: e.g. <procfs>/<pid>/root and .../cwd. An empty
  // `base` is the root. When one cannot be opened (the process exited), every lookup fails
  // with that open's errno.
  explicit RootedView(const std::string& root, const std::string& base = "");

  // An O_PATH descriptor of `path` (invalid, errno set, when it cannot be reached). `follow`:
  // whether a symlink in the last component is followed. O_PATH opens nothing: a FIFO gains
  // no reader or writer, nothing blocks.
  UniqueFd open(const std::string& path, bool follow) const;
  // lstat() and stat() through the view: 0, or -1 with errno set.
  int lstat(const std::string& path, struct stat& st) const;
  int stat(const std::string& path, struct stat& st) const;
  // getxattr() (follows symlinks) through the view: the size, or -1 with errno set.
  ssize_t getxattr(const std::string& path, const char* name, void* value, std::size_t size) const;

 private:
  int statAt(const std::string& path, struct stat& st, bool follow) const;

  UniqueFd root_;
  UniqueFd base_;  // invalid: the root is the base
  int error_ = 0;  // why root_ or base_ could not be opened
};

}  // namespace ipcwatch
