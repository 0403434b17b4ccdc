#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ipcwatch {

// Caps the distinct values one label of a gauge takes in one scrape. A gauge describes now, so
// unlike LabelCap (first values admitted for the life of the process, right for counters) the
// admission is made again at every scrape: the `cap` most relevant values of this scrape keep
// their name and the rest fold into "other", whatever earlier scrapes saw. How the folded
// series combine into the "other" series (a count, a maximum) is the collector's choice.
//
// Folds are counted like LabelCap's: once per distinct folded value while at most `remembered`
// of them are tracked (a bounded set of hashes); past that, every fold of every scrape is
// counted.
class ScrapeLabelCap {
 public:
  static constexpr std::string_view kOther = "other";

  ScrapeLabelCap(std::uint32_t cap, std::uint32_t remembered)
      : cap_(cap), remembered_(remembered) {}

  // The values admitted in one scrape.
  class Admitted {
   public:
    bool contains(std::string_view value) const { return kept_.find(value) != kept_.end(); }
    // The value to export for `value`: itself when admitted, else "other".
    std::string label(std::string_view value) const {
      return std::string(contains(value) ? value : kOther);
    }
    std::size_t size() const { return kept_.size(); }

   private:
    friend class ScrapeLabelCap;
    struct Hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view value) const {
        return std::hash<std::string_view>{}(value);
      }
    };
    std::unordered_set<std::string, Hash, std::equal_to<>> kept_;
  };

  // This scrape's values with their relevance (greater is kept first; equal relevance keeps
  // the smaller value, so an unchanged set keeps the same names from scrape to scrape). A value
  // listed several times (one path in two modes or namespaces) counts once, at its highest
  // relevance. "other" itself is never admitted: it would merge silently with the fold bucket.
  Admitted admit(std::vector<std::pair<std::string, double>> candidates);

  // Number of folds counted so far (ipcwatch_label_overflow_total).
  std::uint64_t folds() const;

 private:
  void countFold(std::string_view value);

  const std::uint32_t cap_;
  const std::uint32_t remembered_;
  mutable std::mutex mutex_;
  std::unordered_set<std::size_t> folded_hashes_;
  std::uint64_t folds_ = 0;
};

}  // namespace ipcwatch
