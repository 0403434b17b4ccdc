#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/label_cap.h"
#include "metrics/scrape_label_cap.h"

namespace ipcwatch {

// The cap of every (metric, label) pair fed by the outside world, created at start-up so that
// ipcwatch_label_overflow_total lists every capped metric from the first scrape: a LabelCap for
// counters (admission for the life of the process), a ScrapeLabelCap for gauges (admission per
// scrape, so the gauge shows what is true now).
class LabelCaps {
 public:
  LabelCaps(std::uint32_t comm_cap, std::uint32_t path_cap, std::uint32_t remembered,
            std::uint32_t workload_cap = 1000)
      : comm_cap_(comm_cap),
        path_cap_(path_cap),
        workload_cap_(workload_cap),
        remembered_(remembered) {}

  // The cap on the comm / path label of `metric`, created on first use. A metric with both
  // labels gets one cap each; its overflow count is their sum.
  LabelCap& comm(const std::string& metric);
  LabelCap& path(const std::string& metric);
  // The cap on the workload of `metric`: its unit, container and pod labels taken together, so
  // one cgroup is one value and a folded workload shows "other" in each of them.
  LabelCap& workload(const std::string& metric);
  // The cap on any other outside-world label of `metric` (SELinux types, classes, ops), sized
  // like the path cap.
  LabelCap& label(const std::string& metric, const std::string& label);
  // The per-scrape cap on the path label of gauge `metric`, sized like the path cap.
  ScrapeLabelCap& gaugePath(const std::string& metric);
  // The per-scrape cap on the workloads of gauge `metric`, sized like the workload cap.
  ScrapeLabelCap& gaugeWorkload(const std::string& metric);

  // metric name -> folds so far.
  std::vector<std::pair<std::string, std::uint64_t>> folds() const;

 private:
  LabelCap& get(const std::string& metric, const std::string& label, std::uint32_t cap);

  const std::uint32_t comm_cap_;
  const std::uint32_t path_cap_;
  const std::uint32_t workload_cap_;
  const std::uint32_t remembered_;
  mutable std::mutex mutex_;
  // (metric, label) -> cap
  std::map<std::pair<std::string, std::string>, std::unique_ptr<LabelCap>> caps_;
  // metric -> per-scrape cap of its path label
  std::map<std::string, std::unique_ptr<ScrapeLabelCap>> gauge_caps_;
};

}  // namespace ipcwatch
