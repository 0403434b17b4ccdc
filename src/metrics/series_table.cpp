#include "metrics/series_table.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>

#include "metrics/text_format.h"

namespace ipcwatch {
namespace {

// Offsets into the shared buffers are 32-bit: four bytes per field instead of eight.
std::uint32_t offset32(std::size_t offset) {
  if (offset > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("series table larger than 4 GiB");
  }
  return static_cast<std::uint32_t>(offset);
}

}  // namespace

SeriesTable::SeriesTable(std::string name, std::string help, MetricType type)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      index_(0, KeyHash{this}, KeyEqual{this}) {}

std::size_t SeriesTable::KeyHash::operator()(std::string_view key) const {
  return std::hash<std::string_view>{}(key);
}

SeriesTable::Slot SeriesTable::slot(const LabelSet& labels) {
  // The key FamilyBuilder sorts on: names and values with a NUL after each, so the order of
  // the series is the same as the order of their label sets.
  scratch_key_.clear();
  for (const auto& [name, value] : labels) {
    scratch_key_.append(name).push_back('\0');
    scratch_key_.append(value).push_back('\0');
  }
  if (const auto it = index_.find(std::string_view(scratch_key_)); it != index_.end()) {
    return *it;
  }
  const Slot slot = offset32(series_.size());
  const std::uint32_t key_offset = offset32(keys_.size());
  keys_ += scratch_key_;
  // What precedes the value on the series' line: name, label set, space.
  const std::uint32_t text_offset = offset32(texts_.size());
  texts_ += name_;
  appendLabelSet(texts_, labels);
  texts_ += ' ';
  series_.push_back({key_offset, offset32(scratch_key_.size()), text_offset,
                     offset32(texts_.size() - text_offset), 0, 0.0});
  order_.push_back(slot);
  index_.insert(slot);
  return slot;
}

void SeriesTable::beginScrape() {
  ++scrape_;
  valued_ = 0;
  valued_bytes_ = 0;
}

double& SeriesTable::valueFor(Slot slot) {
  Series& series = series_[slot];
  if (series.scrape != scrape_) {
    series.scrape = scrape_;
    series.value = 0;
    ++valued_;
    valued_bytes_ += series.text_length + kMaxSampleValueLength + 1;
  }
  return series.value;
}

void SeriesTable::add(Slot slot, double value) {
  valueFor(slot) += value;
}

void SeriesTable::set(Slot slot, double value) {
  valueFor(slot) = value;
}

// New series are sorted among themselves and merged into the ordered ones: after the first
// scrape, a scrape that brings no new label set sorts nothing.
void SeriesTable::orderNewSeries() {
  if (ordered_ == order_.size()) {
    return;
  }
  const auto less = [this](Slot a, Slot b) { return keyOf(a) < keyOf(b); };
  const auto middle = order_.begin() + static_cast<std::ptrdiff_t>(ordered_);
  std::sort(middle, order_.end(), less);
  std::inplace_merge(order_.begin(), middle, order_.end(), less);
  ordered_ = order_.size();
}

MetricFamily SeriesTable::build() {
  orderNewSeries();
  MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type_;
  // One copy and one number per series, through a pointer into a buffer sized for the longest
  // values: appending name, labels, space and value one by one took twice as long.
  std::string& text = family.series_text;
  text.resize(valued_bytes_);
  char* const begin = text.data();
  char* at = begin;
  for (const Slot slot : order_) {
    const Series& series = series_[slot];
    if (series.scrape != scrape_) {
      continue;
    }
    at = std::copy_n(texts_.data() + series.text_offset, series.text_length, at);
    at = writeSampleValue(at, series.value);
    *at++ = '\n';
  }
  text.resize(static_cast<std::size_t>(at - begin));
  return family;
}

}  // namespace ipcwatch
