#pragma once

#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/fifo_open_probe.h"

namespace ipcwatch {

// FIFO opens: the wait histogram (kernel), blocked opens and open errors (ring-buffer events)
// and the opens blocked right now (the kernel's in-flight map, resolved at scrape time).
class FifoOpenCollector : public Collector {
 public:
  FifoOpenCollector(const FifoOpenProbe& probe, LabelCaps& caps);
  std::string_view name() const override { return "fifo_open"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  MetricFamily waitHistogram() const;
  void addWaiting(std::vector<MetricFamily>& out);

  const FifoOpenProbe& probe_;
  ScrapeLabelCap& waiting_path_cap_;  // of both waiting gauges, applied per scrape
};

}  // namespace ipcwatch
