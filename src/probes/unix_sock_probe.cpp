#include "probes/unix_sock_probe.h"

#include <linux/types.h>

#include <cerrno>
#include <utility>

#include <bpf/libbpf.h>

#include "ipcwatch/bpf/unix_sock.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "probes/proc_paths.h"
#include "unix_sock.skel.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_unix_err_key) == 144, "ABI of struct ipcw_unix_err_key changed");

std::string unixAddressLabel(const ipcw_unix_err_key& key) {
  if (key.name_len > 0) {
    const std::size_t len = std::min<std::size_t>(key.name_len, sizeof(key.path) - 1);
    return "@" + sanitizeLabelValue(std::string_view(key.path + 1, len));
  }
  return sanitizeLabelValue(fromKernelString(key.path, sizeof(key.path)));
}

namespace {

std::vector<std::string> programNames(const std::vector<std::string>& syscalls) {
  std::vector<std::string> names;
  for (const auto& syscall : syscalls) {
    names.push_back("unix_exit_" + syscall);
  }
  return names;
}

// fexit on the syscalls' bodies: the same arguments and return value as the tracepoints see.
std::map<std::string, TrampolineVariant> trampolineVariants() {
  return {{"unix_exit_connect", {"unix_fexit_connect", "__sys_connect"}},
          {"unix_exit_bind", {"unix_fexit_bind", "__sys_bind"}}};
}

}  // namespace

void UnixSockProbe::SkeletonDeleter::operator()(unix_sock_bpf* skel) const {
  unix_sock_bpf__destroy(skel);
}

UnixSockProbe::UnixSockProbe(UnixSockProbeOptions options, LabelCaps& caps)
    : options_(std::move(options)),
      programs_("unix_sock", programNames(options_.syscalls), trampolineVariants(),
                options_.syscall_tracepoints) {
  connect_.cgroup_folds = &options_.connect_cgroup_folds;
  bind_.cgroup_folds = &options_.bind_cgroup_folds;
  connect_.path_cap = &caps.path("ipc_unix_connect_errors_total");
  bind_.path_cap = &caps.path("ipc_unix_bind_errors_total");
  if (options_.record_comm) {
    connect_.comm_cap = &caps.comm("ipc_unix_connect_errors_total");
    bind_.comm_cap = &caps.comm("ipc_unix_bind_errors_total");
  }
  if (programs_.empty()) {
    return;
  }
  skel_ = programs_.openAndLoad<unix_sock_bpf, SkeletonDeleter>(
      unix_sock_bpf__open, unix_sock_bpf__load, [&](unix_sock_bpf& skel) {
        for (bpf_map* map : {skel.maps.connect_errors, skel.maps.bind_errors}) {
          bpf_map__set_max_entries(map, options_.map_entries);
        }
        skel.rodata->ipcw_record_comm = options_.record_comm;
        skel.rodata->ipcw_cgroup_source = options_.cgroup_source;
      });
  if (skel_) {
    programs_.attach(skel_->obj);
  }
}

UnixSockProbe::~UnixSockProbe() {
  programs_.detach();
}

std::vector<LostEvents> UnixSockProbe::lostEvents() const {
  if (!loaded()) {
    return {};
  }
  const int fd = bpf_map__fd(skel_->maps.map_full);
  return {{"unix_connect", readPerCpuArraySlot(fd, 0)}, {"unix_bind", readPerCpuArraySlot(fd, 1)}};
}

UnixErrorLabels UnixSockProbe::labelsOf(const ipcw_unix_err_key& key, MapState& state) const {
  UnixErrorLabels labels;
  labels.path = state.path_cap->admit(unixAddressLabel(key));
  labels.err = errnoName(key.err);
  labels.netns = key.netns;
  if (state.comm_cap != nullptr) {
    labels.comm =
        state.comm_cap->admit(sanitizeLabelValue(fromKernelString(key.comm, sizeof(key.comm))));
  }
  labels.cgroup = key.cgroup;
  return labels;
}

void UnixSockProbe::read(int fd, MapState& state) const {
  // Read first, then take the folded entries: deleting during a batch walk would upset it.
  std::vector<std::pair<ipcw_unix_err_key, std::uint64_t>> entries;
  forEachPerCpuCounter<ipcw_unix_err_key>(
      fd, [&](const ipcw_unix_err_key& key, std::uint64_t n) { entries.emplace_back(key, n); });
  for (const auto& [key, n] : entries) {
    std::string bytes(reinterpret_cast<const char*>(&key), sizeof(key));
    auto it = state.resolved.find(bytes);
    if (it == state.resolved.end()) {
      Resolved resolved;
      resolved.labels = labelsOf(key, state);
      if (*state.cgroup_folds && (*state.cgroup_folds)(key.cgroup)) {
        resolved.labels.cgroup = kFoldedCgroup;
      }
      resolved.folded = resolved.labels.path == LabelCap::kOther ||
                        resolved.labels.comm == LabelCap::kOther ||
                        resolved.labels.cgroup == kFoldedCgroup;
      it = state.resolved.emplace(std::move(bytes), std::move(resolved)).first;
    }
    Resolved& resolved = it->second;
    std::uint64_t count = n;
    if (resolved.folded) {
      // Past a cap: the key's count goes to "other" and the key leaves the map (with its last
      // count), so that names, comms or cgroups past their caps never fill it. A later failure
      // creates it again and the caps see it again then, counting the fold as they do.
      std::uint64_t last = 0;
      if (takePerCpuCounter(fd, key, last)) {
        count = last;
      }
    }
    if (count > resolved.seen) {
      state.totals[resolved.labels] += count - resolved.seen;
      resolved.seen = count;
    }
    if (resolved.folded) {
      state.resolved.erase(it);
    }
  }
}

UnixSockCounts UnixSockProbe::counts() const {
  std::lock_guard lock(mutex_);
  read(bpf_map__fd(skel_->maps.connect_errors), connect_);
  read(bpf_map__fd(skel_->maps.bind_errors), bind_);
  return {connect_.totals, bind_.totals};
}

}  // namespace ipcwatch
