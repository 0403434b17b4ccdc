#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace ipcwatch {

// The POSIX message queue limits of one IPC namespace: /proc/sys/fs/mqueue/{queues_max,
// msg_max,msgsize_max} as read from inside it.
struct MqueueLimits {
  std::uint32_t queues_max = 0;
  std::uint32_t msg_max = 0;
  std::uint32_t msgsize_max = 0;
  bool operator==(const MqueueLimits&) const = default;
};

// An IPC namespace seen under procfs, with one process that is in it.
struct IpcNamespace {
  std::uint64_t inode = 0;
  pid_t pid = 0;
  // Read by the host snapshot's BPF iterator with the processes, when it has them.
  std::optional<MqueueLimits> mqueue_limits;
};

// Every distinct IPC namespace of the processes under `procfs` (from <procfs>/<pid>/ns/ipc),
// sorted by inode. Processes that vanish while listing are skipped.
std::vector<IpcNamespace> listIpcNamespaces(const std::string& procfs);

// What a reader may use while it is inside one IPC namespace.
struct IpcNamespaceView {
  std::uint64_t inode = 0;
  // The procfs root whose sysvipc/ and sys/ files show this namespace.
  std::string procfs;
  // Opens this namespace's mqueue filesystem: a directory fd the caller closes, or -1 (errno).
  // The mount behind it is made once per namespace and kept by the visitor across visits.
  std::function<int()> open_mqueue_dir;
  // The calling thread is inside the namespace, so the IPC_INFO system calls answer for it.
  // Readers then take the SysV limits from shmctl/msgctl/semctl(IPC_INFO) instead of
  // <procfs>/sys/kernel/*: every namespace has its own sysctl dentries, all in one hash chain,
  // so each sysctl opened from inside one of N namespaces compares N names (measured: a third
  // of a scrape with 100 IPC namespaces). Fixture views leave it false and read the files.
  bool inside = false;
  // This namespace's mqueue limits when the lister already knows them (the BPF iterator read
  // them with the processes); readers fall back to <procfs>/sys/fs/mqueue/* without them.
  std::optional<MqueueLimits> mqueue_limits;
};

// Runs a reader once in each IPC namespace.
class IpcNamespaceVisitor {
 public:
  virtual ~IpcNamespaceVisitor() = default;
  // Exceptions thrown by `read` propagate to the caller.
  virtual void visit(const std::function<void(const IpcNamespaceView&)>& read) = 0;
};

// The real visitor. /proc/sysvipc/*, the IPC sysctls under /proc/sys and the mqueue
// filesystem all show the IPC namespace of the task that opens them (measured on 6.x: the
// procfs mount and /proc/<pid>/root/proc/... do not change what is shown). So the readers run
// in a short-lived helper thread that enters each namespace in turn with setns(CLONE_NEWIPC),
// which changes that thread only: the serving threads never leave the agent's namespace.
// The mqueue filesystem is mounted detached (fsopen/fsmount) from inside the namespace, so it
// is always that namespace's instance and never appears in any mount table. Making that mount
// costs ~0.3 ms, so each namespace's is kept while the namespace is seen, and let go at the
// first visit that no longer finds it.
class SetnsIpcNamespaceVisitor : public IpcNamespaceVisitor {
 public:
  // Lists the namespaces itself, or asks `list` (the scrape's host snapshot) for them.
  explicit SetnsIpcNamespaceVisitor(std::string procfs,
                                    std::function<std::vector<IpcNamespace>()> list = nullptr)
      : procfs_(std::move(procfs)), list_(std::move(list)) {}
  void visit(const std::function<void(const IpcNamespaceView&)>& read) override;

 private:
  void visitAll(const std::vector<IpcNamespace>& namespaces,
                const std::function<void(const IpcNamespaceView&)>& read);

  // A listable fd of the mount, or -1 (with its errno) when it could not be made.
  int mqueueDir(std::uint64_t inode);

  const std::string procfs_;
  const std::function<std::vector<IpcNamespace>()> list_;
  bool warned_ = false;
  struct MqueueMount {
    UniqueFd dir;
    int error = 0;
  };
  std::map<std::uint64_t, MqueueMount> mqueue_mounts_;  // touched by the helper thread only
};

// A detached, read-only mount of the calling thread's IPC namespace's mqueue filesystem: a
// directory fd, or -1 with errno set.
int openMqueueMount();

}  // namespace ipcwatch
