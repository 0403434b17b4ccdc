#pragma once

#include <memory>
#include <vector>

#include "collectors/collector_state.h"
#include "config/config.h"
#include "endpoints/endpoint_checker.h"
#include "metrics/collector.h"
#include "metrics/family.h"

namespace ipcwatch {

// The configured `endpoints:`, checked from each client's point of view at every scrape:
// ipc_endpoint_up, ipc_endpoint_check_ok per check, ipc_endpoint_peers, who serves each
// endpoint, how often its file was replaced and the time each endpoint × client was last
// reachable. Every check of a scrape reads the same host snapshot
// (processes, FIFO holders, unix sockets), so the cost per endpoint × client is a few stats
// and one short-lived access helper thread. Labels come from the configuration, except the
// serving processes' pid and comm, which are capped per endpoint.
class EndpointsCollector : public Collector {
 public:
  // `denials` (the selinux collector's store, when it runs) feed the selinux check. `state`,
  // when given, outlives the collector, so that a reload forgets neither when each endpoint was
  // last reachable nor how often it was replaced; else the collector keeps its own.
  EndpointsCollector(const Config& config, const DenialStore* denials,
                     HostSnapshotSource& snapshots, CollectorState* state = nullptr);
  std::string_view name() const override { return "endpoints"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  static void peerInfo(const std::string& endpoint, const std::vector<PeerProcess>& servers,
                       FamilyBuilder& out);
  void noteReplacement(const EndpointConfig& endpoint, const EndpointReport& report);

  std::vector<EndpointConfig> endpoints_;
  EndpointChecker checker_;
  HostSnapshotSource& snapshots_;
  std::unique_ptr<CollectorState> own_state_;
  CollectorState& state_;
};

}  // namespace ipcwatch
