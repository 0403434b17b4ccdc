#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "endpoints/endpoint_checker.h"

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

// What each configured endpoint's path was at the last scrape, and how often it changed while
// the same server kept running (ipc_endpoint_replaced_total). Thread-safe.
class EndpointFileHistory {
 public:
  struct Change {
    EndpointFile before;
    EndpointFile after;
  };
  // Records what the scrape saw at the endpoint's path (nullopt: nothing) and who served it (0:
  // no server found). Returns the change when the file differs from the last one seen while
  // the same server process ran throughout; a file that comes back after a gap counts too.
  std::optional<Change> update(const std::string& endpoint, const std::optional<EndpointFile>& file,
                               std::uint32_t server_pid) {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[endpoint];
    std::optional<Change> change;
    if (file && entry.file && *file != *entry.file && server_pid != 0 &&
        server_pid == entry.server_pid) {
      change = Change{*entry.file, *file};
      ++entry.replaced;
    }
    if (file) {
      entry.file = file;
    }
    entry.server_pid = server_pid;
    return change;
  }
  std::uint64_t replaced(const std::string& endpoint) {
    std::lock_guard lock(mutex_);
    return entries_[endpoint].replaced;
  }

 private:
  struct Entry {
    std::optional<EndpointFile> file;
    std::uint32_t server_pid = 0;
    std::uint64_t replaced = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// What collectors count or remember that must outlive them. A reload rebuilds every collector
// from the new configuration; a counter or a timestamp kept in a collector would start again
// from zero, so a counter would go backwards and "last ok" would forget. The agent owns one
// CollectorState for its whole life and hands it to every collector it builds (CollectorDeps).
// What only the kernel counts (the probes' maps) or the agent's own objects hold (label caps,
// parse errors, the denial store, reload status) outlives a reload already.
struct CollectorState {
  EndpointLastOk endpoint_last_ok;
  EndpointFileHistory endpoint_files;
  // ipcwatch_unix_socket_parse_errors_total, by source. Written by the unix_sockets collector
  // during scrapes, which the registry serialises.
  std::map<std::string, std::uint64_t> unix_socket_parse_errors{{"proc_net_unix", 0},
                                                                {"unix_diag", 0}};
};

}  // namespace ipcwatch
