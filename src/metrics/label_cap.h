#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ipcwatch {

// Caps the distinct values one label of one metric may take. The first `cap` values seen are
// admitted for the life of the process, so series never flap between a name and "other"; later
// values fold into "other". Because admission is permanent and a folded value can never be
// admitted later, summing folded kernel counters into "other" keeps every series monotonic.
//
// Folds are counted once per distinct folded value while at most `remembered` of them are
// tracked (a bounded set of hashes); past that, every fold is counted.
class LabelCap {
 public:
  static constexpr std::string_view kOther = "other";

  LabelCap(std::uint32_t cap, std::uint32_t remembered) : cap_(cap), remembered_(remembered) {}

  // The value to export for `value`: itself, or "other" once the cap is reached.
  std::string admit(std::string_view value);

  // Number of folds counted so far (ipcwatch_label_overflow_total).
  std::uint64_t folds() const;
  std::size_t admittedCount() const;

 private:
  const std::uint32_t cap_;
  const std::uint32_t remembered_;
  // Looked up by string_view: admit() runs once per series per scrape.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view value) const {
      return std::hash<std::string_view>{}(value);
    }
  };
  mutable std::mutex mutex_;
  std::unordered_set<std::string, Hash, std::equal_to<>> admitted_;
  std::unordered_set<std::size_t> folded_hashes_;
  std::uint64_t folds_ = 0;
};

}  // namespace ipcwatch
