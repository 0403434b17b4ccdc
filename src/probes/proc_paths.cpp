#include "probes/proc_paths.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "util/in_root.h"

namespace ipcwatch {
namespace {

std::optional<std::string> readLink(const std::string& path) {
  std::vector<char> buf(4096);
  const ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= buf.size()) {
    return std::nullopt;
  }
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

}  // namespace

int ProcessView::lstat(int dfd, const std::string& path, struct stat& st) const {
  std::string base;
  if (path.empty() || path.front() != '/') {
    base = dfd == AT_FDCWD ? procDir() + "/cwd" : procDir() + "/fd/" + std::to_string(dfd);
  }
  return RootedView(procDir() + "/root", base).lstat(path, st);
}

std::string ProcessView::displayPath(int dfd, const std::string& path) const {
  if (path.empty() || path.front() == '/') {
    return path;
  }
  const auto base =
      readLink(dfd == AT_FDCWD ? procDir() + "/cwd" : procDir() + "/fd/" + std::to_string(dfd));
  if (!base || base->empty() || base->front() != '/') {
    return path;
  }
  return *base == "/" ? "/" + path : *base + "/" + path;
}

std::optional<std::string> ProcessView::readString(std::uint64_t address, std::size_t max) const {
  std::string out(max, '\0');
  // Read up to the end of the first page first: the string may end just before an unmapped one.
  constexpr std::uint64_t kPage = 4096;
  std::size_t done = 0;
  while (done < max) {
    const std::uint64_t at = address + done;
    const std::size_t chunk = std::min<std::size_t>(max - done, kPage - (at % kPage));
    iovec local{out.data() + done, chunk};
    iovec remote{reinterpret_cast<void*>(at), chunk};
    const ssize_t n = process_vm_readv(static_cast<pid_t>(tgid_), &local, 1, &remote, 1, 0);
    if (n <= 0) {
      break;
    }
    const auto* nul = static_cast<const char*>(std::memchr(out.data() + done, '\0', n));
    done += static_cast<std::size_t>(n);
    if (nul != nullptr) {
      out.resize(static_cast<std::size_t>(nul - out.data()));
      return out;
    }
  }
  return std::nullopt;  // unreadable, or no terminator within max bytes
}

std::string errnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : std::to_string(err);
}

}  // namespace ipcwatch
