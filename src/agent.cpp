#include "agent.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "audit/denials_page.h"
#include "collectors/collector_table.h"
#include "collectors/self_collector.h"
#include "http/http_server.h"
#include "inventory/cgroup_hierarchy.h"
#include "log/logging.h"
#include "reload_plan.h"
#include "util/privileges.h"

namespace ipcwatch {
namespace {

sigset_t agentSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);  // the web process has exited
  return set;
}

// Per-CPU hash maps preallocate entries x possible CPUs x 8 bytes, so the size follows the
// label cap (room for a few kinds or errnos per admitted value) but is bounded: at most ~16 MiB
// per map on a 128-CPU host. What finds a map full is still counted (as "other" or as lost).
std::uint32_t counterMapEntries(std::uint32_t label_cap) {
  constexpr std::uint32_t kMin = 1024;
  constexpr std::uint32_t kMax = 16384;
  return std::clamp<std::uint32_t>(label_cap * 4, kMin, kMax);
}

// How long a stop waits for a scrape in progress to leave the collector it is in, once told to
// give up. What is left of the second a stop may take goes to detaching the probes (~0.6 s).
constexpr std::chrono::milliseconds kScrapeStopGrace{100};

// For the web process to bind and load its TLS context.
constexpr std::chrono::milliseconds kWebStartDeadline{30000};

// The kernel side's name for the hierarchy whose cgroups it records (bpf/ipcw_identity.bpf.h).
int cgroupSource(const CgroupHierarchy& hierarchy) {
  if (hierarchy.unified()) {
    return -1;  // IPCW_CGROUP_UNIFIED
  }
  static const std::map<std::string, int> kControllers = {{"pids", 0}, {"memory", 1}, {"cpu", 2}};
  const auto it = kControllers.find(hierarchy.controller);
  return it == kControllers.end() ? kNoCgroup : it->second;
}

}  // namespace

void blockAgentSignals() {
  const sigset_t set = agentSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Agent::Agent(const Config& config, ConfigLoader loader)
    : loader_(std::move(loader)),
      config_(std::make_shared<const Config>(config)),
      caps_(config.labels.comm, config.labels.path, config.labels.folded_values_remembered,
            config.labels.workload) {
  // First, while the agent is one thread holding every privilege: the web process forks from
  // it, binds the port and loads the TLS context, then drops to nothing before it serves.
  const auto address = parseListenAddress(config_->web.listen_address);
  if (!address) {
    throw std::runtime_error("invalid listen address '" + config_->web.listen_address + "'");
  }
  WebProcessOptions web;
  web.address = *address;
  web.address_text = config_->web.listen_address;
  web.web_config_file = config_->web.config_file;
  web.limits.connection.max_connections = config_->web.max_connections;
  web.denials_page = collectorEnabled(*config_, "selinux");
  web.user = config_->web.user;
  web_ = WebProcess::start(web, kWebStartDeadline);

  startProbes();
  startAuditSources();
  snapshots_ = openHostSnapshots(config_->paths.procfs);
  spdlog::info("host inventory: processes and open FIFOs from {}",
               snapshots_->factsBackend() == "bpf_iter"
                   ? "BPF task iterators (" + snapshots_->factsDetail() + ")"
                   : "a walk of " + config_->paths.procfs);
  registry_.setScrapeScope([snapshots = snapshots_.get()] { return snapshots->beginScrape(); });
  registry_.replace(buildCollectors(*config_), config_);

  // Everything else that needs more is done: programs loaded and attached, audit sockets bound.
  // Reload never redoes these (see reloadableConfig). The request thread is created after the
  // drop, so it inherits the reduced set.
  if (const std::string error = dropCapabilities(keptCapabilities()); !error.empty()) {
    throw std::runtime_error("cannot drop capabilities: " + error);
  }
  spdlog::info("capabilities reduced to {}", currentCapabilities());
  WebPages pages;
  pages.metrics = [this] {
    std::string body = renderMetrics(registry_);
    if (registry_.stopped()) {
      // Possibly cut short: served as a failure, never as a whole scrape that lacks series.
      throw std::runtime_error("the agent is stopping; the scrape was abandoned");
    }
    return body;
  };
  if (selinux_store_) {
    pages.denials = [store = selinux_store_.get()] { return renderDenialsPage(store->recent()); };
  }
  web_requests_ = std::make_unique<WebRequestServer>(web_->channel(), std::move(pages));
  web_->serve();
}

std::vector<std::unique_ptr<Collector>> Agent::buildCollectors(const Config& config) {
  std::vector<std::unique_ptr<Collector>> collectors;
  CollectorDeps deps{broken_pipe_.get(),
                     fifo_open_.get(),
                     unix_sock_.get(),
                     &caps_,
                     &config,
                     &parse_errors_,
                     selinux_store_.get(),
                     snapshots_.get(),
                     &collector_state_,
                     identities_.get(),
                     workloads_.get()};
  for (const auto& spec : collectorTable()) {
    if (!collectorEnabled(config, spec.name)) {
      spdlog::info("collector {} disabled by configuration", spec.name);
      continue;
    }
    if (auto collector = spec.factory(deps)) {
      collectors.push_back(std::move(collector));
    }
  }
  collectors.push_back(std::make_unique<ConfigReloadCollector>(reload_status_));
  std::vector<const Probe*> probe_list;
  for (const Probe* probe : std::initializer_list<const Probe*>{
           broken_pipe_.get(), fifo_open_.get(), unix_sock_.get(), selinux_avc_.get()}) {
    if (probe != nullptr) {
      probe_list.push_back(probe);
    }
  }
  // Last, so that the overflow and parse error counts include the other collectors' scrape.
  collectors.push_back(std::make_unique<SelfCollector>(currentBuildInfo(), probe_list, caps_,
                                                       &parse_errors_,
                                                       std::string(snapshots_->factsBackend())));
  return collectors;
}

bool Agent::reload() {
  Config loaded;
  try {
    loaded = loader_();
  } catch (const std::exception& e) {
    reload_status_.recordFailure();
    spdlog::error("reload: configuration rejected, the running one stays: {}", e.what());
    return false;
  }
  std::vector<std::string> not_applied;
  std::shared_ptr<const Config> next =
      std::make_shared<const Config>(reloadableConfig(*config_, std::move(loaded), not_applied));
  for (const auto& line : not_applied) {
    spdlog::warn("reload: {}", line);
  }
  std::vector<std::unique_ptr<Collector>> collectors;
  try {
    collectors = buildCollectors(*next);
  } catch (const std::exception& e) {
    reload_status_.recordFailure();
    spdlog::error("reload: configuration rejected, the running one stays: {}", e.what());
    return false;
  }
  reconfigureLogging(parseLogLevel(next->log.level).value_or(spdlog::level::info),
                     next->log.format == LogFormat::kJson);
  // A scrape in progress finishes with the old collectors, which keep the old configuration
  // they reference alive until it is done; the reload does not wait for it.
  registry_.replace(std::move(collectors), next);
  config_ = std::move(next);
  reload_status_.recordSuccess();
  spdlog::info("reload: configuration from {} applied", config_->source);
  return true;
}

Agent::~Agent() = default;

void Agent::detachProbes() {
  // A collector still running after the grace (stuck in the kernel, or slow) may yet read a
  // probe's maps: the probes are then only detached, their maps kept for it until the process
  // exits. Otherwise each probe is destroyed, which detaches it.
  const bool idle = registry_.stop(kScrapeStopGrace);
  if (!idle) {
    spdlog::warn("stop: detaching the probes and keeping their maps for that scrape");
  }
  std::vector<std::thread> stoppers;
  const auto stop = [&stoppers, idle](auto& probe) {
    if (!probe) {
      return;
    }
    if (idle) {
      stoppers.emplace_back([owned = std::move(probe)]() mutable { owned.reset(); });
    } else {
      stoppers.emplace_back([kept = probe.get()] { kept->detach(); });
    }
  };
  stop(broken_pipe_);
  stop(fifo_open_);
  stop(unix_sock_);
  stop(selinux_avc_);
  for (auto& stopper : stoppers) {
    stopper.join();
  }
}

// Only the probe families the configuration enables are created, so only their programs load
// and attach.
void Agent::startProbes() {
  const auto& probes = config_->probes;
  // Whose cgroup the kernel records with each failure, fixed for the life of the programs.
  int cgroup_source = kNoCgroup;
  if (const auto& workload = config_->workload; workload.wantsCgroup()) {
    std::string why;
    const auto hierarchy = detectCgroupHierarchy("/proc", workload.cgroup_hierarchy, &why);
    if (hierarchy) {
      const std::string root = hostCgroupMount(hierarchy->root, workload.cgroup_root);
      workloads_ =
          std::make_unique<WorkloadResolver>(root, workload.pod_logs, hierarchy->controller);
      cgroup_source = cgroupSource(*hierarchy);
      spdlog::info("workload labels: the failing task's cgroup in the {}{}; pods from {}",
                   hierarchy->describe(), root == hierarchy->root ? "" : ", read at " + root,
                   workload.pod_logs);
    } else {
      spdlog::warn("workload labels: {}; unit, container and pod labels stay empty", why);
    }
  }
  identities_ = std::make_unique<FailureIdentities>(config_->workload, workloads_.get(), caps_);
  const bool record_comm = config_->workload.wants("comm");
  if (probes.broken_pipe.enabled || probes.sigpipe.enabled || probes.pipe_limits.enabled) {
    BrokenPipeProbeOptions options;
    options.epipe = probes.broken_pipe.enabled;
    options.syscalls = probes.broken_pipe.syscalls;
    options.syscall_tracepoints = probes.syscall_tracepoints;
    options.sigpipe = probes.sigpipe.enabled;
    options.pipe_limits = probes.pipe_limits.enabled;
    options.map_entries = counterMapEntries(config_->labels.comm);
    options.cgroup_source = cgroup_source;
    broken_pipe_ = std::make_unique<BrokenPipeProbe>(std::move(options));
  }
  if (probes.fifo_open.enabled) {
    FifoOpenProbeOptions options;
    options.syscalls = probes.fifo_open.syscalls;
    options.syscall_tracepoints = probes.syscall_tracepoints;
    options.blocked_threshold_ns =
        static_cast<std::uint64_t>(probes.fifo_open.blocked_threshold_seconds * 1e9);
    options.watch_paths = config_->watch_paths;
    options.procfs = config_->paths.procfs;
    options.count_entries = counterMapEntries(config_->labels.path);
    options.record_comm = record_comm;
    options.cgroup_source = cgroup_source;
    options.blocked_cgroup_folds = [ids = identities_.get()](std::uint64_t cgroup) {
      return ids->fifo_blocked.folds(cgroup);
    };
    options.error_cgroup_folds = [ids = identities_.get()](std::uint64_t cgroup) {
      return ids->fifo_errors.folds(cgroup);
    };
    fifo_open_ = std::make_unique<FifoOpenProbe>(std::move(options), caps_);
  }
  if (probes.unix_sock.enabled) {
    UnixSockProbeOptions options;
    options.syscalls = probes.unix_sock.syscalls;
    options.syscall_tracepoints = probes.syscall_tracepoints;
    options.map_entries = counterMapEntries(config_->labels.path);
    options.record_comm = record_comm;
    options.cgroup_source = cgroup_source;
    options.connect_cgroup_folds = [ids = identities_.get()](std::uint64_t cgroup) {
      return ids->unix_connect.folds(cgroup);
    };
    options.bind_cgroup_folds = [ids = identities_.get()](std::uint64_t cgroup) {
      return ids->unix_bind.folds(cgroup);
    };
    unix_sock_ = std::make_unique<UnixSockProbe>(std::move(options), caps_);
  }
}

// The denial pipeline runs only while its collector is on. A source that cannot start (no
// CAP_AUDIT_READ, no audit.log, no avc tracepoint) is logged and left out; the others keep
// counting. The tracepoint starts last, so that it knows which audit sources it defers to.
void Agent::startAuditSources() {
  const auto it = config_->collectors.find("selinux");
  if (it != config_->collectors.end() && !it->second) {
    return;
  }
  selinux_store_ = std::make_unique<DenialStore>(caps_, config_->selinux.recent_denials);
  for (const auto& source : config_->selinux.sources) {
    if (source == DenialStore::kTracepointSource) {
      continue;
    }
    try {
      if (source == AuditNetlinkSource::kName) {
        audit_netlink_ = std::make_unique<AuditNetlinkSource>(*selinux_store_);
      } else if (source == AuditLogTail::kName) {
        audit_log_ = std::make_unique<AuditLogTail>(*selinux_store_, config_->selinux.audit_log);
      }
      spdlog::info("selinux: reading audit records from {}", source);
    } catch (const std::exception& e) {
      spdlog::warn("selinux: audit source {} unavailable: {}", source, e.what());
    }
  }
  const auto& sources = config_->selinux.sources;
  if (std::find(sources.begin(), sources.end(), DenialStore::kTracepointSource) != sources.end()) {
    // A program that cannot attach is logged by the probe and reported by probe_attached.
    selinux_avc_ = std::make_unique<SelinuxAvcProbe>(*selinux_store_);
    if (selinux_avc_->attached()) {
      spdlog::info("selinux: reading AVC denials from the avc:selinux_audited tracepoint");
    }
  }
}

int Agent::run() {
  const sigset_t set = agentSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGCHLD) {
      if (const auto how = web_->reapIfExited()) {
        spdlog::critical("the web process {} {}: nothing serves HTTP any more, stopping",
                         web_->pid(), *how);
        return 1;
      }
      continue;
    }
    if (sig == SIGHUP) {
      spdlog::info("received SIGHUP, reloading the configuration");
      reload();
      continue;
    }
    spdlog::info("received {}, shutting down", strsignal(sig));
    return 0;
  }
}

}  // namespace ipcwatch
