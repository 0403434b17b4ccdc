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

// A gauge with one series per file found in this scrape, {path} or {kind, path}, each 1. Its
// path label is capped per scrape: the first paths by name keep their series (the same ones
// from scrape to scrape while the files stay), the rest are counted in the "other" series.
class FileGauge {
 public:
  FileGauge(const char* name, const std::string& what, ScrapeLabelCap& cap)
      : name_(name),
        help_(what +
              "; 1 per file, and the path=\"other\" series counts the files past the "
              "label cap."),
        cap_(cap) {}

  void add(std::string path, std::string kind = "") {
    files_.emplace_back(std::move(path), std::move(kind));
  }

  void buildInto(std::vector<MetricFamily>& out) {
    if (files_.empty()) {
      return;
    }
    std::vector<std::pair<std::string, double>> candidates;
    candidates.reserve(files_.size());
    for (const auto& file : files_) {
      candidates.emplace_back(file.first, 0);  // no file matters more than another
    }
    const auto admitted = cap_.admit(std::move(candidates));
    FamilyBuilder family(name_, help_, MetricType::Gauge);
    for (auto& [path, kind] : files_) {
      LabelSet labels;
      if (!kind.empty()) {
        labels.emplace_back("kind", std::move(kind));
      }
      labels.emplace_back("path", admitted.label(path));
      family.add(std::move(labels), 1);
    }
    out.push_back(family.build());
  }

 private:
  std::string name_;
  std::string help_;
  ScrapeLabelCap& cap_;
  std::vector<std::pair<std::string, std::string>> files_;  // (path, kind)
};

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
      stale_cap_(caps.gaugePath(kStaleInfo)),
      fifo_cap_(caps.gaugePath(kFifoWithoutReader)),
      writable_cap_(caps.gaugePath(kWorldWritable)),
      unsafe_dir_cap_(caps.gaugePath(kUnsafeDir)) {}

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
  FamilyBuilder fifo_count("ipc_fifo_files", "FIFOs under a scanned directory.", MetricType::Gauge);
  FileGauge stale_info(kStaleInfo, "A stale socket file (bound by no socket)", stale_cap_);
  FileGauge no_reader(kFifoWithoutReader,
                      "A FIFO that no process has open for reading (writers block in open() or "
                      "get EPIPE)",
                      fifo_cap_);
  FileGauge writable(kWorldWritable,
                     "A FIFO or socket file that every user may write to (mode o+w) and that "
                     "users outside its owner and group can reach (no directory above it lets "
                     "only those through)",
                     writable_cap_);
  FileGauge unsafe_dir(kUnsafeDir,
                       "A FIFO or socket file in a directory that every user may write to "
                       "without the sticky bit (anyone can replace it)",
                       unsafe_dir_cap_);
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
        stale_info.add(path);
      }
    } else {
      fifo_count.add({{"dir", dir}}, 1);
      const auto it = holders.find(found.id);
      if (it == holders.end() || it->second.readers == 0) {
        no_reader.add(path);
      }
    }
    // o+w alone is not enough: behind a service's private directory no other user gets there.
    if ((found.mode & S_IWOTH) != 0 && found.reachable_by_others) {
      writable.add(path, kind);
    }
    if (found.in_unsafe_dir) {
      unsafe_dir.add(path, kind);
    }
  }
  for (auto* family : {&stale_count, &fifo_count}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
  for (auto* gauge : {&stale_info, &no_reader, &writable, &unsafe_dir}) {
    gauge->buildInto(out);
  }
}

}  // namespace ipcwatch
