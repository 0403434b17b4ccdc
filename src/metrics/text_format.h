#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "metrics/metric_family.h"

namespace ipcwatch {

// Appends the Prometheus text exposition (format 0.0.4) of `families` to `out`. Written for
// large scrapes: plain appends and std::to_chars instead of iostreams. Label values are escaped
// (backslash, double quote, newline) as the format requires.
void appendExposition(std::string& out, const std::vector<MetricFamily>& families);

// The `{name="value",...}` of one series as appendExposition writes it (nothing for an empty
// label set), for series rendered ahead of the scrape (SeriesTable).
void appendLabelSet(std::string& out, const LabelSet& labels);

// A sample value as appendExposition writes it.
void appendSampleValue(std::string& out, double value);
// The same into `out`, which has room for kMaxSampleValueLength characters; returns the end.
constexpr std::size_t kMaxSampleValueLength = 32;
char* writeSampleValue(char* out, double value);

}  // namespace ipcwatch
