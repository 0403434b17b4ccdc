#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

namespace ipcwatch {

using LabelSet = std::vector<std::pair<std::string, std::string>>;

// Accumulates the samples of one metric family, summing samples whose label sets are equal
// (after capping, several raw values can map to one exported label set). Built for scrapes of
// tens of thousands of series: one hash lookup per sample, one sort at build().
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, prometheus::MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}

  void add(const LabelSet& labels, double value) { slot(labels) += value; }
  void set(const LabelSet& labels, double value) { slot(labels) = value; }
  bool empty() const { return samples_.empty(); }

  // The family with its samples ordered by label set, so output is deterministic.
  prometheus::MetricFamily build() const;

 private:
  double& slot(const LabelSet& labels);

  std::string name_;
  std::string help_;
  prometheus::MetricType type_;
  struct Sample {
    const std::string* key;  // the joined label set in index_ (node-stable)
    LabelSet labels;
    double value = 0;
  };
  std::vector<Sample> samples_;
  // Label names and values joined with NULs: one string compares like the whole label set.
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace ipcwatch
