#include "collectors/config_reload_collector.h"

#include <chrono>

#include "metrics/family.h"

namespace ipcwatch {
namespace {

double unixNowSeconds() {
  const std::chrono::duration<double> now = std::chrono::system_clock::now().time_since_epoch();
  return now.count();
}

}  // namespace

ReloadStatus::ReloadStatus() : last_success_seconds_(unixNowSeconds()) {}

void ReloadStatus::recordSuccess() {
  std::lock_guard lock(mutex_);
  last_successful_ = true;
  last_success_seconds_ = unixNowSeconds();
}

void ReloadStatus::recordFailure() {
  std::lock_guard lock(mutex_);
  last_successful_ = false;
}

bool ReloadStatus::lastSuccessful() const {
  std::lock_guard lock(mutex_);
  return last_successful_;
}

double ReloadStatus::lastSuccessTimestampSeconds() const {
  std::lock_guard lock(mutex_);
  return last_success_seconds_;
}

void ConfigReloadCollector::collect(std::vector<MetricFamily>& out) {
  FamilyBuilder successful("ipcwatch_config_last_reload_successful",
                           "Whether the last configuration reload attempt was successful (1) or "
                           "rejected (0), in which case the previous configuration keeps running.",
                           MetricType::Gauge);
  successful.set({}, status_.lastSuccessful() ? 1 : 0);
  out.push_back(successful.build());
  FamilyBuilder timestamp("ipcwatch_config_last_reload_success_timestamp_seconds",
                          "Unix time of the last successful configuration load (start-up or "
                          "SIGHUP reload).",
                          MetricType::Gauge);
  timestamp.set({}, status_.lastSuccessTimestampSeconds());
  out.push_back(timestamp.build());
}

}  // namespace ipcwatch
