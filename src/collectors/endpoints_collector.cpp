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
// Serving processes named by pid per endpoint (ipc_endpoint_peer_info): those that are not the
// configured server first, then the lowest pids.
constexpr std::size_t kMaxPeerPids = 10;

}  // namespace

EndpointsCollector::EndpointsCollector(const Config& config, const DenialStore* denials,
                                       HostSnapshotSource& snapshots, CollectorState* state)
    : endpoints_(config.endpoints),
      checker_(config.paths.procfs, config.paths.sysfs, denials),
      snapshots_(snapshots),
      own_state_(state == nullptr ? std::make_unique<CollectorState>() : nullptr),
      state_(state != nullptr ? *state : *own_state_) {}

void EndpointsCollector::peerInfo(const std::string& endpoint,
                                  const std::vector<PeerProcess>& servers, FamilyBuilder& out) {
  std::vector<const PeerProcess*> sorted;
  for (const auto& server : servers) {
    sorted.push_back(&server);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::tie(a->expected, a->pid) < std::tie(b->expected, b->pid);
  });
  if (sorted.size() > kMaxPeerPids) {
    sorted.resize(kMaxPeerPids);
  }
  for (const auto* server : sorted) {
    out.set({{"comm", sanitizeLabelValue(server->comm)},
             {"endpoint", endpoint},
             {"pid", std::to_string(server->pid)}},
            1);
  }
}

void EndpointsCollector::noteReplacement(const EndpointConfig& endpoint,
                                         const EndpointReport& report) {
  const auto change = state_.endpoint_files.update(endpoint.name, report.file, report.server_pid);
  if (change) {
    spdlog::warn(
        "endpoint {}: {} was replaced while its server (pid {}) kept running: inode {} -> {}, "
        "owner uid {} -> {}, mode {:04o} -> {:04o}",
        endpoint.name, endpoint.path, report.server_pid, change->before.ino, change->after.ino,
        change->before.uid, change->after.uid, change->before.mode & 07777,
        change->after.mode & 07777);
  }
}

void EndpointsCollector::collect(std::vector<MetricFamily>& out) {
  FamilyBuilder up("ipc_endpoint_up",
                   "1 when a configured endpoint passes every check from the client's point of "
                   "view but path_safe (see ipcwatch diagnose --endpoint for the reason when 0).",
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
  FamilyBuilder peer_info("ipc_endpoint_peer_info",
                          "The processes serving an endpoint (holding a FIFO open in the serving "
                          "direction, or its bound socket), always 1; at most 10 per endpoint, "
                          "those that are not the configured server first.",
                          MetricType::Gauge);
  FamilyBuilder replaced("ipc_endpoint_replaced_total",
                         "Times the file at an endpoint's path changed (device, inode, owner or "
                         "mode) while the same server process kept running: removed and "
                         "replaced under it.",
                         MetricType::Counter);
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
      last_ok.set(labels, state_.endpoint_last_ok.update(endpoint.name, client.name,
                                                         report.reachable, now));
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
        peerInfo(endpoint.name, report.servers, peer_info);
        if (endpoint.path.empty() || endpoint.path.front() != '@') {
          noteReplacement(endpoint, report);
          replaced.set({{"endpoint", endpoint.name}},
                       static_cast<double>(state_.endpoint_files.replaced(endpoint.name)));
        }
        first = false;
      }
      if (!report.reachable) {
        spdlog::debug("endpoint {} unreachable for client {}", endpoint.name, client.name);
      }
    }
  }
  for (auto* family : {&up, &check_ok, &peers, &last_ok, &processes, &peer_info, &replaced}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
