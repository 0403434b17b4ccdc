#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "metrics/collector.h"
#include "metrics/metric_family.h"

namespace ipcwatch {

// Runs every collector at scrape time and adds ipcwatch_collector_duration_seconds and
// ipcwatch_collector_success for each. Scrapes are serialised: collectors need not be
// thread-safe, and concurrent scrapes cannot double the load on the host.
class ScrapeRegistry : public MetricSource {
 public:
  void add(std::unique_ptr<Collector> collector);
  // Swaps in a whole new set between two scrapes (configuration reload) and hands back the old
  // one, so the caller can destroy it after no scrape can use it any more.
  std::vector<std::unique_ptr<Collector>> replace(std::vector<std::unique_ptr<Collector>> next);
  std::vector<std::string> collectorNames() const;
  // Called as each scrape starts; what it returns is held until the scrape ends (the host
  // snapshot that every collector of the scrape shares).
  void setScrapeScope(std::function<std::shared_ptr<void>()> begin);

  std::vector<MetricFamily> collect() const override;

 private:
  // Logs a collector's failure at error when a streak of failures starts, at debug while it
  // lasts (a scrape every 15 s must not flood the log), and at info when it recovers.
  void logOutcome(const std::string& name, bool ok, const std::string& what) const;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::function<std::shared_ptr<void>()> begin_scrape_;
  mutable std::set<std::string> failing_;
};

}  // namespace ipcwatch
