#include "collectors/posix_ipc_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

#include "endpoints/client_identity.h"
#include "inventory/parsers/ipc_parsers.h"
#include "inventory/proc_file.h"
#include "metrics/family.h"
#include "metrics/label_value.h"
#include "util/in_root.h"
#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

constexpr const char* kCollector = "posix_ipc";
constexpr std::string_view kSemaphorePrefix = "sem.";  // glibc's sem_open names in /dev/shm

struct NamedSize {
  std::string ns;  // the ipcns of a queue, the mntns of a /dev/shm object ("" without one)
  std::string name;
  std::uint64_t bytes = 0;
};

// Directory entries of an open directory fd (which it takes over), without "." and "..".
template <typename Fn>
void forEachEntry(int dir_fd, const std::string& what, Fn&& fn) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    throw std::runtime_error("cannot list " + what + ": " + std::strerror(errno));
  }
  while (const dirent* entry = readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      fn(dirfd(dir), entry->d_name);
    }
  }
  closedir(dir);
}

// The largest `n` by bytes, ties broken by name so the chosen set does not flap.
void keepLargest(std::vector<NamedSize>& items, std::size_t n) {
  n = std::min(n, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n), items.end(),
                    [](const NamedSize& a, const NamedSize& b) {
                      return a.bytes != b.bytes ? a.bytes > b.bytes
                                                : std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
                    });
  items.resize(n);
}

void push(std::vector<MetricFamily>& out, FamilyBuilder& family) {
  if (!family.empty()) {
    out.push_back(family.build());
  }
}

}  // namespace

PosixIpcCollector::PosixIpcCollector(PosixIpcOptions options, ParseErrors& errors,
                                     std::unique_ptr<IpcNamespaceVisitor> visitor)
    : options_(std::move(options)), errors_(errors), visitor_(std::move(visitor)) {
  errors_.declare(kCollector);
}

void PosixIpcCollector::collect(std::vector<MetricFamily>& out) {
  collectShm(out);
  collectMqueues(out);
}

std::vector<PosixIpcCollector::ShmDir> PosixIpcCollector::shmDirs() const {
  std::vector<ShmDir> dirs;
  const int own = open(options_.shm_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) {
    throw std::runtime_error("cannot open " + options_.shm_dir + ": " + std::strerror(errno));
  }
  if (!options_.mount_namespaces) {
    dirs.push_back({"", UniqueFd(own)});
    return dirs;
  }
  // The agent's own first, so that the host's /dev/shm carries the host's namespace; then
  // every other namespace whose /dev/shm is another directory (its own tmpfs), seen as its
  // processes see it (inside their root).
  std::set<std::pair<dev_t, ino_t>> seen;
  struct stat st {};
  fstat(own, &st);
  seen.emplace(st.st_dev, st.st_ino);
  const std::uint64_t own_ns = nsInode(options_.procfs + "/self/ns/mnt");
  dirs.push_back({std::to_string(own_ns), UniqueFd(own)});
  for (const auto& ns : options_.mount_namespaces()) {
    if (ns.inode == own_ns) {
      continue;
    }
    const RootedView view(options_.procfs + "/" + std::to_string(ns.pid) + "/root");
    const UniqueFd path = view.open(options_.shm_dir, /*follow=*/true);
    if (!path.valid() || fstat(path.get(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        !seen.emplace(st.st_dev, st.st_ino).second) {
      continue;  // gone, none, or the same directory as a namespace already read
    }
    const int fd = openat(path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      dirs.push_back({std::to_string(ns.inode), UniqueFd(fd)});
    }
  }
  return dirs;
}

void PosixIpcCollector::collectShm(std::vector<MetricFamily>& out) {
  FamilyBuilder files_family("ipc_posix_shm_files",
                             "POSIX shared memory objects (regular files in /dev/shm other than "
                             "named semaphores), per mount namespace with a /dev/shm of its own.",
                             MetricType::Gauge);
  FamilyBuilder bytes_family("ipc_posix_shm_bytes",
                             "Memory allocated to the POSIX shared memory objects in /dev/shm "
                             "(st_blocks x 512: written pages, not the apparent size).",
                             MetricType::Gauge);
  FamilyBuilder semaphores_family("ipc_posix_named_semaphores",
                                  "POSIX named semaphores (sem.* files in /dev/shm).",
                                  MetricType::Gauge);
  FamilyBuilder top("ipc_posix_shm_top_bytes",
                    "Memory allocated to each of the largest POSIX shared memory objects "
                    "(inventory.posix_shm_top_n, over every mount namespace), by file name in "
                    "/dev/shm.",
                    MetricType::Gauge);
  std::vector<NamedSize> objects;
  for (auto& dir : shmDirs()) {
    double files = 0, bytes = 0, semaphores = 0;
    forEachEntry(dir.fd.release(), options_.shm_dir, [&](int fd, const char* name) {
      struct stat st {};
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        return;  // removed meanwhile, or not an object (directories some programs create)
      }
      if (std::string_view(name).starts_with(kSemaphorePrefix)) {
        semaphores += 1;
        return;
      }
      // Allocated, not apparent, size: ftruncate makes a large sparse object that costs
      // nothing until written, and what fills tmpfs (and memory) is what was written.
      const auto allocated = static_cast<std::uint64_t>(st.st_blocks) * 512;
      files += 1;
      bytes += static_cast<double>(allocated);
      if (options_.shm_top_n > 0) {
        objects.push_back({dir.mntns, name, allocated});
      }
    });
    const LabelSet labels = dir.mntns.empty() ? LabelSet{} : LabelSet{{"mntns", dir.mntns}};
    files_family.set(labels, files);
    bytes_family.set(labels, bytes);
    semaphores_family.set(labels, semaphores);
  }
  keepLargest(objects, options_.shm_top_n);
  for (const auto& object : objects) {
    LabelSet labels = {{"name", sanitizeLabelValue(object.name)}};
    if (!object.ns.empty()) {
      labels.insert(labels.begin(), {"mntns", object.ns});
    }
    top.set(std::move(labels), static_cast<double>(object.bytes));
  }
  for (auto* family : {&files_family, &bytes_family, &semaphores_family, &top}) {
    push(out, *family);
  }
}

void PosixIpcCollector::readMqueueLimits(const IpcNamespaceView& ns, const std::string& ipcns,
                                         FamilyBuilder& limits) {
  const std::string sysctl_dir = ns.procfs + "/sys/fs/mqueue/";
  for (const char* resource : {"queues_max", "msg_max", "msgsize_max"}) {
    const auto text = readProcFile(sysctl_dir + resource);
    if (!text) {
      continue;
    }
    if (const auto value = parseSysctlUnsigned(*text)) {
      limits.set({{"ipcns", ipcns}, {"resource", resource}}, static_cast<double>(*value));
    } else {
      errors_.record(kCollector, sysctl_dir + resource, "expected one unsigned integer");
    }
  }
}

void PosixIpcCollector::collectMqueues(std::vector<MetricFamily>& out) {
  FamilyBuilder queues_family("ipc_posix_mqueues", "POSIX message queues.", MetricType::Gauge);
  FamilyBuilder bytes_family("ipc_posix_mqueue_bytes",
                             "Bytes waiting in all POSIX message queues (sum of QSIZE).",
                             MetricType::Gauge);
  FamilyBuilder limits("ipc_posix_mqueue_limit",
                       "POSIX message queue limits of the namespace from /proc/sys/fs/mqueue "
                       "(msgsize_max in bytes, the others are counts).",
                       MetricType::Gauge);
  std::vector<NamedSize> queues;
  visitor_->visit([&](const IpcNamespaceView& ns) {
    const std::string ipcns = std::to_string(ns.inode);
    if (ns.mqueue_limits) {
      limits.set({{"ipcns", ipcns}, {"resource", "queues_max"}}, ns.mqueue_limits->queues_max);
      limits.set({{"ipcns", ipcns}, {"resource", "msg_max"}}, ns.mqueue_limits->msg_max);
      limits.set({{"ipcns", ipcns}, {"resource", "msgsize_max"}}, ns.mqueue_limits->msgsize_max);
    } else {
      readMqueueLimits(ns, ipcns, limits);
    }
    const int dir_fd = ns.open_mqueue_dir();
    if (dir_fd < 0) {
      if (!mqueue_warned_) {
        spdlog::warn(
            "cannot mount the mqueue filesystem of IPC namespace {}: {}; POSIX message "
            "queues are not reported",
            ipcns, std::strerror(errno));
        mqueue_warned_ = true;
      }
      return;
    }
    double count = 0, bytes = 0;
    forEachEntry(dir_fd, "mqueue filesystem", [&](int fd, const char* name) {
      const auto text = readProcFileAt(fd, name);
      if (!text) {
        return;  // unlinked meanwhile
      }
      const auto qsize = parseMqueueQsize(*text);
      if (!qsize) {
        errors_.record(kCollector, std::string("mqueue/") + name, "no QSIZE field");
        return;
      }
      count += 1;
      bytes += static_cast<double>(*qsize);
      if (options_.mqueue_top_n > 0) {
        queues.push_back({ipcns, name, *qsize});
      }
    });
    queues_family.set({{"ipcns", ipcns}}, count);
    bytes_family.set({{"ipcns", ipcns}}, bytes);
  });
  FamilyBuilder top("ipc_posix_mqueue_top_bytes",
                    "Bytes waiting in each of the fullest POSIX message queues "
                    "(inventory.posix_mqueue_top_n across all namespaces), by queue name.",
                    MetricType::Gauge);
  keepLargest(queues, options_.mqueue_top_n);
  for (const auto& queue : queues) {
    top.set({{"ipcns", queue.ns}, {"name", sanitizeLabelValue(queue.name)}},
            static_cast<double>(queue.bytes));
  }
  for (auto* family : {&queues_family, &bytes_family, &top, &limits}) {
    push(out, *family);
  }
}

}  // namespace ipcwatch
