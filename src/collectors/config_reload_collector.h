#pragma once

#include <mutex>

#include "metrics/collector.h"

namespace ipcwatch {

// The outcome of the last configuration load, as Prometheus itself reports it: the start-up
// load counts as a successful one.
class ReloadStatus {
 public:
  ReloadStatus();
  void recordSuccess();
  void recordFailure();
  bool lastSuccessful() const;
  double lastSuccessTimestampSeconds() const;

 private:
  mutable std::mutex mutex_;
  bool last_successful_ = true;
  double last_success_seconds_ = 0;  // Unix time
};

// ipcwatch_config_last_reload_successful and
// ipcwatch_config_last_reload_success_timestamp_seconds.
class ConfigReloadCollector : public Collector {
 public:
  explicit ConfigReloadCollector(const ReloadStatus& status) : status_(status) {}
  std::string_view name() const override { return "config"; }
  void collect(std::vector<MetricFamily>& out) override;

 private:
  const ReloadStatus& status_;
};

}  // namespace ipcwatch
