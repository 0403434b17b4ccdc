#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ipcwatch {

// Number of per-CPU value slots a per-CPU map lookup fills (possible, not online, CPUs).
int possibleCpus();

// forEachPerCpuCounter for kernels without batch lookups: two syscalls per entry.
template <typename Key, typename Fn>
void forEachPerCpuCounterByKey(int map_fd, Fn&& fn) {
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

// Calls fn(key, sum over CPUs) for every entry of a BPF_MAP_TYPE_PERCPU_HASH with __u64 values.
// Entries are only read, never deleted: kernel counters stay cumulative. Reads in batches (one
// syscall per few hundred entries instead of two per entry), falling back to key-by-key
// iteration on kernels without batch operations.
template <typename Key, typename Fn>
void forEachPerCpuCounter(int map_fd, Fn&& fn) {
  const std::size_t cpus = static_cast<std::size_t>(possibleCpus());
  constexpr std::uint32_t kBatch = 512;
  std::vector<Key> keys(kBatch);
  std::vector<std::uint64_t> values(kBatch * cpus);
  // The batch token of hash maps is a bucket index; key-sized storage is always large enough.
  Key in_token{};
  Key out_token{};
  bool first = true;
  for (;;) {
    std::uint32_t count = kBatch;
    const int err = bpf_map_lookup_batch(map_fd, first ? nullptr : &in_token, &out_token,
                                         keys.data(), values.data(), &count, nullptr);
    const int saved = errno;
    if (err != 0 && saved != ENOENT) {
      if (first && (saved == EINVAL || saved == ENOTSUP || saved == EOPNOTSUPP)) {
        forEachPerCpuCounterByKey<Key>(map_fd, fn);
        return;
      }
      throw std::runtime_error(std::string("bpf map batch lookup: ") + std::strerror(saved));
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint64_t sum = 0;
      for (std::size_t cpu = 0; cpu < cpus; ++cpu) {
        sum += values[i * cpus + cpu];
      }
      fn(keys[i], sum);
    }
    if (err != 0) {  // ENOENT: the last batch
      return;
    }
    in_token = out_token;
    first = false;
  }
}

// Every (key, value) of a plain BPF_MAP_TYPE_HASH, read key by key (two syscalls per entry) into
// a list, so that the caller may delete entries afterwards without upsetting the walk. An entry
// added during the walk may be missed; it is met by the next one.
template <typename Key, typename Value>
std::vector<std::pair<Key, Value>> readHashEntries(int map_fd) {
  std::vector<std::pair<Key, Value>> entries;
  Key key{};
  Key next{};
  const Key* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    Value value{};
    if (bpf_map_lookup_elem(map_fd, &next, &value) == 0) {
      entries.emplace_back(next, value);
    } else if (errno != ENOENT) {  // ENOENT: deleted meanwhile
      throw std::runtime_error(std::string("bpf map lookup: ") + std::strerror(errno));
    }
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) {
    throw std::runtime_error(std::string("bpf map iteration: ") + std::strerror(errno));
  }
  return entries;
}

// Removes key's entry from a BPF_MAP_TYPE_PERCPU_HASH with __u64 values and gives its last sum
// over CPUs: in one step where the kernel can (5.14+), else read then deleted (a count landing
// between the two is lost). False when the entry is gone already.
template <typename Key>
bool takePerCpuCounter(int map_fd, const Key& key, std::uint64_t& last) {
  std::vector<std::uint64_t> values(static_cast<std::size_t>(possibleCpus()));
  if (bpf_map_lookup_and_delete_elem(map_fd, &key, values.data()) != 0) {
    constexpr int kKernelEnotsupp = 524;  // ENOTSUPP: what kernels before 5.14 answer
    if (errno != EINVAL && errno != kKernelEnotsupp && errno != EOPNOTSUPP) {
      return false;  // ENOENT: gone already
    }
    if (bpf_map_lookup_elem(map_fd, &key, values.data()) != 0) {
      return false;
    }
    bpf_map_delete_elem(map_fd, &key);
  }
  last = 0;
  for (std::uint64_t v : values) {
    last += v;
  }
  return true;
}

// Sum over CPUs of slot `index` of a BPF_MAP_TYPE_PERCPU_ARRAY with __u64 values.
std::uint64_t readPerCpuArraySlot(int map_fd, std::uint32_t index);

}  // namespace ipcwatch
