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
  const Slot slot = offset32(values_.size());
  keys_of_.push_back({offset32(keys_.size()), offset32(scratch_key_.size())});
  keys_ += scratch_key_;
  // What precedes the value on the series' line: name, label set, space.
  const std::size_t text_offset = pending_texts_.size();
  pending_texts_ += name_;
  appendLabelSet(pending_texts_, labels);
  pending_texts_ += ' ';
  values_.push_back({0.0, 0, offset32(pending_texts_.size() - text_offset)});
  pending_.push_back(slot);
  index_.insert(slot);
  return slot;
}

void SeriesTable::beginScrape() {
  if (++scrape_ == 0) {  // wrapped: no slot may look valued by an old scrape
    for (Value& value : values_) {
      value.scrape = 0;
    }
    scrape_ = 1;
  }
  valued_ = 0;
  valued_bytes_ = 0;
}

double& SeriesTable::valueFor(Slot slot) {
  Value& value = values_[slot];
  if (value.scrape != scrape_) {
    value.scrape = scrape_;
    value.value = 0;
    ++valued_;
    valued_bytes_ += value.text_length + kMaxSampleValueLength + 1;
  }
  return value.value;
}

void SeriesTable::add(Slot slot, double value) {
  valueFor(slot) += value;
}

void SeriesTable::set(Slot slot, double value) {
  valueFor(slot) = value;
}

// New series are sorted among themselves and merged into the ordered ones, texts and all:
// after the first scrape, a scrape that brings no new label set reorders nothing.
void SeriesTable::orderNewSeries() {
  if (pending_.empty()) {
    return;
  }
  struct Fresh {
    Slot slot;
    std::size_t text_offset;  // in pending_texts_
  };
  std::vector<Fresh> fresh;
  fresh.reserve(pending_.size());
  std::size_t offset = 0;
  for (const Slot slot : pending_) {
    fresh.push_back({slot, offset});
    offset += values_[slot].text_length;
  }
  std::sort(fresh.begin(), fresh.end(),
            [this](const Fresh& a, const Fresh& b) { return keyOf(a.slot) < keyOf(b.slot); });
  std::vector<Line> lines;
  lines.reserve(lines_.size() + fresh.size());
  std::string texts;
  texts.reserve(texts_.size() + pending_texts_.size());
  std::size_t old_text = 0;
  auto old_line = lines_.begin();
  auto new_line = fresh.begin();
  while (old_line != lines_.end() || new_line != fresh.end()) {
    if (new_line != fresh.end() &&
        (old_line == lines_.end() || keyOf(new_line->slot) < keyOf(old_line->slot))) {
      const std::uint32_t length = values_[new_line->slot].text_length;
      texts.append(pending_texts_, new_line->text_offset, length);
      lines.push_back({new_line->slot, length});
      ++new_line;
    } else {
      texts.append(texts_, old_text, old_line->text_length);
      old_text += old_line->text_length;
      lines.push_back(*old_line);
      ++old_line;
    }
  }
  lines_.swap(lines);
  texts_.swap(texts);
  pending_.clear();
  pending_texts_.clear();
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
  const char* line_text = texts_.data();
  for (const Line& line : lines_) {
    const Value& value = values_[line.slot];
    if (value.scrape == scrape_) {
      at = std::copy_n(line_text, line.text_length, at);
      at = writeSampleValue(at, value.value);
      *at++ = '\n';
    }
    line_text += line.text_length;
  }
  text.resize(static_cast<std::size_t>(at - begin));
  return family;
}

}  // namespace ipcwatch
