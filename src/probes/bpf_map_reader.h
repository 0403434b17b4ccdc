#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace ipcwatch {

// Number of per-CPU value slots a per-CPU map lookup fills (possible, not online, CPUs).
int possibleCpus();

// Calls fn(key, sum over CPUs) for every entry of a BPF_MAP_TYPE_PERCPU_HASH with __u64 values.
// Entries are only read, never deleted: kernel counters stay cumulative.
template <typename Key, typename Fn>
void forEachPerCpuCounter(int map_fd, Fn&& fn) {
  std::vector<std::uint64_t> values(static_cast<std::size_t>(possibleCpus()));
  Key key{};
  Key next{};
  const Key* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(map_fd, &next, values.data()) == 0) {
      std::uint64_t sum = 0;
      for (std::uint64_t v : values) {
        sum += v;
      }
      fn(next, sum);
    } else if (errno != ENOENT) {  // ENOENT: deleted meanwhile; nothing to count
      throw std::runtime_error(std::string("bpf map lookup: ") + std::strerror(errno));
    }
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) {
    throw std::runtime_error(std::string("bpf map iteration: ") + std::strerror(errno));
  }
}

// Sum over CPUs of slot `index` of a BPF_MAP_TYPE_PERCPU_ARRAY with __u64 values.
std::uint64_t readPerCpuArraySlot(int map_fd, std::uint32_t index);

}  // namespace ipcwatch
