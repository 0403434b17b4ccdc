#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "probes/probe.h"
#include "probes/program_set.h"

struct broken_pipe_bpf;

namespace ipcwatch {

struct BrokenPipeProbeOptions {
  bool epipe = true;
  std::vector<std::string> syscalls;  // the syscalls (and io_uring) whose EPIPE is counted
  bool syscall_tracepoints = true;    // false: on BPF trampolines or not at all (ProgramSet)
  bool sigpipe = true;                // signal_generate + sched_process_exit
  bool pipe_limits = true;            // the exits of pipe, pipe2 and fcntl
  std::uint32_t map_entries = 4096;   // per counter map; a full map counts into "other"
  // Whose cgroup the kernel records with each count (bpf/ipcw_identity.bpf.h):
  // cgroupSource() of the hierarchy, kNoCgroup for none.
  int cgroup_source = kNoCgroup;
};

// Owns the broken_pipe BPF skeleton: open → configure (autoload, map sizes) → load → attach.
// Never throws for environment failures: a program that cannot load or attach is degraded,
// logged once at warn, and reported through programs().
class BrokenPipeProbe : public Probe {
 public:
  explicit BrokenPipeProbe(BrokenPipeProbeOptions options);
  ~BrokenPipeProbe() override;
  BrokenPipeProbe(const BrokenPipeProbe&) = delete;
  BrokenPipeProbe& operator=(const BrokenPipeProbe&) = delete;

  std::vector<ProgramStatus> programs() const override { return programs_.status(); }
  void detach() override { programs_.detach(); }
  bool loaded() const { return skel_ != nullptr; }
  const BrokenPipeProbeOptions& options() const { return options_; }

  // Map fds; only valid when loaded().
  int epipeCountsFd() const;
  int sigpipeCountsFd() const;
  int sigpipeDeathsFd() const;
  int pipeLimitCountsFd() const;
  int fallbackCountsFd() const;

  // BPF program names for the EPIPE syscall tracepoints ("epipe_<syscall>").
  static std::string epipeProgramName(const std::string& syscall);

 private:
  struct SkeletonDeleter {
    void operator()(broken_pipe_bpf* skel) const;
  };

  std::vector<std::string> enabledPrograms() const;

  BrokenPipeProbeOptions options_;
  // Members are destroyed in reverse order: the links in programs_ go before the skeleton.
  std::unique_ptr<broken_pipe_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
};

}  // namespace ipcwatch
