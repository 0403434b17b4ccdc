#include "collectors/unix_sock_collector.h"

#include <linux/types.h>

#include <stdexcept>

#include "inventory/unix_socket_inventory.h"
#include "ipcwatch/bpf/unix_sock.h"
#include "metrics/family.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "probes/proc_paths.h"

namespace ipcwatch {

std::string unixAddressLabel(const ipcw_unix_err_key& key) {
  if (key.name_len > 0) {
    const std::size_t len = std::min<std::size_t>(key.name_len, sizeof(key.path) - 1);
    return "@" + sanitizeLabelValue(std::string_view(key.path + 1, len));
  }
  return sanitizeLabelValue(fromKernelString(key.path, sizeof(key.path)));
}

UnixSockCollector::UnixSockCollector(const UnixSockProbe& probe, LabelCaps& caps)
    : probe_(probe),
      connect_path_cap_(caps.path("ipc_unix_connect_errors_total")),
      bind_path_cap_(caps.path("ipc_unix_bind_errors_total")) {}

void UnixSockCollector::collect(std::vector<MetricFamily>& out) {
  if (!probe_.loaded()) {
    throw std::runtime_error("unix_sock BPF object is not loaded");
  }
  const auto netns_names = namedNetNamespaces();
  auto read = [&](int fd, LabelCap& cap, FamilyBuilder& family) {
    forEachPerCpuCounter<ipcw_unix_err_key>(fd, [&](const ipcw_unix_err_key& key, std::uint64_t n) {
      const auto name = netns_names.find(key.netns);
      family.add({{"errno", errnoName(key.err)},
                  {"netns", std::to_string(key.netns)},
                  {"netns_name", name == netns_names.end() ? "" : name->second},
                  {"path", cap.admit(unixAddressLabel(key))}},
                 static_cast<double>(n));
    });
  };
  FamilyBuilder connects("ipc_unix_connect_errors_total",
                         "Failed connect() on AF_UNIX sockets by path (@name for abstract "
                         "sockets), errno and network namespace.",
                         MetricType::Counter);
  FamilyBuilder binds("ipc_unix_bind_errors_total",
                      "Failed bind() on AF_UNIX sockets by path (@name for abstract sockets), "
                      "errno and network namespace.",
                      MetricType::Counter);
  read(probe_.connectErrorsFd(), connect_path_cap_, connects);
  read(probe_.bindErrorsFd(), bind_path_cap_, binds);
  for (auto* family : {&connects, &binds}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
