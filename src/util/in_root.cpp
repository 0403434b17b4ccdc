#include "util/in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <thread>

namespace ipcwatch {
namespace {

// A RESOLVE_IN_ROOT lookup through ".." fails with EAGAIN when a rename or a mount raced with
// it: the kernel asks the caller to try again.
constexpr int kRaceRetries = 8;

// glibc 2.36 (Debian 12) has no openat2() wrapper.
int openat2Path(int dirfd, const std::string& path, int flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = resolve;
  for (int attempt = 0;; ++attempt) {
    const long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN || attempt == kRaceRetries) {
      return static_cast<int>(fd);
    }
  }
}

// The lookup the process itself would make: a thread of our own takes `root_fd` as its root
// (after unshare(CLONE_FS) the root is per thread, so the rest of the agent keeps its own) and
// opens `path` from `base_fd` there. Absolute symlinks then start at the process's root and
// ".." stops at it, whatever the path does.
int openChrooted(int root_fd, int base_fd, const std::string& path, int flags) {
  int fd = -1;
  int err = 0;
  try {
    std::thread helper([&] {
      if (syscall(SYS_unshare, CLONE_FS) != 0 || fchdir(root_fd) != 0 || chroot(".") != 0) {
        err = errno;
        return;
      }
      fd = openat2Path(base_fd, path, flags, RESOLVE_NO_MAGICLINKS);
      if (fd < 0 && errno == ENOSYS) {
        fd = openat(base_fd, path.c_str(), flags);
      }
      err = fd < 0 ? errno : 0;
    });
    helper.join();
  } catch (const std::system_error& e) {  // no thread to be had
    err = e.code().value();
  }
  errno = err;
  return fd;
}

}  // namespace

RootedView::RootedView(const std::string& root, const std::string& base) {
  root_.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_.valid()) {
    error_ = errno;
    return;
  }
  if (!base.empty()) {
    base_.reset(::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!base_.valid()) {
      error_ = errno;
    }
  }
}

UniqueFd RootedView::open(const std::string& path, bool follow) const {
  if (error_ != 0) {
    errno = error_;
    return UniqueFd();
  }
  const int flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  const bool in_root = !base_.valid() || (!path.empty() && path.front() == '/');
  const int from = in_root ? root_.get() : base_.get();
  int fd = openat2Path(from, path, flags,
                       (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS);
  // EXDEV: the relative path leaves its base, which only the process's root may bound.
  if (fd < 0 && (errno == ENOSYS || (!in_root && errno == EXDEV))) {
    fd = openChrooted(root_.get(), from, path, flags);
  }
  return UniqueFd(fd);
}

int RootedView::statAt(const std::string& path, struct stat& st, bool follow) const {
  const UniqueFd fd = open(path, follow);
  if (!fd.valid()) {
    return -1;
  }
  return ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH);
}

int RootedView::lstat(const std::string& path, struct stat& st) const {
  return statAt(path, st, false);
}

int RootedView::stat(const std::string& path, struct stat& st) const {
  return statAt(path, st, true);
}

ssize_t RootedView::getxattr(const std::string& path, const char* name, void* value,
                             std::size_t size) const {
  const UniqueFd fd = open(path, true);
  if (!fd.valid()) {
    return -1;
  }
  // fgetxattr() refuses O_PATH descriptors on the kernels we support; the descriptor's
  // /proc/self/fd entry reaches the same file.
  const std::string through = "/proc/self/fd/" + std::to_string(fd.get());
  return ::getxattr(through.c_str(), name, value, size);
}

}  // namespace ipcwatch
