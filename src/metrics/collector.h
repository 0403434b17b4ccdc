#pragma once

#include <string_view>
#include <vector>

#include "metrics/metric_family.h"

namespace ipcwatch {

// Produces metric families at scrape time. collect() may throw: the ScrapeRegistry catches
// everything, drops the partial output and reports ipcwatch_collector_success 0.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string_view name() const = 0;
  virtual void collect(std::vector<MetricFamily>& out) = 0;
};

}  // namespace ipcwatch
