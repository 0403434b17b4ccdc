#include "agent.h"

#include <algorithm>
#include <csignal>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "collectors/collector_table.h"
#include "collectors/self_collector.h"

namespace ipcwatch {
namespace {

sigset_t agentSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

bool collectorEnabled(const Config& config, const CollectorSpec& spec) {
  const auto it = config.collectors.find(spec.name);
  return it == config.collectors.end() ? spec.enabled_by_default : it->second;
}

// Per-CPU hash maps preallocate entries x possible CPUs x 8 bytes, so the size follows the comm
// cap (room for a few kinds per admitted comm) but is bounded: at most ~16 MiB per map on a
// 128-CPU host. Events of comms that find the map full are counted under comm="other".
std::uint32_t counterMapEntries(std::uint32_t comm_cap) {
  constexpr std::uint32_t kMin = 1024;
  constexpr std::uint32_t kMax = 16384;
  return std::clamp<std::uint32_t>(comm_cap * 4, kMin, kMax);
}

}  // namespace

void blockAgentSignals() {
  const sigset_t set = agentSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Agent::Agent(const Config& config)
    : config_(config), caps_(config.labels.comm, config.labels.path, config.labels.folded_values_remembered) {
  const auto& probes = config_.probes;
  if (probes.broken_pipe.enabled || probes.sigpipe.enabled) {
    BrokenPipeProbeOptions options;
    options.epipe = probes.broken_pipe.enabled;
    options.syscalls = probes.broken_pipe.syscalls;
    options.sigpipe = probes.sigpipe.enabled;
    options.map_entries = counterMapEntries(config_.labels.comm);
    broken_pipe_ = std::make_unique<BrokenPipeProbe>(std::move(options));
  }

  CollectorDeps deps{broken_pipe_.get(), &caps_, &config_, &parse_errors_};
  for (const auto& spec : collectorTable()) {
    if (!collectorEnabled(config_, spec)) {
      spdlog::info("collector {} disabled by configuration", spec.name);
      continue;
    }
    if (auto collector = spec.factory(deps)) {
      registry_.add(std::move(collector));
    }
  }
  std::vector<const Probe*> probe_list;
  if (broken_pipe_) {
    probe_list.push_back(broken_pipe_.get());
  }
  registry_.add(
      std::make_unique<SelfCollector>(currentBuildInfo(), probe_list, caps_, &parse_errors_));

  const auto address = parseListenAddress(config_.web.listen_address);
  if (!address) {
    throw std::runtime_error("invalid listen address '" + config_.web.listen_address + "'");
  }
  http_ = std::make_unique<HttpServer>(*address, registry_);
  spdlog::info("serving metrics on {} (port {})", config_.web.listen_address, http_->port());
}

Agent::~Agent() = default;

void Agent::run() {
  const sigset_t set = agentSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      spdlog::warn("SIGHUP received: configuration reload is not supported yet; restart to "
                   "apply changes");
      continue;
    }
    spdlog::info("received {}, shutting down", strsignal(sig));
    return;
  }
}

}  // namespace ipcwatch
