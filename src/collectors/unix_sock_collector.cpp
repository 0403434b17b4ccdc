#include "collectors/unix_sock_collector.h"

#include <stdexcept>

#include "inventory/unix_socket_inventory.h"
#include "metrics/family.h"

namespace ipcwatch {

namespace {
constexpr const char* kConnectMetric = "ipc_unix_connect_errors_total";
constexpr const char* kBindMetric = "ipc_unix_bind_errors_total";
}  // namespace

UnixSockCollector::UnixSockCollector(const UnixSockProbe& probe, FailureIdentities& identities)
    : probe_(probe),
      connect_identity_(identities.unix_connect),
      bind_identity_(identities.unix_bind) {}

void UnixSockCollector::collect(std::vector<MetricFamily>& out) {
  if (!probe_.loaded()) {
    throw std::runtime_error("unix_sock BPF object is not loaded");
  }
  const auto netns_names = namedNetNamespaces();
  const UnixSockCounts counts = probe_.counts();
  auto add = [&](const std::map<UnixErrorLabels, std::uint64_t>& totals, IdentityLabels& identity,
                 FamilyBuilder& family) {
    for (const auto& [key, n] : totals) {
      const auto name = netns_names.find(key.netns);
      LabelSet labels = {{"errno", key.err},
                         {"netns", std::to_string(key.netns)},
                         {"netns_name", name == netns_names.end() ? "" : name->second},
                         {"path", key.path}};
      identity.append(labels, key.comm, key.cgroup);
      family.add(std::move(labels), static_cast<double>(n));
    }
  };
  FamilyBuilder connects(kConnectMetric,
                         "Failed connect() on AF_UNIX sockets by path (@name for abstract "
                         "sockets), errno, network namespace and who failed.",
                         MetricType::Counter);
  FamilyBuilder binds(kBindMetric,
                      "Failed bind() on AF_UNIX sockets by path (@name for abstract sockets), "
                      "errno, network namespace and who failed.",
                      MetricType::Counter);
  add(counts.connect, connect_identity_, connects);
  add(counts.bind, bind_identity_, binds);
  for (auto* family : {&connects, &binds}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
