#include "inventory/host_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/unix_diag.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "inventory/proc_file.h"
#include "util/proc_entry.h"
#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

std::uint64_t inodeAt(int dir_fd, const char* name) {
  struct stat st {};
  return fstatat(dir_fd, name, &st, 0) == 0 ? st.st_ino : 0;
}

// The fields of /proc/<pid>/status the snapshot keeps: PPid and the effective uid and gid.
void parseStatus(std::string_view text, ProcessFacts& process) {
  const auto field = [&](std::string_view name, std::size_t index) -> std::optional<std::uint32_t> {
    const auto at = text.find(name);
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    std::string_view rest = text.substr(at + name.size());
    rest = rest.substr(0, rest.find('\n'));
    std::uint32_t value = 0;
    for (std::size_t i = 0; i <= index; ++i) {
      const auto start = rest.find_first_of("0123456789");
      if (start == std::string_view::npos) {
        return std::nullopt;
      }
      rest.remove_prefix(start);
      const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
      rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
    }
    return value;
  };
  process.ppid = field("\nPPid:", 0).value_or(0);
  process.euid = field("\nUid:", 1).value_or(0);
  process.egid = field("\nGid:", 1).value_or(0);
}

std::optional<ProcessFacts> readProcess(int proc_fd, const char* pid_name) {
  UniqueFd dir(openat(proc_fd, pid_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return std::nullopt;
  }
  ProcessFacts process;
  std::from_chars(pid_name, pid_name + std::char_traits<char>::length(pid_name), process.pid);
  const auto status = readProcFileAt(dir.get(), "status");
  if (!status) {
    return std::nullopt;  // exited meanwhile
  }
  parseStatus(*status, process);
  if (auto comm = readProcFileAt(dir.get(), "comm")) {
    while (!comm->empty() && comm->back() == '\n') {
      comm->pop_back();
    }
    process.comm = std::move(*comm);
  }
  process.mnt_ns = inodeAt(dir.get(), "ns/mnt");
  process.net_ns = inodeAt(dir.get(), "ns/net");
  process.ipc_ns = inodeAt(dir.get(), "ns/ipc");
  return process;
}

// The device of anonymous pipes (pipefs): FIFOs on it are not named FIFOs.
dev_t pipefsDevice() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return 0;
  }
  struct stat st {};
  fstat(fds[0], &st);
  close(fds[0]);
  close(fds[1]);
  return st.st_dev;
}

}  // namespace

std::vector<ProcessFacts> readProcfsProcesses(const std::string& procfs) {
  const int proc_fd = open(procfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    throw std::runtime_error("cannot open " + procfs + ": " + std::strerror(errno));
  }
  DIR* dir = fdopendir(proc_fd);
  if (dir == nullptr) {
    close(proc_fd);
    throw std::runtime_error("cannot list " + procfs + ": " + std::strerror(errno));
  }
  std::vector<ProcessFacts> processes;
  while (const dirent* entry = readdir(dir)) {
    if (!isProcNumber(entry->d_name)) {
      continue;
    }
    if (auto process = readProcess(proc_fd, entry->d_name)) {
      processes.push_back(std::move(*process));
    }
  }
  closedir(dir);
  std::sort(processes.begin(), processes.end(),
            [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return processes;
}

std::vector<ProcessFacts> ProcfsHostFacts::processes() {
  return readProcfsProcesses(procfs_);
}

namespace {

// One walk of <procfs>/*/fd under `guard`: the FIFO or the socket descriptors of `scan`.
template <typename T>
std::vector<T> guardedWalk(StuckCallGuard<std::vector<T>>& guard, const std::string& procfs,
                           std::chrono::steady_clock::time_point deadline,
                           std::vector<T> (*pick)(FifoHolderScan&), bool sockets) {
  using Outcome = typename StuckCallGuard<std::vector<T>>::Outcome;
  Outcome outcome = Outcome::kDone;
  // The worker may outlive this call (and the snapshot): it captures by value only.
  auto result = guard.run(
      [procfs, deadline, pick, sockets] {
        auto scan = findFifoHolders(procfs, std::nullopt, deadline, pipefsDevice(), sockets);
        if (scan.out_of_time) {
          throw std::runtime_error("the walk of " + procfs + "/*/fd ran out of its budget");
        }
        return pick(scan);
      },
      // A little past the walk's own deadline: a walk that checks the clock returns by then.
      deadline + std::chrono::milliseconds(200), outcome);
  if (outcome == Outcome::kTimedOut) {
    throw std::runtime_error("the walk of " + procfs +
                             "/*/fd is stuck in the kernel (a dead network or FUSE mount?); "
                             "abandoned for this scrape");
  }
  if (outcome == Outcome::kStillStuck) {
    throw std::runtime_error("an earlier walk of " + procfs +
                             "/*/fd is still stuck in the kernel; not starting another");
  }
  return std::move(*result);
}

}  // namespace

std::vector<OpenFifo> ProcfsHostFacts::openFifos(std::chrono::steady_clock::time_point deadline) {
  return guardedWalk<OpenFifo>(
      guard_, procfs_, deadline, [](FifoHolderScan& scan) { return std::move(scan.descriptors); },
      false);
}

std::vector<OpenSocket> ProcfsHostFacts::openSockets(std::chrono::steady_clock::time_point deadline,
                                                     const std::vector<std::uint64_t>& inodes) {
  auto sockets = guardedWalk<OpenSocket>(
      socket_guard_, procfs_, deadline,
      [](FifoHolderScan& scan) { return std::move(scan.sockets); }, true);
  const std::set<std::uint64_t> wanted(inodes.begin(), inodes.end());
  std::erase_if(sockets, [&](const OpenSocket& socket) { return wanted.count(socket.ino) == 0; });
  return sockets;
}

HostSnapshot::HostSnapshot(HostSnapshotOptions options, HostFactsReader& facts,
                           UnixSocketInventoryReader& sockets, std::atomic<bool>* sockets_wanted)
    : options_(std::move(options)),
      facts_(facts),
      sockets_(sockets),
      sockets_wanted_(sockets_wanted) {}

HostSnapshot::~HostSnapshot() {
  if (sockets_wanted_ != nullptr) {
    sockets_wanted_->store(sockets_asked_);
  }
}

const std::vector<ProcessFacts>& HostSnapshot::processesLocked() {
  if (!processes_) {
    processes_ = facts_.processes();
    for (std::size_t i = 0; i < processes_->size(); ++i) {
      by_pid_.emplace((*processes_)[i].pid, i);
    }
  }
  return *processes_;
}

const std::vector<ProcessFacts>& HostSnapshot::processes() {
  std::lock_guard lock(mutex_);
  return processesLocked();
}

const ProcessFacts* HostSnapshot::process(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  const auto& all = processesLocked();
  const auto it = by_pid_.find(pid);
  return it == by_pid_.end() ? nullptr : &all[it->second];
}

std::vector<std::uint32_t> HostSnapshot::pidsByComm(const std::string& comm) {
  std::lock_guard lock(mutex_);
  std::vector<std::uint32_t> pids;
  for (const auto& process : processesLocked()) {
    if (process.comm == comm) {
      pids.push_back(process.pid);
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

const std::string& HostSnapshot::exeOf(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = exe_.try_emplace(pid);
  if (inserted) {
    char target[4096];
    const std::string link = options_.procfs + "/" + std::to_string(pid) + "/exe";
    const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    if (n > 0) {
      it->second.assign(target, static_cast<std::size_t>(n));
    }
  }
  return it->second;
}

const std::string& HostSnapshot::cgroupOf(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = cgroup_.try_emplace(pid);
  if (inserted) {
    it->second = readProcFile(options_.procfs + "/" + std::to_string(pid) + "/cgroup").value_or("");
  }
  return it->second;
}

void HostSnapshot::setFifoHolders(const std::vector<OpenFifo>& fifos) {
  std::map<FileId, FifoHolders> holders;
  for (const auto& fifo : fifos) {
    auto& entry = holders[fifo.id];
    if (fifo.read) {
      ++entry.readers;
      entry.reader_pids.insert(fifo.pid);
    }
    if (fifo.write) {
      ++entry.writers;
      entry.writer_pids.insert(fifo.pid);
    }
  }
  fifo_holders_ = std::move(holders);
}

void HostSnapshot::setSocketHolders(const std::vector<OpenSocket>& sockets) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> holders;
  holders.reserve(sockets.size());
  for (const auto& socket : sockets) {
    holders.emplace_back(socket.ino, socket.pid);
  }
  std::sort(holders.begin(), holders.end());
  holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
  socket_holders_ = std::move(holders);
}

std::vector<std::uint64_t> HostSnapshot::boundSocketInodes() {
  std::vector<std::uint64_t> bound;
  for (const auto& ns : unixSockets().namespaces) {
    for (const auto& socket : ns.sockets) {
      if (!socket.name.empty()) {
        bound.push_back(socket.inode);
      }
    }
  }
  return bound;
}

const std::map<FileId, FifoHolders>& HostSnapshot::fifoHolders() {
  std::lock_guard lock(mutex_);
  if (!fifo_holders_) {
    const auto deadline = std::chrono::steady_clock::now() + options_.budget;
    if (sockets_wanted_ != nullptr && sockets_wanted_->load() && !socket_holders_) {
      // The last scrape asked for socket holders and this one will too: one walk for both.
      const auto bound = boundSocketInodes();
      const auto [fifos, sockets] = facts_.openFifosAndSockets(deadline, bound);
      setFifoHolders(fifos);
      setSocketHolders(sockets);
    } else {
      setFifoHolders(facts_.openFifos(deadline));
    }
  }
  return *fifo_holders_;
}

std::vector<std::uint32_t> HostSnapshot::socketHolders(std::uint64_t ino) {
  std::lock_guard lock(mutex_);
  sockets_asked_ = true;
  if (!socket_holders_) {
    const auto bound = boundSocketInodes();
    const auto deadline = std::chrono::steady_clock::now() + options_.budget;
    setSocketHolders(facts_.openSockets(deadline, bound));
  }
  std::vector<std::uint32_t> pids;
  const auto& all = *socket_holders_;
  for (auto it = std::lower_bound(all.begin(), all.end(), std::make_pair(ino, std::uint32_t{0}));
       it != all.end() && it->first == ino; ++it) {
    pids.push_back(it->second);
  }
  return pids;
}

const std::vector<NetNamespace>& HostSnapshot::netNamespaces() {
  std::lock_guard lock(mutex_);
  if (!net_namespaces_) {
    std::map<std::uint64_t, std::uint32_t> by_inode;  // namespace -> lowest pid in it
    for (const auto& process : processesLocked()) {
      if (process.net_ns != 0) {
        by_inode.try_emplace(process.net_ns, process.pid);
      }
    }
    net_namespaces_ = netNamespacesOf(options_.procfs, options_.named_netns_dir, by_inode);
  }
  return *net_namespaces_;
}

const UnixSocketInventory& HostSnapshot::unixSockets() {
  std::lock_guard lock(mutex_);
  if (!unix_sockets_) {
    unix_sockets_ = sockets_.read(
        UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN, netNamespaces());
  }
  return *unix_sockets_;
}

const std::vector<IpcNamespace>& HostSnapshot::ipcNamespaces() {
  std::lock_guard lock(mutex_);
  if (!ipc_namespaces_) {
    std::map<std::uint64_t, const ProcessFacts*> by_inode;  // namespace -> lowest pid in it
    for (const auto& process : processesLocked()) {
      if (process.ipc_ns != 0) {
        by_inode.try_emplace(process.ipc_ns, &process);
      }
    }
    std::vector<IpcNamespace> namespaces;
    for (const auto& [inode, process] : by_inode) {
      namespaces.push_back({inode, static_cast<pid_t>(process->pid), process->mqueue_limits});
    }
    ipc_namespaces_ = std::move(namespaces);
  }
  return *ipc_namespaces_;
}

std::vector<MountNamespace> HostSnapshot::mountNamespaces() {
  std::lock_guard lock(mutex_);
  std::map<std::uint64_t, std::uint32_t> by_inode;  // processes are sorted by pid
  for (const auto& process : processesLocked()) {
    if (process.mnt_ns != 0) {
      by_inode.try_emplace(process.mnt_ns, process.pid);
    }
  }
  std::vector<MountNamespace> out;
  for (const auto& [inode, pid] : by_inode) {
    out.push_back({inode, pid});
  }
  return out;
}

HostSnapshotSource::HostSnapshotSource(HostSnapshotOptions options,
                                       std::unique_ptr<HostFactsReader> kernel_facts,
                                       UnixSocketInventoryReader::Source socket_source)
    : options_(std::move(options)),
      facts_(kernel_facts ? std::move(kernel_facts)
                          : std::make_unique<ProcfsHostFacts>(options_.procfs)),
      sockets_(options_.procfs, options_.named_netns_dir, socket_source) {}

HostSnapshotSource::~HostSnapshotSource() = default;

std::shared_ptr<HostSnapshot> HostSnapshotSource::fresh() {
  return std::make_shared<HostSnapshot>(options_, *facts_, sockets_, &sockets_wanted_);
}

std::shared_ptr<void> HostSnapshotSource::beginScrape() {
  auto snapshot = fresh();
  std::lock_guard lock(mutex_);
  scrape_ = snapshot;
  return snapshot;
}

std::shared_ptr<HostSnapshot> HostSnapshotSource::current() {
  std::lock_guard lock(mutex_);
  if (auto snapshot = scrape_.lock()) {
    return snapshot;
  }
  return fresh();
}

std::unique_ptr<HostSnapshotSource> openHostSnapshots(const std::string& procfs, bool quiet) {
  std::string why;
  auto kernel = makeBpfHostFacts(procfs, why);
  if (!kernel) {
    spdlog::log(quiet ? spdlog::level::debug : spdlog::level::warn,
                "host inventory: walking {} instead of BPF task iterators: {}", procfs, why);
  }
  HostSnapshotOptions options;
  options.procfs = procfs;
  return std::make_unique<HostSnapshotSource>(std::move(options), std::move(kernel));
}

}  // namespace ipcwatch
