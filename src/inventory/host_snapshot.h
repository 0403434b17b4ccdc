#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/endpoint_scan.h"
#include "inventory/fifo_holders.h"
#include "inventory/ipc_namespaces.h"
#include "inventory/unix_socket_inventory.h"
#include "util/stuck_call_guard.h"

namespace ipcwatch {

// A process as the host snapshot knows it: enough to pick clients and servers by name and
// user, and to find the namespaces to enter.
struct ProcessFacts {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::string comm;
  std::uint32_t euid = 0;
  std::uint32_t egid = 0;
  std::uint64_t mnt_ns = 0;  // nsfs inodes; 0 when unknown (kernel threads, exiting tasks)
  std::uint64_t net_ns = 0;
  std::uint64_t ipc_ns = 0;
  // The POSIX message queue limits of its IPC namespace, when the backend reads them.
  std::optional<MqueueLimits> mqueue_limits;
  // The pipe buffer pages the kernel charges to its user (real uid) and that uid, when the
  // backend reads them (the BPF iterators; procfs shows neither).
  std::optional<std::uint64_t> pipe_pages;
  std::uint32_t pipe_uid = 0;
};

// A mount namespace with a process in it: a pid whose <procfs>/<pid>/root shows its files.
struct MountNamespace {
  std::uint64_t inode = 0;
  std::uint32_t pid = 0;  // the lowest pid in it
};

// One descriptor of a process that refers to a named FIFO (never an anonymous pipe), as both
// backends report it.
using OpenFifo = FifoDescriptor;
// One descriptor of a process that refers to a socket, by the socket's inode.
using OpenSocket = SocketDescriptor;

// Where the processes and their open FIFOs come from: BPF iterators (one read each, in the
// kernel, nothing that can hang) or a walk of procfs.
class HostFactsReader {
 public:
  virtual ~HostFactsReader() = default;
  virtual std::string_view backend() const = 0;      // "bpf_iter" or "procfs"
  virtual std::string detail() const { return ""; }  // for the start-up log
  virtual std::vector<ProcessFacts> processes() = 0;
  // Throws when the facts cannot be had by `deadline` (the scrape fails, not the agent).
  virtual std::vector<OpenFifo> openFifos(std::chrono::steady_clock::time_point deadline) = 0;
  // The descriptors of every process that refer to one of the sockets `inodes` names. A
  // separate pass, made only for those who ask: sockets are the bulk of a busy host's
  // descriptors. Throws as openFifos does.
  virtual std::vector<OpenSocket> openSockets(std::chrono::steady_clock::time_point deadline,
                                              const std::vector<std::uint64_t>& inodes) = 0;
  // Both in one pass where the backend can (the BPF socket walk reports FIFOs too); else the
  // two passes above.
  virtual std::pair<std::vector<OpenFifo>, std::vector<OpenSocket>> openFifosAndSockets(
      std::chrono::steady_clock::time_point deadline, const std::vector<std::uint64_t>& inodes) {
    auto fifos = openFifos(deadline);
    return {std::move(fifos), openSockets(deadline, inodes)};
  }
};

// The procfs walk: <procfs>/<pid>/{comm,stat,status,ns/*}, and a stat() of every
// <procfs>/<pid>/fd/N. The descriptor walk runs under a StuckCallGuard: a stat() that hangs on a
// dead network or FUSE mount costs the scrape its budget and later scrapes fail fast until it
// returns.
class ProcfsHostFacts : public HostFactsReader {
 public:
  explicit ProcfsHostFacts(std::string procfs) : procfs_(std::move(procfs)) {}
  std::string_view backend() const override { return "procfs"; }
  std::vector<ProcessFacts> processes() override;
  std::vector<OpenFifo> openFifos(std::chrono::steady_clock::time_point deadline) override;
  std::vector<OpenSocket> openSockets(std::chrono::steady_clock::time_point deadline,
                                      const std::vector<std::uint64_t>& inodes) override;

 private:
  std::string procfs_;
  StuckCallGuard<std::vector<OpenFifo>> guard_;
  StuckCallGuard<std::vector<OpenSocket>> socket_guard_;
};

// The processes of one procfs, read without BPF (also the parser used for fixtures).
std::vector<ProcessFacts> readProcfsProcesses(const std::string& procfs);

struct HostSnapshotOptions {
  std::string procfs = "/proc";
  std::string named_netns_dir = kNamedNetnsDir;
  // How long gathering any one fact may take before the scrape gives up on it.
  std::chrono::milliseconds budget{2000};
};

// What one scrape knows about the host, gathered on first use and then shared by every
// collector and every endpoint × client check of that scrape: processes with their
// credentials and namespaces, which processes hold which named FIFOs and how, the unix sockets
// of every network namespace, the IPC namespaces. Nothing here is read twice in one scrape,
// and nothing is read that no one asked for. Safe to use from several threads.
class HostSnapshot {
 public:
  // `facts` and `sockets` outlive the snapshot; `sockets` may be shared by snapshots that are
  // not used at the same time (it remembers only what it logged).
  // `sockets_wanted`, when given, outlives the snapshot too: whether the snapshot before this
  // one asked for socket holders. If it did, this one's FIFO holders come from the same pass
  // as its socket holders (one walk of the descriptor tables instead of two); the snapshot
  // sets it, at its end, to whether it asked.
  HostSnapshot(HostSnapshotOptions options, HostFactsReader& facts,
               UnixSocketInventoryReader& sockets, std::atomic<bool>* sockets_wanted = nullptr);
  ~HostSnapshot();
  HostSnapshot(const HostSnapshot&) = delete;
  HostSnapshot& operator=(const HostSnapshot&) = delete;

  const std::string& procfs() const { return options_.procfs; }
  std::string_view factsBackend() const { return facts_.backend(); }

  // Every process, by pid.
  const std::vector<ProcessFacts>& processes();
  const ProcessFacts* process(std::uint32_t pid);
  // Processes whose comm is `comm`, lowest pid first.
  std::vector<std::uint32_t> pidsByComm(const std::string& comm);
  // The target of <procfs>/<pid>/exe and the text of <procfs>/<pid>/cgroup, read once per
  // process per scrape and only for the processes asked about.
  const std::string& exeOf(std::uint32_t pid);
  const std::string& cgroupOf(std::uint32_t pid);

  // Every named FIFO that some process holds open, with its readers and writers. Throws when
  // the descriptors cannot be read within the budget.
  const std::map<FileId, FifoHolders>& fifoHolders();
  // The processes holding the bound unix socket with inode `ino` (as UnixSocket::inode) open,
  // lowest pid first; none for a socket with no address. The first call reads the socket
  // descriptors of the host, of the bound sockets of unixSockets() only; throws when they
  // cannot be read within the budget.
  std::vector<std::uint32_t> socketHolders(std::uint64_t ino);

  // The unix sockets of every network namespace (sock_diag, else /proc/<pid>/net/unix).
  const UnixSocketInventory& unixSockets();
  // Network namespaces: those of the processes and those `ip netns` names.
  const std::vector<NetNamespace>& netNamespaces();
  // IPC namespaces of the processes, each with the lowest pid in it, sorted by inode.
  const std::vector<IpcNamespace>& ipcNamespaces();
  // Mount namespaces of the processes, each with the lowest pid in it, sorted by inode.
  std::vector<MountNamespace> mountNamespaces();

 private:
  const std::vector<ProcessFacts>& processesLocked();
  std::vector<std::uint64_t> boundSocketInodes();
  void setFifoHolders(const std::vector<OpenFifo>& fifos);
  void setSocketHolders(const std::vector<OpenSocket>& sockets);

  const HostSnapshotOptions options_;
  HostFactsReader& facts_;
  UnixSocketInventoryReader& sockets_;
  std::atomic<bool>* sockets_wanted_;
  bool sockets_asked_ = false;
  std::recursive_mutex mutex_;
  std::optional<std::vector<ProcessFacts>> processes_;
  std::map<std::uint32_t, std::size_t> by_pid_;
  std::map<std::uint32_t, std::string> exe_;
  std::map<std::uint32_t, std::string> cgroup_;
  std::optional<std::map<FileId, FifoHolders>> fifo_holders_;
  // (socket inode, pid), sorted and unique: tens of thousands on a busy host, found by
  // binary search, with no allocation per socket.
  std::optional<std::vector<std::pair<std::uint64_t, std::uint32_t>>> socket_holders_;
  std::optional<std::vector<NetNamespace>> net_namespaces_;
  std::optional<UnixSocketInventory> unix_sockets_;
  std::optional<std::vector<IpcNamespace>> ipc_namespaces_;
};

// Makes the snapshots: owns the readers (the BPF iterators when the kernel has them, chosen
// once at start by feature probing), and hands every collector of a scrape the same snapshot.
class HostSnapshotSource {
 public:
  // `kernel_facts`: the BPF reader, or null to walk procfs.
  HostSnapshotSource(HostSnapshotOptions options, std::unique_ptr<HostFactsReader> kernel_facts,
                     UnixSocketInventoryReader::Source socket_source =
                         UnixSocketInventoryReader::Source::kSockDiag);
  ~HostSnapshotSource();

  // Starts a scrape: until the returned scope is released, current() returns one snapshot.
  std::shared_ptr<void> beginScrape();
  // The snapshot of the scrape in progress; outside a scrape, a fresh one.
  std::shared_ptr<HostSnapshot> current();
  std::string_view factsBackend() const { return facts_->backend(); }
  std::string factsDetail() const { return facts_->detail(); }

 private:
  std::shared_ptr<HostSnapshot> fresh();

  const HostSnapshotOptions options_;
  std::unique_ptr<HostFactsReader> facts_;
  UnixSocketInventoryReader sockets_;
  std::mutex mutex_;
  std::weak_ptr<HostSnapshot> scrape_;
  std::atomic<bool> sockets_wanted_{false};
};

// A source with the best reader this kernel allows. Why it is not BPF is logged once, at warn
// (the agent: a degraded, slower inventory), or at debug when `quiet` (the diagnose command).
std::unique_ptr<HostSnapshotSource> openHostSnapshots(const std::string& procfs,
                                                      bool quiet = false);

// The reader that the kernel allows: BPF iterators when they load and see this process (the
// agent shares the host's pid namespace), else the procfs walk. `why` says why not BPF.
std::unique_ptr<HostFactsReader> makeBpfHostFacts(const std::string& procfs, std::string& why);

}  // namespace ipcwatch
