#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "probes/probe.h"

struct broken_pipe_bpf;
struct bpf_link;

namespace ipcwatch {

struct BrokenPipeProbeOptions {
  bool epipe = true;
  std::vector<std::string> syscalls;  // syscall-exit tracepoints to attach for EPIPE
  bool sigpipe = true;                // signal_generate + sched_process_exit
  std::uint32_t map_entries = 4096;   // per counter map; a full map counts into "other"
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

  std::vector<ProgramStatus> programs() const override;
  bool loaded() const { return loaded_; }
  const BrokenPipeProbeOptions& options() const { return options_; }

  // Map fds, or -1 when the object did not load.
  int epipeCountsFd() const;
  int sigpipeCountsFd() const;
  int sigpipeDeathsFd() const;
  int fallbackCountsFd() const;

  // BPF program names for the EPIPE syscall tracepoints ("epipe_<syscall>").
  static std::string epipeProgramName(const std::string& syscall);

 private:
  struct LinkDeleter {
    void operator()(bpf_link* link) const;
  };
  struct SkeletonDeleter {
    void operator()(broken_pipe_bpf* skel) const;
  };

  void openAndLoad();
  void attachAll();
  std::vector<std::string> enabledPrograms() const;

  BrokenPipeProbeOptions options_;
  // Declaration order is teardown order in reverse: links are destroyed before the skeleton.
  std::unique_ptr<broken_pipe_bpf, SkeletonDeleter> skel_;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;
  std::vector<ProgramStatus> status_;
  bool loaded_ = false;
};

}  // namespace ipcwatch
