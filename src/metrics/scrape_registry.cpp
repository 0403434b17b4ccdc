#include "metrics/scrape_registry.h"

#include <chrono>
#include <exception>
#include <string>

#include <spdlog/spdlog.h>

#include "metrics/family.h"

namespace ipcwatch {

void ScrapeRegistry::add(std::unique_ptr<Collector> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::vector<std::unique_ptr<Collector>> ScrapeRegistry::replace(
    std::vector<std::unique_ptr<Collector>> next) {
  std::lock_guard lock(mutex_);
  collectors_.swap(next);
  return next;
}

void ScrapeRegistry::setScrapeScope(std::function<std::shared_ptr<void>()> begin) {
  std::lock_guard lock(mutex_);
  begin_scrape_ = std::move(begin);
}

std::vector<std::string> ScrapeRegistry::collectorNames() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& collector : collectors_) {
    names.emplace_back(collector->name());
  }
  return names;
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
  std::lock_guard lock(mutex_);
  const std::shared_ptr<void> scope = begin_scrape_ ? begin_scrape_() : nullptr;
  std::vector<MetricFamily> out;
  FamilyBuilder duration("ipcwatch_collector_duration_seconds",
                         "Time the collector took during the last scrape.", MetricType::Gauge);
  FamilyBuilder success("ipcwatch_collector_success",
                        "Whether the collector succeeded during the last scrape (1) or not (0).",
                        MetricType::Gauge);
  for (const auto& collector : collectors_) {
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
