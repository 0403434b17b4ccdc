#include <linux/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "inventory/bpf_host_iterator.h"
#include "inventory/host_snapshot.h"
#include "ipcwatch/bpf/host_iter.h"

namespace ipcwatch {
namespace {

// Processes and named FIFOs from the BPF task and task_file iterators: one pass in the kernel,
// no stat() of anything, so no mount can make it hang.
class BpfHostFacts : public HostFactsReader {
 public:
  explicit BpfHostFacts(std::unique_ptr<BpfHostIterator> iterator)
      : iterator_(std::move(iterator)) {}
  std::string_view backend() const override { return "bpf_iter"; }
  std::string detail() const override {
    return std::string("descriptor tables walked by ") + iterator_->fileWalk();
  }

  std::vector<ProcessFacts> processes() override {
    std::vector<ProcessFacts> out;
    for (auto& kernel : iterator_->processes()) {
      out.push_back(ProcessFacts{kernel.pid, kernel.ppid, std::move(kernel.comm), kernel.euid,
                                 kernel.egid, kernel.mnt_ns, kernel.net_ns, kernel.ipc_ns,
                                 kernel.mqueue_limits, kernel.pipe_pages, kernel.pipe_uid});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
    return out;
  }

  std::vector<OpenFifo> openFifos(std::chrono::steady_clock::time_point) override {
    std::vector<OpenFifo> out;
    for (const auto& file : iterator_->openFiles()) {
      if (file.kind == KernelOpenFile::Kind::kFifo) {
        out.push_back(OpenFifo{file.pid, FileId{file.dev, file.ino}, file.read, file.write});
      }
    }
    warnOfTruncatedWalks();
    return out;
  }

  // A second pair of iterators, loaded on first use, that also reports sockets, and of them
  // only those asked about: the FIFO walk of every scrape stays as cheap as it was.
  std::vector<OpenSocket> openSockets(std::chrono::steady_clock::time_point deadline,
                                      const std::vector<std::uint64_t>& inodes) override {
    return openFifosAndSockets(deadline, inodes).second;
  }

  std::pair<std::vector<OpenFifo>, std::vector<OpenSocket>> openFifosAndSockets(
      std::chrono::steady_clock::time_point, const std::vector<std::uint64_t>& inodes) override {
    BpfHostIterator* iterator = nullptr;
    {
      std::lock_guard lock(socket_mutex_);
      if (!socket_iterator_ && socket_error_.empty()) {
        std::string why;
        socket_iterator_ = BpfHostIterator::create(/*want_sockets=*/true, why);
        if (!socket_iterator_) {
          socket_error_ = "cannot load the socket descriptor iterator: " + why;
          spdlog::warn("host inventory: {}", socket_error_);
        }
      }
      if (!socket_iterator_) {
        throw std::runtime_error(socket_error_);
      }
      iterator = socket_iterator_.get();
    }
    std::pair<std::vector<OpenFifo>, std::vector<OpenSocket>> out;
    for (const auto& file : iterator->openFiles(inodes)) {
      if (file.kind == KernelOpenFile::Kind::kUnixSocket) {
        out.second.push_back(OpenSocket{file.pid, file.ino});
      } else {
        out.first.push_back(OpenFifo{file.pid, FileId{file.dev, file.ino}, file.read, file.write});
      }
    }
    return out;
  }

 private:
  // A table past the walk's cap exists only with a raised fs.nr_open; its holders beyond the cap
  // are missing from the snapshot, which must not pass unnoticed.
  void warnOfTruncatedWalks() {
    const std::uint64_t truncated = iterator_->truncatedFileWalks();
    const std::uint64_t logged = truncated_logged_.exchange(truncated);
    if (truncated > logged) {
      spdlog::warn(
          "{} descriptor table walk(s) stopped at {} descriptors (fs.nr_open raised above it): "
          "FIFO holders beyond that are not reported",
          truncated - logged, IPCW_FDWALK_MAX_FDS);
    }
  }

  std::unique_ptr<BpfHostIterator> iterator_;
  std::mutex socket_mutex_;
  std::unique_ptr<BpfHostIterator> socket_iterator_;
  std::string socket_error_;  // why it could not be loaded (tried once)
  // Snapshots outside a scrape may read concurrently with one inside it.
  std::atomic<std::uint64_t> truncated_logged_{0};
};

}  // namespace

std::unique_ptr<HostFactsReader> makeBpfHostFacts(const std::string& procfs, std::string& why) {
  // The iterators report the pids of the initial pid namespace; procfs must show the same
  // (the host's /proc, or a container's with hostPID). A fixture tree or another pid
  // namespace's procfs keeps the walk, so that every fact comes from one view of the host.
  char self[32] = {};
  const ssize_t n = readlink((procfs + "/self").c_str(), self, sizeof self - 1);
  if (n <= 0 || std::string(self, static_cast<std::size_t>(n)) != std::to_string(getpid())) {
    why = procfs + " is not this process's procfs";
    return nullptr;
  }
  auto iterator = BpfHostIterator::create(/*want_sockets=*/false, why);
  if (!iterator) {
    return nullptr;
  }
  struct stat own_mnt {};
  if (stat((procfs + "/self/ns/mnt").c_str(), &own_mnt) != 0) {
    why = "cannot stat " + procfs + "/self/ns/mnt";
    return nullptr;
  }
  try {
    const auto processes = iterator->processes();
    const auto self_entry = std::find_if(processes.begin(), processes.end(), [](const auto& p) {
      return p.pid == static_cast<std::uint32_t>(getpid());
    });
    if (self_entry == processes.end() || self_entry->mnt_ns != own_mnt.st_ino) {
      why = "the agent is not in the initial pid namespace (the iterators' pids differ from " +
            procfs + "'s)";
      return nullptr;
    }
  } catch (const std::exception& e) {
    why = std::string("the task iterator cannot be read: ") + e.what();
    return nullptr;
  }
  return std::make_unique<BpfHostFacts>(std::move(iterator));
}

}  // namespace ipcwatch
