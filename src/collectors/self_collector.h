#pragma once

#include <string>
#include <vector>

#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/probe.h"

namespace ipcwatch {

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string libbpf_version;
  std::string kernel_release;
};

BuildInfo currentBuildInfo();

// The agent's own health: ipcwatch_build_info, ipcwatch_probe_attached{probe},
// ipcwatch_events_lost_total{probe} and ipcwatch_label_overflow_total{metric}. Registered last so the overflow counts include the
// folds made by the other collectors in the same scrape.
class SelfCollector : public Collector {
 public:
  SelfCollector(BuildInfo build, std::vector<const Probe*> probes, const LabelCaps& caps)
      : build_(std::move(build)), probes_(std::move(probes)), caps_(caps) {}
  std::string_view name() const override { return "self"; }
  void collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  const BuildInfo build_;
  const std::vector<const Probe*> probes_;
  const LabelCaps& caps_;
};

}  // namespace ipcwatch
