#include "metrics/label_cap.h"

#include <functional>

namespace ipcwatch {

std::string LabelCap::admit(std::string_view value) {
  std::lock_guard lock(mutex_);
  if (admitted_.find(value) != admitted_.end()) {
    return std::string(value);
  }
  // "other" itself is never admitted as a real value: a process named "other" would otherwise
  // merge silently with the fold bucket; it shares the bucket and is counted as a fold.
  if (admitted_.size() < cap_ && value != kOther) {
    admitted_.emplace(value);
    return std::string(value);
  }
  const std::size_t hash = std::hash<std::string_view>{}(value);
  if (folded_hashes_.count(hash) == 0) {
    if (folded_hashes_.size() < remembered_) {
      folded_hashes_.insert(hash);
    }
    ++folds_;
  }
  return std::string(kOther);
}

std::uint64_t LabelCap::folds() const {
  std::lock_guard lock(mutex_);
  return folds_;
}

std::size_t LabelCap::admittedCount() const {
  std::lock_guard lock(mutex_);
  return admitted_.size();
}

}  // namespace ipcwatch
