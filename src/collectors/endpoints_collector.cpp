#include "collectors/endpoints_collector.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "metrics/family.h"
#include "metrics/label_value.h"
#include "metrics/scrape_registry.h"

namespace ipcwatch {
namespace {

// Distinct serving processes named per endpoint and client: a FIFO held by a hundred workers of
// one service is one series; a hundred different programs are ten.
constexpr std::size_t kMaxServers = 10;

}  // namespace

EndpointsCollector::EndpointsCollector(const Config& config, const DenialStore* denials,
                                       HostSnapshotSource& snapshots, EndpointLastOk* last_ok)
    : endpoints_(config.endpoints),
      checker_(config.paths.procfs, config.paths.sysfs, denials),
      snapshots_(snapshots),
      last_ok_(last_ok != nullptr ? *last_ok : own_last_ok_) {}

void EndpointsCollector::collect(std::vector<MetricFamily>& out) {
  FamilyBuilder up("ipc_endpoint_up",
                   "1 when a configured endpoint passes every check from the client's point of "
                   "view (see ipcwatch diagnose --endpoint for the reason when 0).",
                   MetricType::Gauge);
  FamilyBuilder check_ok("ipc_endpoint_check_ok",
                         "1 when one check of an endpoint passes for a client (not-applicable "
                         "checks and warnings count as passing), 0 when it fails; absent when "
                         "an earlier failure kept it from being evaluated.",
                         MetricType::Gauge);
  FamilyBuilder peers("ipc_endpoint_peers",
                      "Processes holding a FIFO endpoint open in the serving direction, or "
                      "sockets serving a socket endpoint (as the first client sees it).",
                      MetricType::Gauge);
  FamilyBuilder last_ok("ipc_endpoint_last_ok_timestamp_seconds",
                        "When the endpoint last passed every check for the client (Unix time); "
                        "0 when it has not since the agent started.",
                        MetricType::Gauge);
  FamilyBuilder processes("ipc_endpoint_process_info",
                          "The processes on either side of an endpoint, always 1: role=\"server\" "
                          "for those serving it (holding a FIFO open in the serving direction), "
                          "role=\"client\" for the client process checked, with their comm and "
                          "systemd unit or container.",
                          MetricType::Gauge);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto snapshot = snapshots_.current();
  for (const auto& endpoint : endpoints_) {
    bool first = true;
    for (const auto& client : endpoint.clients) {
      if (scrapeAbandoned()) {
        return;  // the agent is stopping: a cut response, nothing from this collector
      }
      const EndpointReport report = checker_.check(endpoint, client, *snapshot);
      const LabelSet labels{{"client", client.name}, {"endpoint", endpoint.name}};
      up.set(labels, report.reachable ? 1 : 0);
      for (const auto& check : report.checks) {
        if (check.status == CheckStatus::kSkipped) {
          continue;
        }
        check_ok.set({{"check", check.name}, {"client", client.name}, {"endpoint", endpoint.name}},
                     check.status == CheckStatus::kFail ? 0 : 1);
      }
      last_ok.set(labels, last_ok_.update(endpoint.name, client.name, report.reachable, now));
      const auto process = [&](const char* role, const std::string& comm, const std::string& unit,
                               const std::string& container_id) {
        LabelSet labels = {{"client", client.name},
                           {"comm", sanitizeLabelValue(comm)},
                           {"endpoint", endpoint.name},
                           {"role", role}};
        if (!container_id.empty()) {
          labels.emplace_back("container_id", sanitizeLabelValue(container_id));
        }
        if (!unit.empty()) {
          labels.emplace_back("unit", sanitizeLabelValue(unit));
        }
        std::sort(labels.begin(), labels.end());
        processes.set(std::move(labels), 1);
      };
      if (report.identity.pid != 0) {
        process("client", report.identity.comm, report.identity.unit, report.identity.container_id);
      }
      // The servers as the client sees them, at most kMaxServers distinct ones per client.
      std::set<std::tuple<std::string, std::string, std::string>> servers;
      for (const auto& server : report.servers) {
        if (servers.size() == kMaxServers) {
          break;
        }
        if (servers.emplace(server.comm, server.unit, server.container_id).second) {
          process("server", server.comm, server.unit, server.container_id);
        }
      }
      if (first) {
        peers.set({{"endpoint", endpoint.name}}, report.peers);
        first = false;
      }
      if (!report.reachable) {
        spdlog::debug("endpoint {} unreachable for client {}", endpoint.name, client.name);
      }
    }
  }
  for (auto* family : {&up, &check_ok, &peers, &last_ok, &processes}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
