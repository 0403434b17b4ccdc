#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "endpoints/endpoint_checker.h"
#include "metrics/collector.h"

namespace ipcwatch {

// The configured `endpoints:`, checked from each client's point of view at every scrape:
// ipc_endpoint_up, ipc_endpoint_check_ok per check, ipc_endpoint_peers and the time each
// endpoint × client was last reachable. Every check of a scrape reads the same host snapshot
// (processes, FIFO holders, unix sockets), so the cost per endpoint × client is a few stats
// and one short-lived access helper thread. Labels come from the configuration, so they are
// bounded and need no caps.
class EndpointsCollector : public Collector {
 public:
  // `denials` (the selinux collector's store, when it runs) feed the selinux check.
  EndpointsCollector(const Config& config, const DenialStore* denials,
                     HostSnapshotSource& snapshots);
  std::string_view name() const override { return "endpoints"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  std::vector<EndpointConfig> endpoints_;
  EndpointChecker checker_;
  HostSnapshotSource& snapshots_;
  std::mutex mutex_;  // scrapes may overlap; the timestamps are shared
  std::map<std::pair<std::string, std::string>, double> last_ok_;
};

}  // namespace ipcwatch
