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
// endpoint × client was last reachable. The cost is bounded by the configuration: one /proc
// fd scan per FIFO endpoint, the scrape's shared sock_diag dump, and one short-lived
// helper process per endpoint × client. Labels come from the configuration, so they are
// bounded and need no caps.
class EndpointsCollector : public Collector {
 public:
  // `denials` (the selinux collector's store, when it runs) feed the selinux check.
  // `inventory`: the scrape's shared unix socket inventory (the checker reads its own if null).
  EndpointsCollector(const Config& config, const DenialStore* denials,
                     SharedUnixSocketInventory* inventory);
  std::string_view name() const override { return "endpoints"; }
  void collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  std::vector<EndpointConfig> endpoints_;
  EndpointChecker checker_;
  std::mutex mutex_;  // scrapes may overlap; the timestamps are shared
  std::map<std::pair<std::string, std::string>, double> last_ok_;
};

}  // namespace ipcwatch
