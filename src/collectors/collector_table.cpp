#include "collectors/collector_table.h"

#include "collectors/broken_pipe_collector.h"
#include "collectors/posix_ipc_collector.h"
#include "collectors/sysv_ipc_collector.h"
#include "config/config.h"

namespace ipcwatch {

const std::vector<CollectorSpec>& collectorTable() {
  static const std::vector<CollectorSpec> table = {
      {"broken_pipe", true, "ipc_epipe_total from the broken_pipe probe's kernel counters",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.broken_pipe == nullptr || !deps.broken_pipe->options().epipe) {
           return nullptr;
         }
         return std::make_unique<BrokenPipeCollector>(*deps.broken_pipe, *deps.caps);
       }},
      {"sigpipe", true, "ipc_sigpipe_total and ipc_sigpipe_deaths_total from the sigpipe probe",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         if (deps.broken_pipe == nullptr || !deps.broken_pipe->options().sigpipe) {
           return nullptr;
         }
         return std::make_unique<SigpipeCollector>(*deps.broken_pipe, *deps.caps);
       }},
      {"sysv_ipc", true,
       "SysV shared memory, semaphores, message queues and limits of every IPC namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         const auto& config = *deps.config;
         return std::make_unique<SysvIpcCollector>(
             SysvIpcOptions{config.paths.procfs, config.inventory.msg_queue_top_n},
             *deps.parse_errors,
             std::make_unique<SetnsIpcNamespaceVisitor>(config.paths.procfs));
       }},
      {"posix_ipc", true,
       "POSIX shared memory and semaphores in /dev/shm, message queues of every IPC namespace",
       [](const CollectorDeps& deps) -> std::unique_ptr<Collector> {
         const auto& config = *deps.config;
         return std::make_unique<PosixIpcCollector>(
             PosixIpcOptions{config.inventory.posix_shm_dir, config.inventory.posix_shm_top_n,
                             config.inventory.posix_mqueue_top_n},
             *deps.parse_errors,
             std::make_unique<SetnsIpcNamespaceVisitor>(config.paths.procfs));
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

}  // namespace ipcwatch
