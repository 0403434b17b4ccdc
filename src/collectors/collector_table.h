#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector_state.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"

namespace ipcwatch {

class BrokenPipeProbe;
class DenialStore;
class FifoOpenProbe;
class UnixSockProbe;
class ParseErrors;
class HostSnapshotSource;
struct FailureIdentities;
class WorkloadResolver;
struct Config;

// What a collector factory may use. A probe pointer is null when its probe family is switched
// off in the configuration; collectors that read it are then not created.
struct CollectorDeps {
  const BrokenPipeProbe* broken_pipe = nullptr;
  const FifoOpenProbe* fifo_open = nullptr;
  const UnixSockProbe* unix_sock = nullptr;
  LabelCaps* caps = nullptr;
  const Config* config = nullptr;
  ParseErrors* parse_errors = nullptr;
  const DenialStore* selinux = nullptr;     // null when the selinux collector is switched off
  HostSnapshotSource* snapshots = nullptr;  // one host snapshot per scrape, shared by all
  // What outlives the collectors (a reload rebuilds them): counters and timestamps they keep.
  CollectorState* state = nullptr;
  // The who-failed labels of the failure metrics (workload.labels); set whenever a probe is.
  FailureIdentities* identities = nullptr;
  // cgroup -> unit, container, pod; null when workload.labels needs no cgroup.
  WorkloadResolver* workloads = nullptr;
};

// One row of the explicit collector table (no static self-registration).
struct CollectorSpec {
  std::string name;
  bool enabled_by_default;
  std::string help;
  // Returns null when the collector's inputs are switched off.
  std::function<std::unique_ptr<Collector>(const CollectorDeps&)> factory;
};

const std::vector<CollectorSpec>& collectorTable();
std::vector<std::string> collectorNames();
// Whether `config` switches the collector `name` on (explicitly or by the table's default).
bool collectorEnabled(const Config& config, const std::string& name);

}  // namespace ipcwatch
