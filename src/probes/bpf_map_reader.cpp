#include "probes/bpf_map_reader.h"

namespace ipcwatch {

int possibleCpus() {
  static const int cpus = [] {
    const int n = libbpf_num_possible_cpus();
    if (n <= 0) {
      throw std::runtime_error("cannot determine the number of possible CPUs");
    }
    return n;
  }();
  return cpus;
}

std::uint64_t readPerCpuArraySlot(int map_fd, std::uint32_t index) {
  std::vector<std::uint64_t> values(static_cast<std::size_t>(possibleCpus()));
  if (bpf_map_lookup_elem(map_fd, &index, values.data()) != 0) {
    throw std::runtime_error(std::string("bpf array lookup: ") + std::strerror(errno));
  }
  std::uint64_t sum = 0;
  for (std::uint64_t v : values) {
    sum += v;
  }
  return sum;
}

}  // namespace ipcwatch
