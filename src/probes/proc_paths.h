#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ipcwatch {

// Paths as another process sees them, reached through procfs so that its mount namespace
// (a private /tmp, a container root), its root directory and working directory apply.
class ProcessView {
 public:
  ProcessView(std::string procfs, std::uint32_t tgid) : procfs_(std::move(procfs)), tgid_(tgid) {}

  // lstat() of `path` (relative to dfd, AT_FDCWD for the cwd) the way the process reaches it:
  // resolved inside <procfs>/<tgid>/root from there, .../cwd or .../fd/<dfd>, so an absolute
  // symlink of a container leads into the container (see RootedView). 0, or -1 with errno.
  int lstat(int dfd, const std::string& path, struct stat& st) const;
  // `path` as a label: absolute paths as they are; relative ones joined to the process's cwd or
  // dfd target when that can still be read, else as given.
  std::string displayPath(int dfd, const std::string& path) const;
  // A NUL-terminated string of at most max bytes from the process's memory.
  std::optional<std::string> readString(std::uint64_t address, std::size_t max) const;

 private:
  std::string procDir() const { return procfs_ + "/" + std::to_string(tgid_); }

  std::string procfs_;
  std::uint32_t tgid_;
};

// "ENOENT" for ENOENT; the number as text when glibc has no name for it.
std::string errnoName(int err);

}  // namespace ipcwatch
