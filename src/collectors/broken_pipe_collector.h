#pragma once

#include "collectors/comm_counter_family.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/broken_pipe_probe.h"

namespace ipcwatch {

// ipc_epipe_total{comm,kind}: read from the probe's per-CPU maps at scrape time. Its series are
// kept from scrape to scrape (CommCounterFamily): a new instance starts over.
class BrokenPipeCollector : public Collector {
 public:
  // identities may be null: no workload labels.
  BrokenPipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps,
                      FailureIdentities* identities = nullptr);
  std::string_view name() const override { return "broken_pipe"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const BrokenPipeProbe& probe_;
  CommCounterFamily epipe_;
};

// ipc_sigpipe_total{comm,action} and ipc_sigpipe_deaths_total{comm}.
class SigpipeCollector : public Collector {
 public:
  SigpipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps,
                   FailureIdentities* identities = nullptr);
  std::string_view name() const override { return "sigpipe"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const BrokenPipeProbe& probe_;
  CommCounterFamily signals_;
  CommCounterFamily deaths_;
};

// Label value of an ipcw_epipe_kind / ipcw_sigpipe_action code.
std::string_view epipeKindName(std::uint32_t kind);
std::string_view sigpipeActionName(std::uint32_t action);

}  // namespace ipcwatch
