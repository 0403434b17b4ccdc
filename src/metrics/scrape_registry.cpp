#include "metrics/scrape_registry.h"

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "metrics/family.h"

namespace ipcwatch {
namespace {

// The abandon flag of the scrape running on this thread, for scrapeAbandoned().
thread_local const std::atomic<bool>* current_abandon = nullptr;

// Points current_abandon at a scrape's flag for as long as the scrape runs.
class AbandonScope {
 public:
  explicit AbandonScope(const std::atomic<bool>& flag) : previous_(current_abandon) {
    current_abandon = &flag;
  }
  ~AbandonScope() { current_abandon = previous_; }
  AbandonScope(const AbandonScope&) = delete;
  AbandonScope& operator=(const AbandonScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

}  // namespace

bool scrapeAbandoned() {
  return current_abandon != nullptr && current_abandon->load(std::memory_order_relaxed);
}

void ScrapeRegistry::add(std::unique_ptr<Collector> collector) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<CollectorSet>();
  next->keep_alive = set_->keep_alive;
  next->collectors = std::move(set_->collectors);
  next->collectors.push_back(std::move(collector));
  set_ = std::move(next);
}

void ScrapeRegistry::replace(std::vector<std::unique_ptr<Collector>> next,
                             std::shared_ptr<const void> keep_alive) {
  auto set = std::make_shared<CollectorSet>();
  set->collectors = std::move(next);
  set->keep_alive = std::move(keep_alive);
  std::shared_ptr<CollectorSet> old;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      return;
    }
    old = std::exchange(set_, std::move(set));
  }
  // `old` goes here unless a scrape still holds it; then that scrape releases it.
}

void ScrapeRegistry::setScrapeScope(std::function<std::shared_ptr<void>()> begin) {
  std::lock_guard lock(mutex_);
  begin_scrape_ = std::move(begin);
}

std::vector<std::string> ScrapeRegistry::collectorNames() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& collector : set_->collectors) {
    names.emplace_back(collector->name());
  }
  return names;
}

bool ScrapeRegistry::stop(std::chrono::milliseconds grace) {
  std::shared_ptr<CollectorSet> old;
  std::unique_lock lock(mutex_);
  stopped_ = true;
  abandon_ = true;
  old = std::exchange(set_, std::make_shared<CollectorSet>());
  const bool idle = idle_.wait_for(lock, grace, [this] { return !collecting_; });
  lock.unlock();
  if (!idle) {
    spdlog::warn("stop: a scrape is still inside a collector after {} ms; not waiting for it",
                 grace.count());
  }
  return idle;
}

void ScrapeRegistry::logOutcome(const std::string& name, bool ok, const std::string& what) const {
  if (ok) {
    if (failing_.erase(name) != 0) {
      spdlog::info("collector {} recovered", name);
    }
    return;
  }
  if (failing_.insert(name).second) {
    spdlog::error("collector {} failed: {} (further failures are logged at debug level)", name,
                  what);
  } else {
    spdlog::debug("collector {} failed: {}", name, what);
  }
}

std::vector<MetricFamily> ScrapeRegistry::collect() const {
  std::lock_guard scrape_lock(scrape_mutex_);
  std::shared_ptr<const CollectorSet> set;
  std::function<std::shared_ptr<void>()> begin;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      return {};
    }
    set = set_;
    begin = begin_scrape_;
    collecting_ = true;
  }
  std::vector<MetricFamily> out;
  std::exception_ptr failure;
  try {
    const AbandonScope abandon_scope(abandon_);
    const std::shared_ptr<void> scope = begin ? begin() : nullptr;
    out = collectFrom(*set);
  } catch (...) {
    failure = std::current_exception();
  }
  // The last scrape of a replaced set destroys it here, before stop() can see this scrape gone.
  set.reset();
  {
    std::lock_guard lock(mutex_);
    collecting_ = false;
    idle_.notify_all();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  return out;
}

std::vector<MetricFamily> ScrapeRegistry::collectFrom(const CollectorSet& set) const {
  std::vector<MetricFamily> out;
  FamilyBuilder duration("ipcwatch_collector_duration_seconds",
                         "Time the collector took during the last scrape.", MetricType::Gauge);
  FamilyBuilder success("ipcwatch_collector_success",
                        "Whether the collector succeeded during the last scrape (1) or not (0).",
                        MetricType::Gauge);
  for (const auto& collector : set.collectors) {
    if (abandon_.load(std::memory_order_relaxed)) {
      break;  // stopping: the response is cut here
    }
    const std::string name(collector->name());
    std::vector<MetricFamily> families;
    bool ok = true;
    std::string what;
    const auto start = std::chrono::steady_clock::now();
    try {
      collector->collect(families);
    } catch (const std::exception& e) {
      ok = false;
      what = e.what();
    } catch (...) {
      ok = false;
      what = "a non-standard exception";
    }
    logOutcome(name, ok, what);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    duration.set({{"collector", name}}, took.count());
    success.set({{"collector", name}}, ok ? 1 : 0);
    if (ok) {
      for (auto& family : families) {
        out.push_back(std::move(family));
      }
    }
  }
  out.push_back(duration.build());
  out.push_back(success.build());
  return out;
}

}  // namespace ipcwatch
