#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "inventory/ipc_namespaces.h"
#include "metrics/collector.h"
#include "metrics/parse_errors.h"

namespace ipcwatch {

// Name of a uid for the `owner` label: the user name, or the number when it has none.
using UserNameFn = std::function<std::string(std::uint32_t uid)>;
std::string systemUserName(std::uint32_t uid);

struct SysvIpcOptions {
  std::string procfs = "/proc";
  std::uint32_t msg_queue_top_n = 10;  // per-queue series for the largest queues (all namespaces)
};

// The `ipcs` view of every IPC namespace: segment, semaphore and message queue inventory,
// leaked (orphaned) shared memory, world-accessible objects and the namespace's limits, all
// labelled with `ipcns` (the namespace inode).
class SysvIpcCollector : public Collector {
 public:
  SysvIpcCollector(SysvIpcOptions options, ParseErrors& errors,
                   std::unique_ptr<IpcNamespaceVisitor> visitor,
                   UserNameFn user_name = systemUserName);
  ~SysvIpcCollector() override;
  std::string_view name() const override { return "sysv_ipc"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  struct Families;
  struct QueueSample;
  void readNamespace(const IpcNamespaceView& ns, Families& families,
                     std::vector<QueueSample>& queues);
  void readShm(const IpcNamespaceView& ns, const std::string& ipcns, Families& families);
  void readSem(const IpcNamespaceView& ns, const std::string& ipcns, Families& families);
  void readMsg(const IpcNamespaceView& ns, const std::string& ipcns, Families& families,
               std::vector<QueueSample>& queues);
  void readLimits(const IpcNamespaceView& ns, const std::string& ipcns, Families& families);
  std::string ownerOf(std::uint32_t uid);

  const SysvIpcOptions options_;
  ParseErrors& errors_;
  std::unique_ptr<IpcNamespaceVisitor> visitor_;
  UserNameFn user_name_;
  std::map<std::uint32_t, std::string> owners_;  // uid -> owner label, for one scrape
};

// The SysV limits of the calling thread's IPC namespace from shmctl/msgctl/semctl(IPC_INFO),
// as (resource, value) in the order the collector exports them; nullopt without SysV IPC.
std::optional<std::vector<std::pair<const char*, std::uint64_t>>> currentSysvLimits();

// Key as ipcs prints it: 0x followed by 8 hex digits.
std::string formatIpcKey(std::int32_t key);

}  // namespace ipcwatch
