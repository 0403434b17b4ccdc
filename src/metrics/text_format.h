#pragma once

#include <string>
#include <vector>

#include "metrics/metric_family.h"

namespace ipcwatch {

// Appends the Prometheus text exposition (format 0.0.4) of `families` to `out`. Written for
// large scrapes: plain appends and std::to_chars instead of iostreams. Label values are escaped
// (backslash, double quote, newline) as the format requires.
void appendExposition(std::string& out, const std::vector<MetricFamily>& families);

}  // namespace ipcwatch
