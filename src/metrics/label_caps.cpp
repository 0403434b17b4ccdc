#include "metrics/label_caps.h"

namespace ipcwatch {

LabelCap& LabelCaps::comm(const std::string& metric) {
  auto& cap = caps_[metric];
  if (!cap) {
    cap = std::make_unique<LabelCap>(comm_cap_, remembered_);
  }
  return *cap;
}

std::vector<std::pair<std::string, std::uint64_t>> LabelCaps::folds() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [metric, cap] : caps_) {
    out.emplace_back(metric, cap->folds());
  }
  return out;
}

}  // namespace ipcwatch
