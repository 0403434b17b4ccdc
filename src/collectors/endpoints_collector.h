#pragma once

#include <vector>

#include "collectors/collector_state.h"
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
  // `denials` (the selinux collector's store, when it runs) feed the selinux check. `last_ok`,
  // when given, outlives the collector, so that a reload does not forget when each endpoint was
  // last reachable; else the collector keeps its own.
  EndpointsCollector(const Config& config, const DenialStore* denials,
                     HostSnapshotSource& snapshots, EndpointLastOk* last_ok = nullptr);
  std::string_view name() const override { return "endpoints"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  std::vector<EndpointConfig> endpoints_;
  EndpointChecker checker_;
  HostSnapshotSource& snapshots_;
  EndpointLastOk own_last_ok_;
  EndpointLastOk& last_ok_;
};

}  // namespace ipcwatch
