#pragma once

#include <set>
#include <string>
#include <utility>

#include "config/config.h"
#include "inventory/endpoint_scan.h"
#include "inventory/host_snapshot.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"

namespace ipcwatch {

// FIFOs and socket files under the configured directories (`scan:`): stale socket files (bound
// by no socket in any network namespace), FIFOs no process reads, and endpoints that other
// users can reach and write to, or replace. Fails the scrape (ipcwatch_collector_success 0) rather
// than report a partial scan when the time budget runs out.
class IpcFilesCollector : public Collector {
 public:
  IpcFilesCollector(const Config& config, LabelCaps& caps, HostSnapshotSource& snapshots);
  std::string_view name() const override { return "ipc_files"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  // Files bound by some socket: (dev, low 32 bits of ino) from UNIX_DIAG_VFS, or, when only
  // /proc/net/unix is available, the bound paths.
  struct BoundSockets {
    std::set<std::pair<dev_t, std::uint32_t>> files;
    std::set<std::string> paths;
    bool by_path = false;
    bool isBound(const FoundEndpoint& socket) const;
  };

  static BoundSockets boundSockets(HostSnapshot& snapshot);
  void outOfTime(const std::string& stage);

  ScanConfig scan_;
  HostSnapshotSource& snapshots_;
  // Gauges: the path caps are applied per scrape.
  ScrapeLabelCap& stale_cap_;
  ScrapeLabelCap& fifo_cap_;
  ScrapeLabelCap& writable_cap_;
  ScrapeLabelCap& unsafe_dir_cap_;
  bool budget_warned_ = false;
};

}  // namespace ipcwatch
