#include "metrics/family.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace ipcwatch {

std::size_t FamilyBuilder::Hash::operator()(std::size_t i) const {
  std::size_t hash = 0;
  for (const auto& [name, value] : owner->labelsAt(i)) {
    // boost::hash_combine's mixing: equal label sets in another order must not collide often.
    hash ^= std::hash<std::string_view>{}(name) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
    hash ^=
        std::hash<std::string_view>{}(value) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  }
  return hash;
}

double& FamilyBuilder::slot(LabelSet&& labels) {
  probe_ = &labels;
  const auto it = index_.find(kProbe);
  probe_ = nullptr;
  if (it != index_.end()) {
    return samples_[*it].value;
  }
  samples_.push_back({std::move(labels), 0.0});
  index_.insert(samples_.size() - 1);
  return samples_.back().value;
}

MetricFamily FamilyBuilder::build() {
  index_.clear();
  // Ordered as the label names and values joined would be: name by name, value by value.
  std::sort(samples_.begin(), samples_.end(),
            [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
  MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type_;
  family.samples = std::move(samples_);
  samples_.clear();
  return family;
}

}  // namespace ipcwatch
