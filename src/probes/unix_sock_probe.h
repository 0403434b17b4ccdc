#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/label_caps.h"
#include "probes/probe.h"
#include "probes/program_set.h"

struct unix_sock_bpf;
struct ipcw_unix_err_key;

namespace ipcwatch {

struct UnixSockProbeOptions {
  std::vector<std::string> syscalls = {"connect", "bind"};
  bool syscall_tracepoints = true;  // false: on BPF trampolines or not at all (ProgramSet)
  std::uint32_t map_entries = 4096;
  bool record_comm = true;  // false: the kernel keys no comm (no comm label)
  // Whose cgroup the kernel records with each failure (bpf/ipcw_identity.bpf.h):
  // cgroupSource() of the hierarchy, kNoCgroup for none.
  int cgroup_source = kNoCgroup;
  CgroupFolds connect_cgroup_folds;  // may be empty: no workload is ever folded
  CgroupFolds bind_cgroup_folds;
};

// One count of failures as labels: what failed (address, errno, network namespace) and who
// failed (comm, cgroup id; the collector turns the id into workload labels).
struct UnixErrorLabels {
  std::string path;  // capped: the path, "@name" for an abstract name
  std::string err;   // errno name
  std::uint32_t netns = 0;
  std::string comm;  // capped; empty when not recorded
  std::uint64_t cgroup = 0;
  auto operator<=>(const UnixErrorLabels&) const = default;
};

struct UnixSockCounts {
  std::map<UnixErrorLabels, std::uint64_t> connect;
  std::map<UnixErrorLabels, std::uint64_t> bind;
};

// Owns the unix_sock BPF skeleton: failed connect()/bind() on AF_UNIX sockets, counted in
// per-CPU maps by path, errno, network namespace, comm and cgroup.
//
// A key whose path or comm is past its cap leaves the map at each read, its count added to the
// "other" series here: a flood of names or comms never fills the map for everyone else. What
// lands while the map is full between two reads is lost, and counted as lost.
class UnixSockProbe : public Probe {
 public:
  UnixSockProbe(UnixSockProbeOptions options, LabelCaps& caps);
  ~UnixSockProbe() override;
  UnixSockProbe(const UnixSockProbe&) = delete;
  UnixSockProbe& operator=(const UnixSockProbe&) = delete;

  std::vector<ProgramStatus> programs() const override { return programs_.status(); }
  void detach() override { programs_.detach(); }
  // "unix_connect" / "unix_bind": failures not counted because the map was full.
  std::vector<LostEvents> lostEvents() const override;
  bool loaded() const { return skel_ != nullptr; }

  // Reads the kernel's counts and adds what they gained since the last read to the counts by
  // label. Only valid when loaded().
  UnixSockCounts counts() const;

 private:
  struct SkeletonDeleter {
    void operator()(unix_sock_bpf* skel) const;
  };
  // A kernel key as labels, and how much of its count is already in the totals.
  struct Resolved {
    UnixErrorLabels labels;
    bool folded = false;
    std::uint64_t seen = 0;
  };
  // What one map's reads have added up, and its keys resolved.
  struct MapState {
    LabelCap* path_cap = nullptr;
    LabelCap* comm_cap = nullptr;
    const CgroupFolds* cgroup_folds = nullptr;
    std::map<UnixErrorLabels, std::uint64_t> totals;
    std::map<std::string, Resolved> resolved;  // by the kernel key's bytes
  };

  void read(int fd, MapState& state) const;
  UnixErrorLabels labelsOf(const ipcw_unix_err_key& key, MapState& state) const;

  UnixSockProbeOptions options_;
  mutable std::mutex mutex_;
  mutable MapState connect_;
  mutable MapState bind_;
  std::unique_ptr<unix_sock_bpf, SkeletonDeleter> skel_;
  ProgramSet programs_;
};

// The label of a socket address from the kernel key: the path, "@name" for an abstract name
// (bytes that are not printable UTF-8, NULs included, escaped), "" for an unnamed address.
std::string unixAddressLabel(const ipcw_unix_err_key& key);

}  // namespace ipcwatch
