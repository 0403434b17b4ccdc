#include "collectors/collector_table.h"

#include "collectors/broken_pipe_collector.h"
#include "collectors/endpoints_collector.h"
#include "collectors/fifo_open_collector.h"
#include "collectors/ipc_files_collector.h"
#include "collectors/pipe_limits_collector.h"
#include "collectors/posix_ipc_collector.h"
#include "collectors/selinux_collector.h"
#include "collectors/sysv_ipc_collector.h"
#include "collectors/unix_sock_collector.h"
#include "collectors/unix_socket_collector.h"
#include "collectors/workload_info_collector.h"
#include "config/config.h"
#include "inventory/host_snapshot.h"

namespace ipcwatch {
namespace {

// The IPC namespaces to visit are the scrape's snapshot's: no collector lists /proc itself.
std::unique_ptr<IpcNamespaceVisitor> snapshotIpcNamespaces(const std::string& procfs,
                                                           HostSnapshotSource& snapshots) {
  return std::make_unique<SetnsIpcNamespaceVisitor>(
      procfs, [&snapshots] { return snapshots.current()->ipcNamespaces(); });
}

}  // namespace

const std::vector<CollectorSpec>& collectorTable() {
  static const std::vector<CollectorSpec> table = {
      {"broken_pipe", true, "ipc_epipe_total from the broken_pipe probe's kernel counters",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.broken_pipe == nullptr || !deps.broken_pipe->options().epipe) {
           return nullptr;
         }
         return std::make_unique<BrokenPipeCollector>(*deps.broken_pipe, *deps.caps,
                                                      deps.identities);
       }},
      {"sigpipe", true, "ipc_sigpipe_total and ipc_sigpipe_deaths_total from the sigpipe probe",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.broken_pipe == nullptr || !deps.broken_pipe->options().sigpipe) {
           return nullptr;
         }
         return std::make_unique<SigpipeCollector>(*deps.broken_pipe, *deps.caps, deps.identities);
       }},
      {"pipe_limits", true,
       "pipe buffer limits, pages per user, and the limits hit (broken_pipe probe's pipe_limits)",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         return std::make_unique<PipeLimitsCollector>(
             deps.config->paths.procfs, *deps.snapshots, deps.config->inventory.pipe_user_top_n,
             deps.broken_pipe, *deps.caps, deps.identities);
       }},
      {"fifo_open", true,
       "FIFO open waits, blocked opens, open errors and opens blocked now (fifo_open probe)",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.fifo_open == nullptr) {
           return nullptr;
         }
         return std::make_unique<FifoOpenCollector>(*deps.fifo_open, *deps.caps, *deps.identities);
       }},
      {"unix_sock", true, "failed connect()/bind() on AF_UNIX sockets (unix_sock probe)",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.unix_sock == nullptr) {
           return nullptr;
         }
         return std::make_unique<UnixSockCollector>(*deps.unix_sock, *deps.identities);
       }},
      {"unix_sockets", true,
       "ipc_unix_sockets, listen queues and ipc_netns from sock_diag in every network namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         return std::make_unique<UnixSocketCollector>(
             *deps.snapshots, *deps.caps,
             deps.state != nullptr ? &deps.state->unix_socket_parse_errors : nullptr);
       }},
      {"workload_info", true,
       "ipc_netns_info and ipc_ipcns_info: the units, containers and pods in each namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.workloads == nullptr) {
           return nullptr;
         }
         return std::make_unique<WorkloadInfoCollector>(*deps.snapshots, *deps.workloads,
                                                        *deps.caps);
       }},
      {"ipc_files", true,
       "stale socket files, FIFOs without readers and insecure endpoints under scan.directories",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         return std::make_unique<IpcFilesCollector>(*deps.config, *deps.caps, *deps.snapshots);
       }},
      {"sysv_ipc", true,
       "SysV shared memory, semaphores, message queues and limits of every IPC namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         const auto& config = *deps.config;
         return std::make_unique<SysvIpcCollector>(
             SysvIpcOptions{config.paths.procfs, config.inventory.msg_queue_top_n},
             *deps.parse_errors, snapshotIpcNamespaces(config.paths.procfs, *deps.snapshots));
       }},
      {"posix_ipc", true,
       "POSIX shared memory and semaphores in /dev/shm of every mount namespace, message queues "
       "of every IPC namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         const auto& config = *deps.config;
         PosixIpcOptions options;
         options.shm_dir = config.inventory.posix_shm_dir;
         options.shm_top_n = config.inventory.posix_shm_top_n;
         options.mqueue_top_n = config.inventory.posix_mqueue_top_n;
         options.procfs = config.paths.procfs;
         options.mount_namespaces = [snapshots = deps.snapshots] {
           return snapshots->current()->mountNamespaces();
         };
         return std::make_unique<PosixIpcCollector>(
             std::move(options), *deps.parse_errors,
             snapshotIpcNamespaces(config.paths.procfs, *deps.snapshots));
       }},
      {"endpoints", true,
       "reachability of the configured endpoints from each client's point of view",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.config->endpoints.empty()) {
           return nullptr;
         }
         return std::make_unique<EndpointsCollector>(*deps.config, deps.selinux, *deps.snapshots,
                                                     deps.state);
       }},
      {"selinux", true,
       "SELinux denials and errors from the audit stream and audit.log; SELinux state",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.selinux == nullptr) {
           return nullptr;
         }
         return std::make_unique<SelinuxCollector>(*deps.selinux, deps.config->paths.sysfs);
       }},
  };
  return table;
}

std::vector<std::string> collectorNames() {
  std::vector<std::string> names;
  for (const auto& spec : collectorTable()) {
    names.push_back(spec.name);
  }
  return names;
}

bool collectorEnabled(const Config& config, const std::string& name) {
  const auto it = config.collectors.find(name);
  if (it != config.collectors.end()) {
    return it->second;
  }
  for (const auto& spec : collectorTable()) {
    if (spec.name == name) {
      return spec.enabled_by_default;
    }
  }
  return false;
}

}  // namespace ipcwatch
