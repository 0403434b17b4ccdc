#pragma once

#include <cstddef>
#include <vector>

#include "collectors/identity_labels.h"
#include "metrics/collector.h"
#include "metrics/label_caps.h"
#include "probes/fifo_open_probe.h"

struct ipcw_inflight_open;

namespace ipcwatch {

// FIFO opens: the wait histogram (kernel), blocked opens and open errors (ring-buffer events)
// and the opens blocked right now (the kernel's in-flight map, resolved at scrape time).
class FifoOpenCollector : public Collector {
 public:
  FifoOpenCollector(const FifoOpenProbe& probe, LabelCaps& caps, FailureIdentities& identities);
  std::string_view name() const override { return "fifo_open"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  MetricFamily waitHistogram() const;
  void addWaiting(std::vector<MetricFamily>& out);

  const FifoOpenProbe& probe_;
  ScrapeLabelCap& waiting_path_cap_;  // of both waiting gauges, applied per scrape
  IdentityLabels& blocked_identity_;
  IdentityLabels& error_identity_;
};

// The opens in flight in the probe's inflight map (keyed by thread id), each at most once,
// though every open() that returns deletes its entry meanwhile: by batch lookups, or on
// kernels without them by a key walk (readInflightOpensByKey).
std::vector<ipcw_inflight_open> readInflightOpens(int map_fd);
// The key walk: it starts over whenever the key it stands on is deleted, so it skips the keys
// it has already seen and stops after `max_steps` keys.
std::vector<ipcw_inflight_open> readInflightOpensByKey(int map_fd, std::size_t max_steps);

}  // namespace ipcwatch
