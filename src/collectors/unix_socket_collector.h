#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "inventory/host_snapshot.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"

namespace ipcwatch {

// The unix sockets of every network namespace: ipc_unix_sockets{netns,socket_type,state},
// the accept queues of listeners (ipc_unix_listen_queue{,_max}{path,netns}) and
// ipc_netns{netns,name}.
class UnixSocketCollector : public Collector {
 public:
  // `parse_errors` (source -> errors so far), when given, outlives the collector, so that a
  // reload does not start ipcwatch_unix_socket_parse_errors_total again; else the collector
  // keeps its own.
  UnixSocketCollector(HostSnapshotSource& snapshots, LabelCaps& caps,
                      std::map<std::string, std::uint64_t>* parse_errors = nullptr);
  std::string_view name() const override { return "unix_sockets"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  void countParseErrors(const UnixSocketInventory& inventory);
  struct Listener;
  void addListenQueues(const std::vector<Listener>& listeners, std::vector<MetricFamily>& out);

  HostSnapshotSource& snapshots_;
  ScrapeLabelCap& path_cap_;  // both queue gauges' path label, capped at each scrape
  std::map<std::string, std::uint64_t> own_parse_errors_{{"proc_net_unix", 0}, {"unix_diag", 0}};
  std::map<std::string, std::uint64_t>& parse_errors_;  // source -> errors so far
  bool parse_error_logged_ = false;
};

}  // namespace ipcwatch
