#include "metrics/label_caps.h"

namespace ipcwatch {

LabelCap& LabelCaps::get(const std::string& metric, const std::string& label, std::uint32_t cap) {
  std::lock_guard lock(mutex_);
  auto& entry = caps_[{metric, label}];
  if (!entry) {
    entry = std::make_unique<LabelCap>(cap, remembered_);
  }
  return *entry;
}

LabelCap& LabelCaps::comm(const std::string& metric) { return get(metric, "comm", comm_cap_); }

LabelCap& LabelCaps::path(const std::string& metric) { return get(metric, "path", path_cap_); }

LabelCap& LabelCaps::workload(const std::string& metric) {
  return get(metric, "workload", workload_cap_);
}

LabelCap& LabelCaps::label(const std::string& metric, const std::string& label) {
  return get(metric, label, path_cap_);
}

ScrapeLabelCap& LabelCaps::gaugePath(const std::string& metric) {
  std::lock_guard lock(mutex_);
  auto& entry = gauge_caps_[metric];
  if (!entry) {
    entry = std::make_unique<ScrapeLabelCap>(path_cap_, remembered_);
  }
  return *entry;
}

ScrapeLabelCap& LabelCaps::gaugeWorkload(const std::string& metric) {
  std::lock_guard lock(mutex_);
  auto& entry = gauge_caps_[metric];
  if (!entry) {
    entry = std::make_unique<ScrapeLabelCap>(workload_cap_, remembered_);
  }
  return *entry;
}

std::vector<std::pair<std::string, std::uint64_t>> LabelCaps::folds() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> per_metric;
  for (const auto& [key, cap] : caps_) {
    per_metric[key.first] += cap->folds();
  }
  for (const auto& [metric, cap] : gauge_caps_) {
    per_metric[metric] += cap->folds();
  }
  return {per_metric.begin(), per_metric.end()};
}

}  // namespace ipcwatch
