#pragma once

#include <string>

#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/unix_sock_probe.h"

struct ipcw_unix_err_key;

namespace ipcwatch {

// ipc_unix_connect_errors_total and ipc_unix_bind_errors_total{path,errno,netns,netns_name}.
class UnixSockCollector : public Collector {
 public:
  UnixSockCollector(const UnixSockProbe& probe, LabelCaps& caps);
  std::string_view name() const override { return "unix_sock"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const UnixSockProbe& probe_;
  LabelCap& connect_path_cap_;
  LabelCap& bind_path_cap_;
};

// The label of a socket address from the kernel key: the path, "@name" for an abstract name
// (bytes that are not printable UTF-8, NULs included, escaped), "" for an unnamed address.
std::string unixAddressLabel(const ipcw_unix_err_key& key);

}  // namespace ipcwatch
