#pragma once

#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/broken_pipe_probe.h"

namespace ipcwatch {

// ipc_epipe_total{comm,kind}: read from the probe's per-CPU maps at scrape time.
class BrokenPipeCollector : public Collector {
 public:
  BrokenPipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps);
  std::string_view name() const override { return "broken_pipe"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const BrokenPipeProbe& probe_;
  LabelCap& comm_cap_;
};

// ipc_sigpipe_total{comm,action} and ipc_sigpipe_deaths_total{comm}.
class SigpipeCollector : public Collector {
 public:
  SigpipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps);
  std::string_view name() const override { return "sigpipe"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const BrokenPipeProbe& probe_;
  LabelCap& signal_comm_cap_;
  LabelCap& death_comm_cap_;
};

// Label value of an ipcw_epipe_kind / ipcw_sigpipe_action code.
std::string_view epipeKindName(std::uint32_t kind);
std::string_view sigpipeActionName(std::uint32_t action);

}  // namespace ipcwatch
