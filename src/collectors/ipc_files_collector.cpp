#include "collectors/ipc_files_collector.h"

#include <linux/unix_diag.h>
#include <sys/stat.h>

#include <map>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "inventory/fifo_holders.h"
#include "metrics/family.h"
#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kStaleInfo = "ipc_unix_stale_socket_file_info";
constexpr const char* kFifoWithoutReader = "ipc_fifo_without_reader";
constexpr const char* kWorldWritable = "ipc_endpoint_world_writable";
constexpr const char* kUnsafeDir = "ipc_endpoint_in_unsafe_dir";

constexpr std::uint32_t kIno32 = 0xffffffffu;

}  // namespace

bool IpcFilesCollector::BoundSockets::isBound(const FoundEndpoint& socket) const {
  if (by_path) {
    return paths.count(socket.path) != 0;
  }
  return files.count({socket.id.dev, static_cast<std::uint32_t>(socket.id.ino & kIno32)}) != 0;
}

IpcFilesCollector::IpcFilesCollector(const Config& config, LabelCaps& caps,
                                     HostSnapshotSource& snapshots)
    : scan_(config.scan),
      snapshots_(snapshots),
      stale_cap_(caps.path(kStaleInfo)),
      fifo_cap_(caps.path(kFifoWithoutReader)),
      writable_cap_(caps.path(kWorldWritable)),
      unsafe_dir_cap_(caps.path(kUnsafeDir)) {}

void IpcFilesCollector::outOfTime(const std::string& stage) {
  const auto level = budget_warned_ ? spdlog::level::debug : spdlog::level::warn;
  spdlog::log(level,
              "ipc_files: the scan of {} ran out of its {} s budget; no results this scrape "
              "(raise scan.time_budget_seconds or lower scan.max_depth)",
              stage, scan_.time_budget_seconds);
  budget_warned_ = true;
  throw std::runtime_error("scan time budget exhausted during " + stage);
}

IpcFilesCollector::BoundSockets IpcFilesCollector::boundSockets(HostSnapshot& snapshot) {
  const UnixSocketInventory& inventory = snapshot.unixSockets();
  BoundSockets bound;
  bound.by_path = inventory.from_procfs;
  for (const auto& entry : inventory.namespaces) {
    if (!entry.ok && !entry.vanished) {
      // Sockets bound in that namespace would all look stale.
      throw std::runtime_error("cannot list the unix sockets of netns " +
                               std::to_string(entry.ns.inode) + ": " + entry.error);
    }
    for (const auto& socket : entry.sockets) {
      if (socket.has_vfs) {
        bound.files.insert({devFromKernel(socket.vfs_dev), socket.vfs_ino});
      }
      if (!socket.name.empty() && socket.name.front() == '/') {
        bound.paths.insert(socket.name);
      }
    }
  }
  return bound;
}

void IpcFilesCollector::collect(std::vector<MetricFamily>& out) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(scan_.time_budget_seconds));
  const auto scan = scanForEndpoints({scan_.directories, scan_.max_depth, deadline});
  if (scan.out_of_time) {
    outOfTime("the scan directories");
  }

  bool any_fifo = false;
  bool any_socket = false;
  for (const auto& found : scan.endpoints) {
    any_fifo = any_fifo || found.kind == EndpointKind::kFifo;
    any_socket = any_socket || found.kind == EndpointKind::kSocket;
  }
  const auto snapshot = snapshots_.current();
  static const std::map<FileId, FifoHolders> kNone;
  const auto& holders = any_fifo ? snapshot->fifoHolders() : kNone;
  const BoundSockets bound = any_socket ? boundSockets(*snapshot) : BoundSockets{};

  FamilyBuilder stale_count("ipc_unix_stale_socket_files",
                            "Socket files under a scanned directory that no socket in any network "
                            "namespace is bound to (clients get ECONNREFUSED).",
                            MetricType::Gauge);
  FamilyBuilder stale_info(kStaleInfo, "A stale socket file (bound by no socket); always 1.",
                           MetricType::Gauge);
  FamilyBuilder fifo_count("ipc_fifo_files", "FIFOs under a scanned directory.", MetricType::Gauge);
  FamilyBuilder no_reader(kFifoWithoutReader,
                          "A FIFO that no process has open for reading (writers block in open() "
                          "or get EPIPE); always 1.",
                          MetricType::Gauge);
  FamilyBuilder writable(kWorldWritable,
                         "A FIFO or socket file that every user may write to (mode o+w); "
                         "always 1.",
                         MetricType::Gauge);
  FamilyBuilder unsafe_dir(kUnsafeDir,
                           "A FIFO or socket file in a directory that every user may write to "
                           "without the sticky bit (anyone can replace it); always 1.",
                           MetricType::Gauge);
  for (const auto& root : scan.roots_scanned) {
    stale_count.set({{"dir", sanitizeLabelValue(root)}}, 0);
    fifo_count.set({{"dir", sanitizeLabelValue(root)}}, 0);
  }
  for (const auto& found : scan.endpoints) {
    const std::string dir = sanitizeLabelValue(found.root);
    const std::string path = sanitizeLabelValue(found.path);
    const std::string kind(endpointKindName(found.kind));
    if (found.kind == EndpointKind::kSocket) {
      if (!bound.isBound(found)) {
        stale_count.add({{"dir", dir}}, 1);
        stale_info.set({{"path", stale_cap_.admit(path)}}, 1);
      }
    } else {
      fifo_count.add({{"dir", dir}}, 1);
      const auto it = holders.find(found.id);
      if (it == holders.end() || it->second.readers == 0) {
        no_reader.set({{"path", fifo_cap_.admit(path)}}, 1);
      }
    }
    if ((found.mode & S_IWOTH) != 0) {
      writable.set({{"kind", kind}, {"path", writable_cap_.admit(path)}}, 1);
    }
    if (found.in_unsafe_dir) {
      unsafe_dir.set({{"kind", kind}, {"path", unsafe_dir_cap_.admit(path)}}, 1);
    }
  }
  for (auto* family :
       {&stale_count, &stale_info, &fifo_count, &no_reader, &writable, &unsafe_dir}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
