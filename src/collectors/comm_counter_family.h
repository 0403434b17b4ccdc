#pragma once

#include <linux/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collectors/identity_labels.h"
#include "ipcwatch/bpf/broken_pipe.h"
#include "metrics/label_cap.h"
#include "metrics/series_table.h"

namespace ipcwatch {

// A counter family read from per-CPU hash maps keyed by (comm, code, cgroup), kept from scrape to
// scrape. Each map key is resolved once, when first seen: its comm sanitized and passed through
// the cap, its label set given a SeriesTable slot. Later scrapes go from the key straight to
// the slot, so a scrape of tens of thousands of keys costs one hash lookup per key and no
// allocation. The cap behaves as if asked every scrape: an admitted comm stays admitted and a
// folded one stays folded, and a folded comm is still shown to the cap each scrape, which
// counts folds as it always does.
class CommCounterFamily {
 public:
  using LabelsFn = LabelSet (*)(const std::string& comm, std::uint32_t code);

  // workload, when given, adds the workload labels of each key's cgroup.
  CommCounterFamily(std::string name, std::string help, LabelCap& cap, LabelsFn labels,
                    IdentityLabels* workload = nullptr);

  void beginScrape() { table_.beginScrape(); }
  // Adds every counter of `map_fd`, a BPF_MAP_TYPE_PERCPU_HASH of ipcw_comm_key -> __u64.
  void addMap(int map_fd);
  // Adds `n` events of comms that found the map full (a fallback slot) to comm="other".
  void addOther(std::uint32_t code, std::uint64_t n);
  // Appends this scrape's family to `out` unless it has no series.
  void appendTo(std::vector<MetricFamily>& out);

 private:
  struct Resolved {
    SeriesTable::Slot slot;
    bool folded;
  };
  struct KeyHash {
    std::size_t operator()(const ipcw_comm_key& key) const;
  };
  struct KeyEqual {
    bool operator()(const ipcw_comm_key& a, const ipcw_comm_key& b) const;
  };

  const Resolved& find(const ipcw_comm_key& key);
  Resolved resolve(const ipcw_comm_key& key);

  SeriesTable table_;
  LabelCap& cap_;
  LabelsFn labels_;
  IdentityLabels* workload_;
  // Bounded by the maps' sizes: the kernel never deletes a key.
  std::unordered_map<ipcw_comm_key, Resolved, KeyHash, KeyEqual> keys_;
  // The keys of the last read in the order the kernel returned them (its bucket order, which
  // stays the same while no key is added), each with what it resolved to: a scrape finds most
  // keys at their position here with one comparison, without hashing.
  std::vector<std::pair<ipcw_comm_key, Resolved>> last_read_;
  std::size_t read_position_ = 0;
};

}  // namespace ipcwatch
