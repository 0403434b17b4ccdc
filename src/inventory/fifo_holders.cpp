#include "inventory/fifo_holders.h"
#include "util/proc_entry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <system_error>

#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

std::optional<unsigned> readFdFlags(int pid_fd, const char* fd_name) {
  UniqueFd info(openat(pid_fd, (std::string("fdinfo/") + fd_name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!info.valid()) {
    return std::nullopt;
  }
  std::array<char, 512> buffer{};  // flags: is on the second line; the rest is not needed
  const ssize_t n = read(info.get(), buffer.data(), buffer.size());
  if (n <= 0) {
    return std::nullopt;
  }
  return parseFdinfoFlags(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
}

// Returns false when the deadline passed.
bool scanProcess(int proc_fd, const char* pid, const std::optional<std::set<FileId>>& fifos,
                 dev_t pipe_dev, std::chrono::steady_clock::time_point deadline, bool sockets,
                 FifoHolderScan& result) {
  UniqueFd pid_fd(openat(proc_fd, pid, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pid_fd.valid()) {
    return true;
  }
  const int fd_dir_fd = openat(pid_fd.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir_fd < 0) {
    return true;
  }
  DIR* fd_dir = fdopendir(fd_dir_fd);
  if (fd_dir == nullptr) {
    close(fd_dir_fd);
    return true;
  }
  bool in_time = true;
  while (const dirent* entry = readdir(fd_dir)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      in_time = false;
      break;
    }
    if (!isProcNumber(entry->d_name)) {
      continue;
    }
    struct stat st {};
    if (fstatat(fd_dir_fd, entry->d_name, &st, 0) != 0) {
      continue;
    }
    if (sockets && S_ISSOCK(st.st_mode)) {
      result.sockets.push_back(
          {static_cast<std::uint32_t>(std::strtoul(pid, nullptr, 10)), st.st_ino});
      continue;
    }
    if (!S_ISFIFO(st.st_mode)) {
      continue;
    }
    const FileId id{st.st_dev, st.st_ino};
    if (fifos ? fifos->count(id) == 0 : st.st_dev == pipe_dev) {
      continue;
    }
    const auto flags = readFdFlags(pid_fd.get(), entry->d_name);
    if (!flags) {
      continue;  // closed meanwhile
    }
    auto& holders = result.holders[id];
    const unsigned mode = *flags & O_ACCMODE;
    holders.readers += (mode == O_RDONLY || mode == O_RDWR) ? 1 : 0;
    holders.writers += (mode == O_WRONLY || mode == O_RDWR) ? 1 : 0;
    const auto tgid = static_cast<std::uint32_t>(std::strtoul(pid, nullptr, 10));
    if (mode == O_RDONLY || mode == O_RDWR) {
      holders.reader_pids.insert(tgid);
    }
    if (mode == O_WRONLY || mode == O_RDWR) {
      holders.writer_pids.insert(tgid);
    }
    result.descriptors.push_back(
        {tgid, id, mode == O_RDONLY || mode == O_RDWR, mode == O_WRONLY || mode == O_RDWR});
  }
  closedir(fd_dir);
  return in_time;
}

}  // namespace

std::optional<unsigned> parseFdinfoFlags(std::string_view fdinfo) {
  while (!fdinfo.empty()) {
    const std::size_t end = fdinfo.find('\n');
    std::string_view line = fdinfo.substr(0, end);
    fdinfo.remove_prefix(end == std::string_view::npos ? fdinfo.size() : end + 1);
    if (!line.starts_with("flags:")) {
      continue;
    }
    line.remove_prefix(6);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    unsigned flags = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), flags, 8);
    if (ec != std::errc() || ptr == line.data()) {
      return std::nullopt;
    }
    return flags;
  }
  return std::nullopt;
}

FifoHolderScan findFifoHolders(const std::string& procfs, const std::set<FileId>& fifos,
                               std::chrono::steady_clock::time_point deadline) {
  if (fifos.empty()) {
    return {};
  }
  return findFifoHolders(procfs, std::optional<std::set<FileId>>(fifos), deadline, 0);
}

FifoHolderScan findFifoHolders(const std::string& procfs,
                               const std::optional<std::set<FileId>>& fifos,
                               std::chrono::steady_clock::time_point deadline, dev_t pipe_dev,
                               bool sockets) {
  FifoHolderScan result;
  const int proc_fd = open(procfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot open " + procfs);
  }
  DIR* proc = fdopendir(proc_fd);
  if (proc == nullptr) {
    close(proc_fd);
    throw std::system_error(errno, std::generic_category(), "cannot list " + procfs);
  }
  while (const dirent* entry = readdir(proc)) {
    if (isProcNumber(entry->d_name) &&
        !scanProcess(proc_fd, entry->d_name, fifos, pipe_dev, deadline, sockets, result)) {
      result.out_of_time = true;
      break;
    }
  }
  closedir(proc);
  return result;
}

}  // namespace ipcwatch
