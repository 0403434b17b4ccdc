#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

namespace ipcwatch {

using LabelSet = std::vector<std::pair<std::string, std::string>>;

// Accumulates the samples of one metric family, summing samples whose label sets are equal
// (after capping, several raw values can map to one exported label set).
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, prometheus::MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}

  void add(const LabelSet& labels, double value) { samples_[labels] += value; }
  void set(const LabelSet& labels, double value) { samples_[labels] = value; }
  bool empty() const { return samples_.empty(); }

  prometheus::MetricFamily build() const;

 private:
  std::string name_;
  std::string help_;
  prometheus::MetricType type_;
  std::map<LabelSet, double> samples_;
};

}  // namespace ipcwatch
