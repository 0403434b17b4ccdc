#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ipcwatch {

using LabelSet = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { Counter, Gauge, Histogram, Untyped };

// One series of a counter, gauge or untyped family.
struct Sample {
  LabelSet labels;
  double value = 0;
};

struct HistogramBucket {
  double upper_bound = 0;
  std::uint64_t cumulative_count = 0;
};

// One series of a histogram family: its buckets in increasing order, the last one +Inf.
struct HistogramSample {
  LabelSet labels;
  std::vector<HistogramBucket> buckets;
  double sum = 0;
  std::uint64_t count = 0;
};

// What a collector hands to the exposition: only what the text format needs. Histogram
// families fill `histograms`, every other type fills `samples`, or, for families of tens of
// thousands of series kept from scrape to scrape (SeriesTable), `series_text`: the series
// already written as exposition lines, in order, so a scrape allocates nothing per series.
struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::Untyped;
  std::vector<Sample> samples;
  std::vector<HistogramSample> histograms;
  std::string series_text;
};

// What /metrics renders: a whole scrape's families.
class MetricSource {
 public:
  virtual ~MetricSource() = default;
  virtual std::vector<MetricFamily> collect() const = 0;
};

}  // namespace ipcwatch
