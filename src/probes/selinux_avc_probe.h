#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "audit/avc_record_parser.h"
#include "audit/denial_store.h"
#include "probes/probe.h"
#include "probes/program_set.h"
#include "probes/ring_buffer_poller.h"

struct selinux_avc_bpf;
struct ipcw_avc_event;

namespace ipcwatch {

// The `tracepoint` audit source: a BTF program on avc:selinux_audited passes every audited
// decision with denied permissions through a ring buffer; a thread turns each into an AVC
// message (permission names from the kernel's class map) for the denial store. Like every probe
// it never throws for environment failures: what cannot load or attach is degraded.
class SelinuxAvcProbe : public Probe {
 public:
  static constexpr const char* kProgram = "avc_denied";

  explicit SelinuxAvcProbe(DenialStore& store);
  ~SelinuxAvcProbe() override;
  SelinuxAvcProbe(const SelinuxAvcProbe&) = delete;
  SelinuxAvcProbe& operator=(const SelinuxAvcProbe&) = delete;

  std::vector<ProgramStatus> programs() const override { return programs_.status(); }
  void detach() override { programs_.detach(); }
  // "selinux_avc": denials dropped because the ring buffer was full.
  std::vector<LostEvents> lostEvents() const override;
  bool attached() const;

  // The denial one ring-buffer record describes (exposed for tests).
  static AvcMessage avcMessage(const ipcw_avc_event& event);
  void handleEvent(const ipcw_avc_event& event);

 private:
  struct SkeletonDeleter {
    void operator()(selinux_avc_bpf* skel) const;
  };
  void afterPoll();
  std::uint64_t dropped() const;

  DenialStore& store_;
  // Destroyed in reverse order: the polling thread stops, then the ring buffer goes, then the
  // link, then the skeleton.
  std::unique_ptr<selinux_avc_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
  std::unique_ptr<RingBufferPoller> poller_;
  std::uint64_t reported_drops_ = 0;  // used by the poller's thread only
};

}  // namespace ipcwatch
