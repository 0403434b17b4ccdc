#pragma once

#include <map>
#include <string>

namespace ipcwatch::testing {

// The metric table of docs/metrics.md, the contract with dashboards and alerts: family name -> type
// (counter, gauge, histogram, summary). `source_dir` is the project's source tree.
std::map<std::string, std::string> documentedMetricTypes(const std::string& source_dir);

}  // namespace ipcwatch::testing
