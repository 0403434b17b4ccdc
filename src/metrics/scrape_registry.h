#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
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
//
// A scrape holds the set of collectors it started with, not a lock that the agent needs: a
// reload swaps a new set in at once while a slow scrape finishes with the old one, and a stop
// tells the scrape in progress to give up (see stop()), so neither waits out a scrape.
class ScrapeRegistry : public MetricSource {
 public:
  // For setting a registry up, before anything scrapes it.
  void add(std::unique_ptr<Collector> collector);
  // Swaps in a whole new set (configuration reload) without waiting for a scrape in progress:
  // that scrape finishes with the set it started with. The old set and `keep_alive` (what its
  // collectors reference, e.g. the configuration they were built from) are released when no
  // scrape uses them any more.
  void replace(std::vector<std::unique_ptr<Collector>> next,
               std::shared_ptr<const void> keep_alive = nullptr);
  std::vector<std::string> collectorNames() const;
  // Called as each scrape starts; what it returns is held until the scrape ends (the host
  // snapshot that every collector of the scrape shares).
  void setScrapeScope(std::function<std::shared_ptr<void>()> begin);

  // For a stop: no scrape starts any more, the scrape in progress is abandoned (it runs no
  // further collector and returns what it has, so its response is cut), and the registry lets
  // go of its collectors. Waits up to `grace` for the scrape in progress to leave the
  // collector it is in; returns true when no scrape uses a collector any more, false when one
  // is still inside a collector (stuck in the kernel, or slow) and may yet touch what the
  // collectors read.
  bool stop(std::chrono::milliseconds grace);
  // Whether stop() has been called: a scrape that ended after it may have been cut short, and
  // must not be served as if it were whole.
  bool stopped() const { return abandon_.load(); }

  std::vector<MetricFamily> collect() const override;

 private:
  struct CollectorSet {
    std::vector<std::unique_ptr<Collector>> collectors;
    std::shared_ptr<const void> keep_alive;
  };

  // Logs a collector's failure at error when a streak of failures starts, at debug while it
  // lasts (a scrape every 15 s must not flood the log), and at info when it recovers.
  void logOutcome(const std::string& name, bool ok, const std::string& what) const;
  std::vector<MetricFamily> collectFrom(const CollectorSet& set) const;

  // Held for a whole scrape: one scrape at a time. Only scrapes take it.
  mutable std::mutex scrape_mutex_;
  // Held for moments: the current set, the scope, and whether a scrape is inside a collector.
  mutable std::mutex mutex_;
  mutable std::condition_variable idle_;
  std::shared_ptr<CollectorSet> set_ = std::make_shared<CollectorSet>();
  std::function<std::shared_ptr<void>()> begin_scrape_;
  bool stopped_ = false;
  mutable bool collecting_ = false;
  mutable std::atomic<bool> abandon_{false};
  mutable std::set<std::string> failing_;  // under scrape_mutex_
};

// Whether the scrape running on this thread has been abandoned (the agent is stopping): a
// collector that loops over many items, each of which may wait, checks it between items and
// returns what it has. False outside a scrape.
bool scrapeAbandoned();

}  // namespace ipcwatch
