#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "metrics/collector.h"

namespace ipcwatch {

// Runs every collector at scrape time and adds ipcwatch_collector_duration_seconds and
// ipcwatch_collector_success for each. Scrapes are serialised: collectors need not be
// thread-safe, and concurrent scrapes cannot double the load on the host.
class ScrapeRegistry : public prometheus::Collectable {
 public:
  void add(std::unique_ptr<Collector> collector);
  std::vector<std::string> collectorNames() const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Collector>> collectors_;
};

}  // namespace ipcwatch
