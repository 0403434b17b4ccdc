#include "metrics/parse_errors.h"

#include <spdlog/spdlog.h>

namespace ipcwatch {

void ParseErrors::declare(const std::string& collector) {
  std::lock_guard lock(mutex_);
  counts_.try_emplace(collector, 0);
}

void ParseErrors::record(const std::string& collector, const std::string& source,
                         std::string_view message) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    ++counts_[collector];
    first = logged_.emplace(collector, source).second;
  }
  if (first) {
    spdlog::warn("{}: cannot parse {}: {} (further errors from this file are logged at debug)",
                 collector, source, message);
  } else {
    spdlog::debug("{}: cannot parse {}: {}", collector, source, message);
  }
}

std::vector<std::pair<std::string, std::uint64_t>> ParseErrors::counts() const {
  std::lock_guard lock(mutex_);
  return {counts_.begin(), counts_.end()};
}

}  // namespace ipcwatch
