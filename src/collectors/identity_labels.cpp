#include "collectors/identity_labels.h"

#include <algorithm>

#include "metrics/label_value.h"

namespace ipcwatch {

IdentityLabels::IdentityLabels(const WorkloadConfig& config, WorkloadResolver* resolver,
                               LabelCap& workload_cap)
    : comm_(config.wants("comm")),
      unit_(config.wants("unit")),
      container_id_(config.wants("container_id")),
      pod_uid_(config.wants("pod_uid")),
      pod_namespace_(config.wants("pod_namespace")),
      pod_(config.wants("pod")),
      resolver_(resolver),
      cap_(workload_cap) {}

std::pair<Workload, bool> IdentityLabels::admit(std::uint64_t cgroup) {
  Workload workload;
  if (cgroup == kFoldedCgroup) {
    return {workload, true};
  }
  if (resolver_ != nullptr && cgroup != 0) {
    workload = resolver_->resolve(cgroup);
  }
  // Only the chosen labels make the capped value: two cgroups that differ in a label not shown
  // are one series.
  std::string key;
  for (const auto& [chosen, value] :
       {std::pair{unit_, &workload.unit}, std::pair{container_id_, &workload.container_id},
        std::pair{pod_uid_, &workload.pod_uid}, std::pair{pod_namespace_, &workload.pod_namespace},
        std::pair{pod_, &workload.pod}}) {
    *value = chosen ? sanitizeLabelValue(*value) : std::string();
    key += *value;
    key += '\0';
  }
  return {workload, cap_.admit(key) == LabelCap::kOther};
}

bool IdentityLabels::folds(std::uint64_t cgroup) {
  return anyWorkload() && admit(cgroup).second;
}

void IdentityLabels::append(LabelSet& labels, const std::string& comm, std::uint64_t cgroup) {
  if (comm_) {
    labels.emplace_back("comm", comm);
  }
  appendWorkload(labels, cgroup);
}

void IdentityLabels::appendWorkload(LabelSet& labels, std::uint64_t cgroup) {
  if (anyWorkload()) {
    const auto [workload, folded] = admit(cgroup);
    // An empty label is no label to Prometheus: a process outside any unit or container shows
    // none of them rather than five empty ones.
    const auto add = [&, folded = folded](bool chosen, const char* name, const std::string& value) {
      if (chosen && (folded || !value.empty())) {
        labels.emplace_back(name, folded ? std::string(LabelCap::kOther) : value);
      }
    };
    add(unit_, "unit", workload.unit);
    add(container_id_, "container_id", workload.container_id);
    add(pod_uid_, "pod_uid", workload.pod_uid);
    add(pod_namespace_, "pod_namespace", workload.pod_namespace);
    add(pod_, "pod", workload.pod);
  }
  std::sort(labels.begin(), labels.end());
}

FailureIdentities::FailureIdentities(const WorkloadConfig& config, WorkloadResolver* resolver,
                                     LabelCaps& caps)
    : unix_connect(config, resolver, caps.workload("ipc_unix_connect_errors_total")),
      unix_bind(config, resolver, caps.workload("ipc_unix_bind_errors_total")),
      fifo_blocked(config, resolver, caps.workload("ipc_fifo_open_blocked_total")),
      fifo_errors(config, resolver, caps.workload("ipc_fifo_open_errors_total")),
      epipe(config, resolver, caps.workload("ipc_epipe_total")),
      sigpipe(config, resolver, caps.workload("ipc_sigpipe_total")),
      sigpipe_deaths(config, resolver, caps.workload("ipc_sigpipe_deaths_total")),
      pipe_limits(config, resolver, caps.workload("ipc_pipe_limit_events_total")) {}

}  // namespace ipcwatch
