#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace ipcwatch {

// When each endpoint × client was last reachable (ipc_endpoint_last_ok_timestamp_seconds).
// Thread-safe.
class EndpointLastOk {
 public:
  // Records a check made at `now` (Unix time) and returns the value to export: `now` when the
  // endpoint was reachable, else the last time it was (0 when never since the agent started).
  double update(const std::string& endpoint, const std::string& client, bool reachable,
                double now) {
    std::lock_guard lock(mutex_);
    double& when = last_ok_[{endpoint, client}];
    if (reachable) {
      when = now;
    }
    return when;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, double> last_ok_;
};

// What collectors count or remember that must outlive them. A reload rebuilds every collector
// from the new configuration; a counter or a timestamp kept in a collector would start again
// from zero, so a counter would go backwards and "last ok" would forget. The agent owns one
// CollectorState for its whole life and hands it to every collector it builds (CollectorDeps).
// What only the kernel counts (the probes' maps) or the agent's own objects hold (label caps,
// parse errors, the denial store, reload status) outlives a reload already.
struct CollectorState {
  EndpointLastOk endpoint_last_ok;
  // ipcwatch_unix_socket_parse_errors_total, by source. Written by the unix_sockets collector
  // during scrapes, which the registry serialises.
  std::map<std::string, std::uint64_t> unix_socket_parse_errors{{"proc_net_unix", 0},
                                                                {"unix_diag", 0}};
};

}  // namespace ipcwatch
