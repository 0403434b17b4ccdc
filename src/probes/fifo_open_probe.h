#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metrics/label_caps.h"
#include "probes/probe.h"
#include "probes/program_set.h"
#include "probes/ring_buffer_poller.h"

struct fifo_open_bpf;
struct ipcw_fifo_event;
struct ipcw_fifo_key;

namespace ipcwatch {

struct FifoOpenProbeOptions {
  std::vector<std::string> syscalls = {"openat", "open"};
  bool syscall_tracepoints = true;  // false: on BPF trampolines or not at all (ProgramSet)
  std::uint64_t blocked_threshold_ns = 1'000'000'000;
  std::vector<std::string> watch_paths;  // absolute paths or prefixes, at most 16
  // Names the kernel's counts map holds at once; a count that finds it full is lost (and counted
  // as lost). Names past the path cap leave it at every scrape.
  std::uint32_t count_entries = 4096;
  std::string procfs = "/proc";
  bool record_comm = true;  // false: the kernel keys no comm (no comm label)
  // Whose cgroup the kernel records with each count (bpf/ipcw_identity.bpf.h):
  // cgroupSource() of the hierarchy, kNoCgroup for none.
  int cgroup_source = kNoCgroup;
  CgroupFolds blocked_cgroup_folds;  // may be empty: no workload is ever folded
  CgroupFolds error_cgroup_folds;
};

// One count as labels: the FIFO (path, capped), what happened (a blocked open's mode, a failed
// open's errno name) and who opened (comm, capped or empty when not recorded; the cgroup id,
// which the collector turns into workload labels).
struct FifoCountLabels {
  std::string path;
  std::string detail;
  std::string comm;
  std::uint64_t cgroup = 0;
  auto operator<=>(const FifoCountLabels&) const = default;
};

// The kernel's counts by label: several kernel names can share a label (one FIFO reached from
// two directories, names past the path cap), so they are added up here, keyed by already-capped
// label values.
struct FifoOpenCounts {
  std::map<FifoCountLabels, std::uint64_t> blocked;
  std::map<FifoCountLabels, std::uint64_t> errors;
};

// Owns the fifo_open BPF skeleton and the thread that drains its ring buffer. Like every probe
// it never throws for environment failures: what cannot load or attach is degraded.
class FifoOpenProbe : public Probe {
 public:
  FifoOpenProbe(FifoOpenProbeOptions options, LabelCaps& caps);
  ~FifoOpenProbe() override;
  FifoOpenProbe(const FifoOpenProbe&) = delete;
  FifoOpenProbe& operator=(const FifoOpenProbe&) = delete;

  std::vector<ProgramStatus> programs() const override { return programs_.status(); }
  void detach() override { programs_.detach(); }
  // "fifo_open": blocked or failed opens not counted because the kernel's counts map was full;
  // "fifo_open_inflight": opens not tracked because the in-flight map was full.
  std::vector<LostEvents> lostEvents() const override;
  bool loaded() const { return skel_ != nullptr; }
  const FifoOpenProbeOptions& options() const { return options_; }

  // Reads the kernel's counts and adds what they gained since the last read to the counts by
  // label; names not resolved yet (their ring-buffer hint was dropped) are resolved first.
  FifoOpenCounts counts() const;

  // Map fds; only valid when loaded().
  int waitHistFd() const;
  int inflightFd() const;

  // Handles one ring-buffer record: resolves the new name while its opener runs (exposed for
  // tests).
  void handleEvent(const ipcw_fifo_event& event) const;

 private:
  struct SkeletonDeleter {
    void operator()(fifo_open_bpf* skel) const;
  };

  // A kernel name as labels, and how much of its kernel count is already in counts_.
  struct Resolved {
    bool blocked = false;
    FifoCountLabels labels;
    std::uint64_t seen = 0;
    // Whether a label is past its cap.
    bool folded() const {
      return labels.path == LabelCap::kOther || labels.comm == LabelCap::kOther ||
             labels.cgroup == kFoldedCgroup;
    }
  };

  void configure(fifo_open_bpf* skel) const;
  // The labels of a kernel name, judged in the view of its opener (tgid, dfd); none when the name
  // is not counted here (an EACCES on a regular file...).
  std::optional<Resolved> resolve(const ipcw_fifo_key& key, std::uint32_t tgid, int dfd) const;
  // Resolves key unless it already is; a name not counted here leaves the kernel's map. Returns
  // its entry in resolved_, or end(). Called with the lock held; it is released while resolving.
  std::map<std::string, Resolved>::iterator adopt(std::unique_lock<std::mutex>& lock,
                                                  const ipcw_fifo_key& key, std::uint32_t tgid,
                                                  int dfd) const;
  bool isWatched(const std::string& path) const;
  // Whether path (as the process with tgid saw it) is a FIFO, judged in its mount namespace.
  bool isFifoFor(std::uint32_t tgid, int dfd, const std::string& path) const;
  std::string displayPath(std::uint32_t tgid, int dfd, const std::string& path) const;

  FifoOpenProbeOptions options_;
  LabelCap& blocked_path_cap_;
  LabelCap& error_path_cap_;
  LabelCap* blocked_comm_cap_ = nullptr;  // null when no comm is recorded
  LabelCap* error_comm_cap_ = nullptr;
  mutable std::mutex mutex_;
  mutable FifoOpenCounts counts_;
  mutable std::map<std::string, Resolved> resolved_;  // by the kernel key's bytes
  // Destroyed in reverse order: the polling thread stops, then the ring buffer goes, then the
  // links, then the skeleton.
  std::unique_ptr<fifo_open_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
  std::unique_ptr<RingBufferPoller> poller_;
};

std::vector<std::string> fifoOpenPrograms(const std::vector<std::string>& syscalls);
// Where the kernel has BPF trampolines, every program of the family runs as two: fentry on
// fifo_open() (which only FIFO opens reach) and fexit on do_filp_open() (every path open: open,
// openat, openat2 and io_uring's openat), whichever syscalls the configuration names.
std::map<std::string, TrampolineVariant> fifoOpenTrampolines(
    const std::vector<std::string>& syscalls);

}  // namespace ipcwatch
