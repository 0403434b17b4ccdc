#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/label_caps.h"
#include "probes/probe.h"
#include "probes/program_set.h"
#include "probes/ring_buffer_poller.h"

struct fifo_open_bpf;
struct ipcw_fifo_event;

namespace ipcwatch {

struct FifoOpenProbeOptions {
  std::vector<std::string> syscalls = {"openat", "open"};
  std::uint64_t blocked_threshold_ns = 1'000'000'000;
  std::vector<std::string> watch_paths;  // absolute paths or prefixes, at most 16
  std::string procfs = "/proc";
};

// Counts kept in user space from ring-buffer events, keyed by already-capped label values.
struct FifoEventCounts {
  std::map<std::pair<std::string, std::string>, std::uint64_t> blocked;  // (path, mode)
  std::map<std::pair<std::string, std::string>, std::uint64_t> errors;   // (path, errno name)
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
  // "fifo_open": ring-buffer records dropped; "fifo_open_inflight": opens not tracked because
  // the in-flight map was full.
  std::vector<LostEvents> lostEvents() const override;
  bool loaded() const { return skel_ != nullptr; }
  const FifoOpenProbeOptions& options() const { return options_; }

  FifoEventCounts eventCounts() const;

  // Map fds; only valid when loaded().
  int waitHistFd() const;
  int inflightFd() const;

  // Handles one ring-buffer record (exposed for tests).
  void handleEvent(const ipcw_fifo_event& event);

 private:
  struct SkeletonDeleter {
    void operator()(fifo_open_bpf* skel) const;
  };

  void configure(fifo_open_bpf* skel) const;
  bool isWatched(const std::string& path) const;
  // Whether path (as the process with tgid saw it) is a FIFO, judged in its mount namespace.
  bool isFifoFor(std::uint32_t tgid, int dfd, const std::string& path) const;
  std::string displayPath(std::uint32_t tgid, int dfd, const std::string& path) const;

  FifoOpenProbeOptions options_;
  LabelCap& blocked_path_cap_;
  LabelCap& error_path_cap_;
  mutable std::mutex mutex_;
  FifoEventCounts counts_;
  // Destroyed in reverse order: the polling thread stops, then the ring buffer goes, then the
  // links, then the skeleton.
  std::unique_ptr<fifo_open_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
  std::unique_ptr<RingBufferPoller> poller_;
};

std::vector<std::string> fifoOpenPrograms(const std::vector<std::string>& syscalls);

}  // namespace ipcwatch
