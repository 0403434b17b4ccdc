#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "inventory/ipc_namespaces.h"
#include "metrics/collector.h"
#include "metrics/family.h"
#include "metrics/parse_errors.h"

namespace ipcwatch {

struct PosixIpcOptions {
  std::string shm_dir = "/dev/shm";
  std::uint32_t shm_top_n = 10;     // per-object series for the largest /dev/shm objects
  std::uint32_t mqueue_top_n = 10;  // per-queue series for the fullest queues (all namespaces)
};

// POSIX shared memory and named semaphores (files in /dev/shm of the agent's mount namespace)
// and POSIX message queues of every IPC namespace (each namespace's mqueue filesystem).
class PosixIpcCollector : public Collector {
 public:
  PosixIpcCollector(PosixIpcOptions options, ParseErrors& errors,
                    std::unique_ptr<IpcNamespaceVisitor> visitor);
  std::string_view name() const override { return "posix_ipc"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  void collectShm(std::vector<MetricFamily>& out);
  void collectMqueues(std::vector<MetricFamily>& out);
  // The limits from <procfs>/sys/fs/mqueue/*, for a namespace whose lister did not know them.
  void readMqueueLimits(const IpcNamespaceView& ns, const std::string& ipcns,
                        FamilyBuilder& limits);

  const PosixIpcOptions options_;
  ParseErrors& errors_;
  std::unique_ptr<IpcNamespaceVisitor> visitor_;
  bool mqueue_warned_ = false;
};

}  // namespace ipcwatch
