#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipcwatch {

// Counts input the agent could not parse (ipcwatch_parse_errors_total{collector}), shared by
// every collector that reads text from the kernel. Each (collector, source) pair is logged at
// warn the first time it fails and at debug afterwards, so a persistently odd file cannot flood
// the log while the counter still shows every occurrence.
class ParseErrors {
 public:
  // Makes `collector`'s series exist (at 0) from the first scrape, so rate() works from the start.
  void declare(const std::string& collector);
  void record(const std::string& collector, const std::string& source, std::string_view message);

  // collector -> errors so far.
  std::vector<std::pair<std::string, std::uint64_t>> counts() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
  std::set<std::pair<std::string, std::string>> logged_;
};

}  // namespace ipcwatch
