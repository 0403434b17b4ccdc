#pragma once

#include <string>

#include "metrics/collector.h"
#include "metrics/label_caps.h"

namespace ipcwatch {

class HostSnapshotSource;
class WorkloadResolver;

// ipc_netns_info{netns,unit,container_id,pod_namespace,pod} and the same for ipcns: one series
// per namespace and workload living in it (the cgroups of its processes), so that a dashboard
// turns a namespace inode into a pod with `* on(netns) group_left(pod) ipc_netns_info`. Capped
// per scrape: the workloads with the most processes keep their names; the others of a
// namespace are one series with "other" in each workload label, so every namespace still joins.
class WorkloadInfoCollector : public Collector {
 public:
  WorkloadInfoCollector(HostSnapshotSource& snapshots, WorkloadResolver& resolver, LabelCaps& caps);
  std::string_view name() const override { return "workload_info"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  HostSnapshotSource& snapshots_;
  WorkloadResolver& resolver_;
  ScrapeLabelCap& netns_cap_;
  ScrapeLabelCap& ipcns_cap_;
  ScrapeLabelCap& mntns_cap_;
};

}  // namespace ipcwatch
