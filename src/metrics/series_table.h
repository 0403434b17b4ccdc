#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "metrics/metric_family.h"

namespace ipcwatch {

// The series of one family kept from scrape to scrape, for families of tens of thousands of
// series whose label sets come back every scrape (kernel counters keyed by comm). A label set
// is rendered as exposition text once, when it first appears, into one buffer shared by all
// series, and merged into their order at the next build(); a scrape only gives slots values
// and writes the lines of those that got one, so it allocates nothing per series. Like
// FamilyBuilder, series are ordered by label set and equal label sets share one series (add()
// sums).
//
// Slots are never removed: the table is for label values bounded by a LabelCap.
class SeriesTable {
 public:
  using Slot = std::uint32_t;

  SeriesTable(std::string name, std::string help, MetricType type);
  SeriesTable(const SeriesTable&) = delete;
  SeriesTable& operator=(const SeriesTable&) = delete;

  // The slot of `labels`, created on first use. Costs a hash lookup over the label set: keep
  // the slot instead of calling this per scrape for the same series.
  Slot slot(const LabelSet& labels);

  // Starts a scrape: no series has a value until add() or set() gives it one.
  void beginScrape();
  void add(Slot slot, double value);
  void set(Slot slot, double value);
  // Whether no series has a value in this scrape.
  bool empty() const { return valued_ == 0; }
  std::size_t size() const { return values_.size(); }

  // This scrape's family: the series given a value, in label-set order, in `series_text`.
  MetricFamily build();

 private:
  struct Key {
    std::uint32_t offset;
    std::uint32_t length;
  };
  // What a scrape touches, by slot: kept apart from the keys, which only ordering reads.
  struct Value {
    double value;
    std::uint32_t scrape;       // the scrape that last gave it a value
    std::uint32_t text_length;  // of its `name{...} `
  };
  // An ordered series: its text is the next text_length bytes of texts_.
  struct Line {
    Slot slot;
    std::uint32_t text_length;
  };
  std::string_view keyOf(Slot slot) const {
    return std::string_view(keys_).substr(keys_of_[slot].offset, keys_of_[slot].length);
  }
  double& valueFor(Slot slot);
  void orderNewSeries();

  // Looked up by the joined key (names and values, NUL after each) without storing it twice.
  struct KeyHash {
    using is_transparent = void;
    const SeriesTable* table;
    std::size_t operator()(std::string_view key) const;
    std::size_t operator()(Slot slot) const { return (*this)(table->keyOf(slot)); }
  };
  struct KeyEqual {
    using is_transparent = void;
    const SeriesTable* table;
    std::string_view view(std::string_view key) const { return key; }
    std::string_view view(Slot slot) const { return table->keyOf(slot); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return view(a) == view(b);
    }
  };

  std::string name_;
  std::string help_;
  MetricType type_;
  std::string keys_;  // every series' joined key, back to back
  std::vector<Key> keys_of_;
  std::vector<Value> values_;
  // The ordered series, and their `name{...} ` back to back in the same order, so that a scrape
  // reads the texts front to back: read in slot order they were a cache miss per series.
  std::vector<Line> lines_;
  std::string texts_;
  // Series not ordered yet (created since the last build), their texts back to back.
  std::vector<Slot> pending_;
  std::string pending_texts_;
  std::uint32_t scrape_ = 1;  // slots start at scrape 0: no value
  std::size_t valued_ = 0;
  std::size_t valued_bytes_ = 0;  // room the lines of this scrape's series may take
  std::string scratch_key_;
  std::unordered_set<Slot, KeyHash, KeyEqual> index_;
};

}  // namespace ipcwatch
