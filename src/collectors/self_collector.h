#pragma once

#include <string>
#include <vector>

#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "metrics/parse_errors.h"
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
// ipcwatch_events_lost_total{probe}, ipcwatch_label_overflow_total{metric},
// ipcwatch_background_thread_restarts_total{thread} and ipcwatch_parse_errors_total{collector}.
// Registered last so the overflow and parse error counts include the other collectors' same scrape.
class SelfCollector : public Collector {
 public:
  // `inventory_backend`: where the host snapshot reads processes and open FIFOs from
  // ("bpf_iter" or "procfs"), exported as ipcwatch_host_inventory_backend; "" leaves it out.
  SelfCollector(BuildInfo build, std::vector<const Probe*> probes, const LabelCaps& caps,
                const ParseErrors* parse_errors = nullptr, std::string inventory_backend = "")
      : build_(std::move(build)),
        probes_(std::move(probes)),
        caps_(caps),
        parse_errors_(parse_errors),
        inventory_backend_(std::move(inventory_backend)) {}
  std::string_view name() const override { return "self"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const BuildInfo build_;
  const std::vector<const Probe*> probes_;
  const LabelCaps& caps_;
  const ParseErrors* parse_errors_;  // ipcwatch_parse_errors_total, when given
  const std::string inventory_backend_;
};

}  // namespace ipcwatch
