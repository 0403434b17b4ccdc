#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "audit/audit_log_tail.h"
#include "audit/audit_netlink_source.h"
#include "audit/denial_store.h"
#include "collectors/collector_state.h"
#include "collectors/config_reload_collector.h"
#include "collectors/identity_labels.h"
#include "config/config.h"
#include "inventory/host_snapshot.h"
#include "inventory/workload.h"
#include "metrics/label_caps.h"
#include "metrics/parse_errors.h"
#include "metrics/scrape_registry.h"
#include "privsep/web_process.h"
#include "probes/broken_pipe_probe.h"
#include "probes/fifo_open_probe.h"
#include "probes/selinux_avc_probe.h"
#include "probes/unix_sock_probe.h"

namespace ipcwatch {

// Reads the configuration again (file plus command-line overrides); throws ConfigError.
using ConfigLoader = std::function<Config()>;

// The running agent: probes, collectors and the HTTP endpoint built from one Config.
// Members are declared in start-up order, so teardown stops answering the web process first,
// then drops the collectors, detaches the probes and finally kills the web process.
class Agent {
 public:
  Agent(const Config& config, ConfigLoader loader);
  ~Agent();

  int port() const { return web_->port(); }
  // Blocks until SIGTERM or SIGINT (returns 0) or until the web process exits (returns 1, the
  // agent's exit status: nothing would serve its metrics); reloads on SIGHUP. The caller must
  // have blocked these signals (blockAgentSignals) in every thread.
  int run();
  // Loads the configuration again and applies what can change at run time (see
  // reloadableConfig); probes whose settings did not change keep their kernel counters. An
  // invalid configuration is rejected and the running one stays. Returns whether it applied.
  bool reload();
  // For a stop by signal: a scrape in progress is abandoned and no scrape can reach the probes
  // any more, then every probe detaches at once. Closing a tracepoint link waits for an RCU
  // grace period under the kernel's event_mutex; closing all 14 links from their own threads
  // lets that work overlap. When a scrape is still inside a collector after a short grace
  // (stuck in the kernel), the probes are only detached and their maps kept for it: the caller
  // must then exit without destroying the Agent.
  void detachProbes();

 private:
  void startProbes();
  void startAuditSources();
  std::vector<std::unique_ptr<Collector>> buildCollectors(const Config& config);

  // The process that serves HTTP: started first, gone last.
  std::unique_ptr<WebProcess> web_;
  ConfigLoader loader_;
  // The running configuration. Collectors keep references into it: the registry holds it with
  // the collectors built from it, for as long as a scrape may use them.
  std::shared_ptr<const Config> config_;
  ReloadStatus reload_status_;
  // What the collectors count and remember across a reload, which rebuilds them all.
  CollectorState collector_state_;
  LabelCaps caps_;
  ParseErrors parse_errors_;
  // cgroup id -> unit, container, pod for the failure metrics; null when no cgroup is recorded.
  std::unique_ptr<WorkloadResolver> workloads_;
  std::unique_ptr<FailureIdentities> identities_;
  std::unique_ptr<BrokenPipeProbe> broken_pipe_;
  std::unique_ptr<FifoOpenProbe> fifo_open_;
  std::unique_ptr<UnixSockProbe> unix_sock_;
  // The sources feed the store from their threads: they are declared after it, so they stop
  // before it goes away.
  std::unique_ptr<DenialStore> selinux_store_;
  std::unique_ptr<AuditNetlinkSource> audit_netlink_;
  std::unique_ptr<AuditLogTail> audit_log_;
  std::unique_ptr<SelinuxAvcProbe> selinux_avc_;
  // One snapshot of the host per scrape, gathered on first use and shared by every collector.
  std::unique_ptr<HostSnapshotSource> snapshots_;
  ScrapeRegistry registry_;
  // Answers the web process's requests from the registry and the denial store.
  std::unique_ptr<WebRequestServer> web_requests_;
};

// Blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD in the calling thread (and every thread it creates
// later), so that Agent::run() can take them with sigwait.
void blockAgentSignals();

}  // namespace ipcwatch
