#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "inventory/workload.h"
#include "metrics/label_cap.h"
#include "metrics/label_caps.h"
#include "metrics/metric_family.h"
#include "probes/probe.h"

namespace ipcwatch {

// The who-failed labels of one failure metric, as workload.labels chooses them: comm (capped by
// the probe that read it) and the workload of the failing task's cgroup. The workload's labels
// (unit, container_id, pod_uid, pod_namespace, pod) are capped together, as one value per
// metric, so a folded workload shows "other" in each label chosen and one cgroup is one series.
class IdentityLabels {
 public:
  // resolver may be null: no cgroup is recorded and the workload labels are empty.
  IdentityLabels(const WorkloadConfig& config, WorkloadResolver* resolver, LabelCap& workload_cap);

  // Appends the chosen labels for (comm, cgroup) to labels, then sorts labels by name.
  // kFoldedCgroup shows "other" in each workload label chosen.
  void append(LabelSet& labels, const std::string& comm, std::uint64_t cgroup);
  // The same without comm: for the families that always carry it (ipc_epipe_total...).
  void appendWorkload(LabelSet& labels, std::uint64_t cgroup);
  // Whether the workload of cgroup is past the cap (a probe's CgroupFolds). Thread-safe.
  bool folds(std::uint64_t cgroup);

 private:
  bool anyWorkload() const { return unit_ || container_id_ || pod_uid_ || pod_namespace_ || pod_; }
  // The chosen workload labels of cgroup, sanitized, and whether the cap folds them.
  std::pair<Workload, bool> admit(std::uint64_t cgroup);

  bool comm_ = false;
  bool unit_ = false;
  bool container_id_ = false;
  bool pod_uid_ = false;
  bool pod_namespace_ = false;
  bool pod_ = false;
  WorkloadResolver* resolver_;
  LabelCap& cap_;
};

// The who-failed labels of the failure metrics, made once at start-up: the probes ask them
// which cgroups fold (so that a folded cgroup's counts leave the kernel's maps) and the
// collectors label with them; both outlive a reload, which never changes workload.
struct FailureIdentities {
  FailureIdentities(const WorkloadConfig& config, WorkloadResolver* resolver, LabelCaps& caps);
  IdentityLabels unix_connect;
  IdentityLabels unix_bind;
  IdentityLabels fifo_blocked;
  IdentityLabels fifo_errors;
  // The broken-pipe families, which carry comm whatever workload.labels says.
  IdentityLabels epipe;
  IdentityLabels sigpipe;
  IdentityLabels sigpipe_deaths;
  IdentityLabels pipe_limits;
};

}  // namespace ipcwatch
