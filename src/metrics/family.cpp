#include "metrics/family.h"

#include <algorithm>
#include <numeric>

namespace ipcwatch {

double& FamilyBuilder::slot(const LabelSet& labels) {
  std::string key;
  for (const auto& [name, value] : labels) {
    key.append(name).push_back('\0');
    key.append(value).push_back('\0');
  }
  const auto [it, inserted] = index_.try_emplace(std::move(key), samples_.size());
  if (inserted) {
    samples_.push_back({&it->first, labels, 0.0});
  }
  return samples_[it->second].value;
}

prometheus::MetricFamily FamilyBuilder::build() const {
  std::vector<std::size_t> order(samples_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return *samples_[a].key < *samples_[b].key; });
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type_;
  family.metric.resize(samples_.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& [key, labels, value] = samples_[order[i]];
    prometheus::ClientMetric& metric = family.metric[i];
    metric.label.reserve(labels.size());
    for (const auto& [name, label_value] : labels) {
      metric.label.push_back({name, label_value});
    }
    switch (type_) {
      case prometheus::MetricType::Counter:
        metric.counter.value = value;
        break;
      case prometheus::MetricType::Gauge:
        metric.gauge.value = value;
        break;
      default:
        metric.untyped.value = value;
        break;
    }
  }
  return family;
}

}  // namespace ipcwatch
