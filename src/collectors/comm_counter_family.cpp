#include "collectors/comm_counter_family.h"

#include <cstring>
#include <functional>
#include <string_view>

#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"

namespace ipcwatch {
namespace {

std::string commLabel(const ipcw_comm_key& key) {
  return sanitizeLabelValue(fromKernelString(key.comm, sizeof key.comm));
}

}  // namespace

// Keys are compared bytewise, as the kernel does: the padding is always zero.
std::size_t CommCounterFamily::KeyHash::operator()(const ipcw_comm_key& key) const {
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(&key), sizeof key));
}

bool CommCounterFamily::KeyEqual::operator()(const ipcw_comm_key& a, const ipcw_comm_key& b) const {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

CommCounterFamily::CommCounterFamily(std::string name, std::string help, LabelCap& cap,
                                     LabelsFn labels, IdentityLabels* workload)
    : table_(std::move(name), std::move(help), MetricType::Counter),
      cap_(cap),
      labels_(labels),
      workload_(workload) {}

CommCounterFamily::Resolved CommCounterFamily::resolve(const ipcw_comm_key& key) {
  const std::string comm = cap_.admit(commLabel(key));
  LabelSet labels = labels_(comm, key.code);
  if (workload_ != nullptr) {
    workload_->appendWorkload(labels, key.cgroup);
  }
  const Resolved resolved{table_.slot(std::move(labels)), comm == LabelCap::kOther};
  keys_.emplace(key, resolved);
  return resolved;
}

const CommCounterFamily::Resolved& CommCounterFamily::find(const ipcw_comm_key& key) {
  const std::size_t at = read_position_++;
  const Resolved* known = nullptr;
  if (at < last_read_.size() && KeyEqual{}(last_read_[at].first, key)) {
    known = &last_read_[at].second;
  } else if (const auto it = keys_.find(key); it != keys_.end()) {
    known = &it->second;
  }
  if (known != nullptr && known->folded) {
    // Once folded, always folded (the cap admits no value after it is full); shown to the cap
    // again only so that it counts the fold as it would have.
    cap_.admit(commLabel(key));
  }
  const Resolved resolved = known != nullptr ? *known : resolve(key);
  if (at == last_read_.size()) {
    last_read_.emplace_back(key, resolved);
  } else if (known != &last_read_[at].second) {
    last_read_[at] = {key, resolved};
  }
  return last_read_[at].second;
}

void CommCounterFamily::addMap(int map_fd) {
  read_position_ = 0;
  forEachPerCpuCounter<ipcw_comm_key>(map_fd, [&](const ipcw_comm_key& key, std::uint64_t n) {
    table_.add(find(key).slot, static_cast<double>(n));
  });
  last_read_.resize(read_position_);
}

void CommCounterFamily::addOther(std::uint32_t code, std::uint64_t n) {
  table_.add(table_.slot(labels_(std::string(LabelCap::kOther), code)), static_cast<double>(n));
}

void CommCounterFamily::appendTo(std::vector<MetricFamily>& out) {
  if (!table_.empty()) {
    out.push_back(table_.build());
  }
}

}  // namespace ipcwatch
