#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ipcwatch {

// One BPF program the configuration enabled, and whether it is attached now. A program that
// failed to load or attach is "degraded": its error is kept for /metrics, logs and diagnose.
struct ProgramStatus {
  std::string name;
  bool attached = false;
  std::string error;
  // How it is attached, from its section: tracepoint (a classic syscall tracepoint) or tp_btf
  // (a BTF-typed raw tracepoint); "" until attached.
  std::string backend;
};

// Records a probe's kernel side dropped, by reason (ipcwatch_events_lost_total{probe}).
struct LostEvents {
  std::string probe;
  std::uint64_t count = 0;
};

// Whether the workload of a cgroup id is past the cap of a metric's workload labels: a count of
// such a cgroup leaves the kernel's map at each read, like a name past its cap, and is kept
// under kFoldedCgroup, so that a flood of cgroups neither fills the map nor grows the totals.
using CgroupFolds = std::function<bool(std::uint64_t cgroup)>;
inline constexpr std::uint64_t kFoldedCgroup = ~std::uint64_t{0};
// A probe's cgroup_source when no cgroup is recorded (IPCW_CGROUP_NONE, bpf/ipcw_identity.bpf.h):
// the keys' cgroup stays 0. The other values are the file's IPCW_CGROUP_* sources.
inline constexpr int kNoCgroup = -2;

class Probe {
 public:
  virtual ~Probe() = default;
  virtual std::vector<ProgramStatus> programs() const = 0;
  // Every source of loss the probe has, listed even while zero.
  virtual std::vector<LostEvents> lostEvents() const { return {}; }
  // Detaches every program (closes its links) and keeps the maps: for a stop while a scrape may
  // still read them. Destruction detaches too.
  virtual void detach() {}
};

}  // namespace ipcwatch
