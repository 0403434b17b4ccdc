#pragma once

#include <string>

#include "collectors/identity_labels.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/unix_sock_probe.h"

namespace ipcwatch {

// ipc_unix_connect_errors_total and ipc_unix_bind_errors_total{path,errno,netns,netns_name}
// and who failed (comm, unit, container_id, pod_uid, pod_namespace, pod: workload.labels).
class UnixSockCollector : public Collector {
 public:
  UnixSockCollector(const UnixSockProbe& probe, FailureIdentities& identities);
  std::string_view name() const override { return "unix_sock"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const UnixSockProbe& probe_;
  IdentityLabels& connect_identity_;
  IdentityLabels& bind_identity_;
};

}  // namespace ipcwatch
