#include "metrics/scrape_label_cap.h"

#include <algorithm>

namespace ipcwatch {

ScrapeLabelCap::Admitted ScrapeLabelCap::admit(
    std::vector<std::pair<std::string, double>> candidates) {
  // Most relevant first; for one value, its highest relevance comes first.
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  Admitted admitted;
  std::unordered_set<std::string_view> folded;
  std::lock_guard lock(mutex_);
  for (const auto& [value, relevance] : candidates) {
    if (admitted.contains(value) || folded.count(value) != 0) {
      continue;
    }
    if (admitted.size() < cap_ && value != kOther) {
      admitted.kept_.insert(value);
    } else {
      folded.insert(value);
      countFold(value);
    }
  }
  return admitted;
}

void ScrapeLabelCap::countFold(std::string_view value) {
  const std::size_t hash = std::hash<std::string_view>{}(value);
  if (folded_hashes_.count(hash) == 0) {
    if (folded_hashes_.size() < remembered_) {
      folded_hashes_.insert(hash);
    }
    ++folds_;
  }
}

std::uint64_t ScrapeLabelCap::folds() const {
  std::lock_guard lock(mutex_);
  return folds_;
}

}  // namespace ipcwatch
