#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "inventory/host_snapshot.h"
#include "inventory/ipc_namespaces.h"
#include "metrics/collector.h"
#include "metrics/family.h"
#include "metrics/parse_errors.h"
#include "util/unique_fd.h"

namespace ipcwatch {

struct PosixIpcOptions {
  std::string shm_dir = "/dev/shm";
  std::uint32_t shm_top_n = 10;     // per-object series for the largest /dev/shm objects
  std::uint32_t mqueue_top_n = 10;  // per-queue series for the fullest queues (all namespaces)
  std::string procfs = "/proc";
  // The mount namespaces whose shm_dir to read (the host snapshot's); null: only the agent's
  // own, without an mntns label (fixture directories).
  std::function<std::vector<MountNamespace>()> mount_namespaces;
};

// POSIX shared memory and named semaphores (files in /dev/shm: each mount namespace's that has
// one of its own, labelled mntns) and POSIX message queues of every IPC namespace (each
// namespace's mqueue filesystem).
class PosixIpcCollector : public Collector {
 public:
  PosixIpcCollector(PosixIpcOptions options, ParseErrors& errors,
                    std::unique_ptr<IpcNamespaceVisitor> visitor);
  std::string_view name() const override { return "posix_ipc"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  struct ShmDir {
    std::string mntns;  // "" without mount_namespaces
    UniqueFd fd;        // the open directory
  };
  // The directories to list: the agent's own, then one per other mount namespace.
  std::vector<ShmDir> shmDirs() const;
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
