#include "documented_metrics.h"

#include <fstream>
#include <regex>

namespace ipcwatch::testing {

std::map<std::string, std::string> documentedMetricTypes(const std::string& source_dir) {
  std::ifstream in(source_dir + "/docs/metrics.md");
  std::map<std::string, std::string> types;
  static const std::regex kRow(R"(^\| `([a-z_:]+)` \| (counter|gauge|histogram|summary) \|)");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kRow)) {
      types[match[1]] = match[2];
    }
  }
  return types;
}

}  // namespace ipcwatch::testing
