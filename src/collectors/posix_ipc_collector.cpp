#include "collectors/posix_ipc_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

#include "inventory/parsers/ipc_parsers.h"
#include "inventory/proc_file.h"
#include "metrics/family.h"
#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

constexpr const char* kCollector = "posix_ipc";
constexpr std::string_view kSemaphorePrefix = "sem.";  // glibc's sem_open names in /dev/shm

struct NamedSize {
  std::string ipcns;  // empty for /dev/shm
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
                      return a.bytes != b.bytes
                                 ? a.bytes > b.bytes
                                 : std::tie(a.ipcns, a.name) < std::tie(b.ipcns, b.name);
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

void PosixIpcCollector::collectShm(std::vector<MetricFamily>& out) {
  const int dir_fd = open(options_.shm_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    throw std::runtime_error("cannot open " + options_.shm_dir + ": " + std::strerror(errno));
  }
  double files = 0, bytes = 0, semaphores = 0;
  std::vector<NamedSize> objects;
  forEachEntry(dir_fd, options_.shm_dir, [&](int fd, const char* name) {
    struct stat st {};
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      return;  // removed meanwhile, or not an object (directories some programs create)
    }
    if (std::string_view(name).starts_with(kSemaphorePrefix)) {
      semaphores += 1;
      return;
    }
    // Allocated, not apparent, size: ftruncate makes a large sparse object that costs nothing
    // until written, and what fills tmpfs (and memory) is what was written.
    const auto allocated = static_cast<std::uint64_t>(st.st_blocks) * 512;
    files += 1;
    bytes += static_cast<double>(allocated);
    if (options_.shm_top_n > 0) {
      objects.push_back({"", name, allocated});
    }
  });
  FamilyBuilder files_family("ipc_posix_shm_files",
                             "POSIX shared memory objects (regular files in /dev/shm other than "
                             "named semaphores).",
                             MetricType::Gauge);
  files_family.set({}, files);
  FamilyBuilder bytes_family("ipc_posix_shm_bytes",
                             "Memory allocated to the POSIX shared memory objects in /dev/shm "
                             "(st_blocks x 512: written pages, not the apparent size).",
                             MetricType::Gauge);
  bytes_family.set({}, bytes);
  FamilyBuilder semaphores_family("ipc_posix_named_semaphores",
                                  "POSIX named semaphores (sem.* files in /dev/shm).",
                                  MetricType::Gauge);
  semaphores_family.set({}, semaphores);
  FamilyBuilder top("ipc_posix_shm_top_bytes",
                    "Memory allocated to each of the largest POSIX shared memory objects "
                    "(inventory.posix_shm_top_n), by file name in /dev/shm.",
                    MetricType::Gauge);
  keepLargest(objects, options_.shm_top_n);
  for (const auto& object : objects) {
    top.set({{"name", sanitizeLabelValue(object.name)}}, static_cast<double>(object.bytes));
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
    top.set({{"ipcns", queue.ipcns}, {"name", sanitizeLabelValue(queue.name)}},
            static_cast<double>(queue.bytes));
  }
  for (auto* family : {&queues_family, &bytes_family, &top, &limits}) {
    push(out, *family);
  }
}

}  // namespace ipcwatch
