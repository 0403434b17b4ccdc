#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collectors/comm_counter_family.h"
#include "inventory/host_snapshot.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/broken_pipe_probe.h"

namespace ipcwatch {

// The pipe buffer limits and who is near them: ipc_pipe_limit{resource} from
// <procfs>/sys/fs/pipe-*, ipc_pipe_user_pages{uid} for the users with the most pipe buffer
// pages charged (the kernel's own count, read by the host snapshot's task iterator; absent on
// the procfs backend, which cannot see it), and, from the broken_pipe probe when it counts
// them, ipc_pipe_limit_events_total{comm, event}: what the limits did when they were hit.
class PipeLimitsCollector : public Collector {
 public:
  // `probe` may be null or without pipe_limits: no events family. `identities` may be null.
  PipeLimitsCollector(std::string procfs, HostSnapshotSource& snapshots, std::uint32_t top_n,
                      const BrokenPipeProbe* probe, LabelCaps& caps,
                      FailureIdentities* identities = nullptr);
  std::string_view name() const override { return "pipe_limits"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  void collectUserPages(std::vector<MetricFamily>& out);

  const std::string procfs_;
  HostSnapshotSource& snapshots_;
  const std::uint32_t top_n_;
  const BrokenPipeProbe* probe_;
  std::optional<CommCounterFamily> events_;
  bool backend_logged_ = false;
};

// Label value of an ipcw_pipe_limit_event code.
std::string_view pipeLimitEventName(std::uint32_t event);

// The pipe buffer pages per user from the processes of a snapshot: uid -> pages, each user
// once (all of a user's tasks report the one count). Empty when no process carries the count.
std::vector<std::pair<std::uint32_t, std::uint64_t>> pipePagesByUser(
    const std::vector<ProcessFacts>& processes);

}  // namespace ipcwatch
