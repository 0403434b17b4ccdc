#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "metrics/metric_family.h"

namespace ipcwatch {

// Accumulates the samples of one metric family, summing samples whose label sets are equal
// (after capping, several raw values can map to one exported label set). Built for scrapes of
// tens of thousands of series: one hash lookup per sample, one sort at build(), and each label
// set stored once, then moved into the family.
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, MetricType type)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        index_(0, Hash{this}, Equal{this}) {}
  FamilyBuilder(const FamilyBuilder&) = delete;
  FamilyBuilder& operator=(const FamilyBuilder&) = delete;

  void add(LabelSet labels, double value) { slot(std::move(labels)) += value; }
  void set(LabelSet labels, double value) { slot(std::move(labels)) = value; }
  bool empty() const { return samples_.empty(); }

  // The family with its samples ordered by label set, so output is deterministic. Hands over
  // the samples: the builder is empty afterwards.
  MetricFamily build();

 private:
  double& slot(LabelSet&& labels);

  // index_ holds positions in samples_; the one position that is not there yet (kProbe) stands
  // for the label set being looked up, so a lookup needs no copy of it.
  static constexpr std::size_t kProbe = static_cast<std::size_t>(-1);
  const LabelSet& labelsAt(std::size_t i) const {
    return i == kProbe ? *probe_ : samples_[i].labels;
  }
  struct Hash {
    const FamilyBuilder* owner;
    std::size_t operator()(std::size_t i) const;
  };
  struct Equal {
    const FamilyBuilder* owner;
    bool operator()(std::size_t a, std::size_t b) const {
      return owner->labelsAt(a) == owner->labelsAt(b);
    }
  };

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<Sample> samples_;
  const LabelSet* probe_ = nullptr;
  std::unordered_set<std::size_t, Hash, Equal> index_;
};

}  // namespace ipcwatch
