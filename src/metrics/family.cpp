#include "metrics/family.h"

namespace ipcwatch {

prometheus::MetricFamily FamilyBuilder::build() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type_;
  family.metric.reserve(samples_.size());
  for (const auto& [labels, value] : samples_) {
    prometheus::ClientMetric metric;
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
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace ipcwatch
