#include "collectors/workload_info_collector.h"

#include <array>
#include <map>
#include <utility>

#include "inventory/host_snapshot.h"
#include "inventory/workload.h"
#include "metrics/family.h"
#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

constexpr std::array<const char*, 4> kWorkloadLabels = {"unit", "container_id", "pod_namespace",
                                                        "pod"};
using WorkloadLabels = std::array<std::string, 4>;  // in kWorkloadLabels' order
// namespace inode -> workload -> processes
using Census = std::map<std::uint64_t, std::map<WorkloadLabels, int>>;

// The cap's value for (namespace, workload): every field, NUL-separated.
std::string capValue(std::uint64_t ns, const WorkloadLabels& workload) {
  std::string value = std::to_string(ns);
  for (const auto& field : workload) {
    value += '\0';
    value += field;
  }
  return value;
}

void addFamily(const char* name, const char* help, const char* ns_label, const Census& census,
               ScrapeLabelCap& cap, std::vector<MetricFamily>& out) {
  std::vector<std::pair<std::string, double>> candidates;
  for (const auto& [ns, workloads] : census) {
    for (const auto& [workload, processes] : workloads) {
      candidates.emplace_back(capValue(ns, workload), processes);
    }
  }
  const auto admitted = cap.admit(std::move(candidates));
  FamilyBuilder family(name, help, MetricType::Gauge);
  for (const auto& [ns, workloads] : census) {
    for (const auto& [workload, processes] : workloads) {
      const bool kept = admitted.contains(capValue(ns, workload));
      LabelSet labels = {{ns_label, std::to_string(ns)}};
      for (std::size_t i = 0; i < kWorkloadLabels.size(); ++i) {
        // An empty label is no label to Prometheus: left out, as on the failure metrics.
        if (!kept || !workload[i].empty()) {
          labels.emplace_back(kWorkloadLabels[i],
                              kept ? workload[i] : std::string(ScrapeLabelCap::kOther));
        }
      }
      std::sort(labels.begin(), labels.end());
      family.set(std::move(labels), 1);
    }
  }
  if (!family.empty()) {
    out.push_back(family.build());
  }
}

}  // namespace

WorkloadInfoCollector::WorkloadInfoCollector(HostSnapshotSource& snapshots,
                                             WorkloadResolver& resolver, LabelCaps& caps)
    : snapshots_(snapshots),
      resolver_(resolver),
      netns_cap_(caps.gaugeWorkload("ipc_netns_info")),
      ipcns_cap_(caps.gaugeWorkload("ipc_ipcns_info")),
      mntns_cap_(caps.gaugeWorkload("ipc_mntns_info")) {}

void WorkloadInfoCollector::collect(std::vector<MetricFamily>& out) {
  const auto snapshot = snapshots_.current();
  Census net;
  Census ipc;
  Census mnt;
  for (const ProcessFacts& process : snapshot->processes()) {
    if (process.net_ns == 0 && process.ipc_ns == 0) {
      continue;  // gone, or a kernel thread being torn down
    }
    WorkloadLabels labels;
    if (const auto path = cgroupPathIn(snapshot->cgroupOf(process.pid), resolver_.controller())) {
      const Workload workload = resolver_.resolvePath(*path);
      labels = {sanitizeLabelValue(workload.unit), sanitizeLabelValue(workload.container_id),
                sanitizeLabelValue(workload.pod_namespace), sanitizeLabelValue(workload.pod)};
    }
    if (process.net_ns != 0) {
      ++net[process.net_ns][labels];
    }
    if (process.ipc_ns != 0) {
      ++ipc[process.ipc_ns][labels];
    }
    if (process.mnt_ns != 0) {
      ++mnt[process.mnt_ns][labels];
    }
  }
  addFamily("ipc_netns_info",
            "A workload (systemd unit, container, pod) with processes in the network namespace: "
            "join on netns to name a namespace's workloads.",
            "netns", net, netns_cap_, out);
  addFamily("ipc_ipcns_info",
            "A workload (systemd unit, container, pod) with processes in the IPC namespace: join "
            "on ipcns to name a namespace's workloads.",
            "ipcns", ipc, ipcns_cap_, out);
  addFamily("ipc_mntns_info",
            "A workload (systemd unit, container, pod) with processes in the mount namespace: "
            "join on mntns to name the owner of a /dev/shm.",
            "mntns", mnt, mntns_cap_, out);
}

}  // namespace ipcwatch
