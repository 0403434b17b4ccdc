#include "probes/fifo_open_probe.h"

#include <linux/types.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

// The ABI header first: the skeleton's rodata section refers to its structs.
#include "ipcwatch/bpf/fifo_open.h"

#include "fifo_open.skel.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "probes/proc_paths.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_fifo_key) == 312, "ABI of struct ipcw_fifo_key changed");
static_assert(sizeof(ipcw_fifo_count) == 16, "ABI of struct ipcw_fifo_count changed");
static_assert(sizeof(ipcw_fifo_event) == 320, "ABI of struct ipcw_fifo_event changed");
static_assert(sizeof(ipcw_inflight_open) == 32, "ABI of struct ipcw_inflight_open changed");
static_assert(sizeof(ipcw_wait_hist) == 8 * (IPCW_WAIT_BUCKETS + 1), "ABI of ipcw_wait_hist");
static_assert(sizeof(ipcw_watch_path) == 136, "ABI of struct ipcw_watch_path changed");

namespace {

constexpr std::uint32_t kDropCountsFull = 0;
constexpr std::uint32_t kDropInflightFull = 1;

std::string modeName(std::uint32_t mode) {
  return mode == IPCW_FIFO_READ ? "read" : "write";
}

std::string keyBytes(const ipcw_fifo_key& key) {
  return {reinterpret_cast<const char*>(&key), sizeof(key)};
}

// Removes key's entry from the counts map and gives its last value: in one step where the
// kernel can (5.14+), else read then deleted (a count landing between the two is lost).
bool takeEntry(int fd, const ipcw_fifo_key& key, ipcw_fifo_count& last) {
  if (bpf_map_lookup_and_delete_elem(fd, &key, &last) == 0) {
    return true;
  }
  constexpr int kKernelEnotsupp = 524;  // ENOTSUPP: what 5.10 answers for a hash map
  if (errno != EINVAL && errno != kKernelEnotsupp && errno != EOPNOTSUPP) {
    return false;  // ENOENT: gone already
  }
  if (bpf_map_lookup_elem(fd, &key, &last) != 0) {
    return false;
  }
  bpf_map_delete_elem(fd, &key);
  return true;
}

}  // namespace

std::vector<std::string> fifoOpenPrograms(const std::vector<std::string>& syscalls) {
  std::vector<std::string> names;
  for (const auto& syscall : syscalls) {
    names.push_back("fifo_enter_" + syscall);
    names.push_back("fifo_exit_" + syscall);
  }
  return names;
}

std::map<std::string, TrampolineVariant> fifoOpenTrampolines(
    const std::vector<std::string>& syscalls) {
  std::map<std::string, TrampolineVariant> variants;
  for (const auto& syscall : syscalls) {
    variants["fifo_enter_" + syscall] = {"fifo_fentry_fifo_open", "fifo_open"};
    variants["fifo_exit_" + syscall] = {"fifo_fexit_do_filp_open", "do_filp_open"};
  }
  return variants;
}

void FifoOpenProbe::SkeletonDeleter::operator()(fifo_open_bpf* skel) const {
  fifo_open_bpf__destroy(skel);
}

FifoOpenProbe::FifoOpenProbe(FifoOpenProbeOptions options, LabelCaps& caps)
    : options_(std::move(options)),
      blocked_path_cap_(caps.path("ipc_fifo_open_blocked_total")),
      error_path_cap_(caps.path("ipc_fifo_open_errors_total")),
      programs_("fifo_open", fifoOpenPrograms(options_.syscalls),
                fifoOpenTrampolines(options_.syscalls), options_.syscall_tracepoints) {
  if (options_.record_comm) {
    blocked_comm_cap_ = &caps.comm("ipc_fifo_open_blocked_total");
    error_comm_cap_ = &caps.comm("ipc_fifo_open_errors_total");
  }
  if (programs_.empty()) {
    return;
  }
  skel_ = programs_.openAndLoad<fifo_open_bpf, SkeletonDeleter>(
      fifo_open_bpf__open, fifo_open_bpf__load, [this](fifo_open_bpf& skel) { configure(&skel); });
  if (!skel_) {
    return;
  }
  try {
    poller_ = std::make_unique<RingBufferPoller>(bpf_map__fd(skel_->maps.events), "fifo_open probe",
                                                 [this](const void* data, std::size_t size) {
                                                   if (size >= sizeof(ipcw_fifo_event)) {
                                                     ipcw_fifo_event event;
                                                     std::memcpy(&event, data, sizeof(event));
                                                     handleEvent(event);
                                                   }
                                                 });
  } catch (const std::system_error& e) {
    programs_.failAll(std::string(e.what()));
    skel_.reset();
    return;
  }
  programs_.attach(skel_->obj);
  poller_->start();
}

FifoOpenProbe::~FifoOpenProbe() {
  poller_.reset();
  programs_.detach();
}

void FifoOpenProbe::configure(fifo_open_bpf* skel) const {
  bpf_map__set_max_entries(skel->maps.counts, options_.count_entries);
  skel->rodata->blocked_threshold_ns = options_.blocked_threshold_ns;
  skel->rodata->ipcw_record_comm = options_.record_comm;
  skel->rodata->ipcw_cgroup_source = options_.cgroup_source;
  const std::size_t count =
      std::min<std::size_t>(options_.watch_paths.size(), IPCW_MAX_WATCH_PATHS);
  skel->rodata->watch_count = static_cast<__u32>(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& prefix = options_.watch_paths[i];
    auto& slot = const_cast<ipcw_watch_path&>(skel->rodata->watch_paths[i]);
    const std::size_t len = std::min<std::size_t>(prefix.size(), IPCW_WATCH_PATH_LEN - 1);
    slot.len = static_cast<__u32>(len);
    std::memcpy(slot.prefix, prefix.data(), len);
  }
}

bool FifoOpenProbe::isWatched(const std::string& path) const {
  for (const auto& prefix : options_.watch_paths) {
    if (path.compare(0, prefix.size(), prefix) == 0) {
      return true;
    }
  }
  return false;
}

bool FifoOpenProbe::isFifoFor(std::uint32_t tgid, int dfd, const std::string& path) const {
  struct stat st {};
  const ProcessView view(options_.procfs, tgid);
  if (view.lstat(dfd, path, st) == 0) {
    return S_ISFIFO(st.st_mode);
  }
  // A short-lived opener may be gone already; an absolute path is then judged from our view.
  return !path.empty() && path.front() == '/' && lstat(path.c_str(), &st) == 0 &&
         S_ISFIFO(st.st_mode);
}

std::optional<FifoOpenProbe::Resolved> FifoOpenProbe::resolve(const ipcw_fifo_key& key,
                                                              std::uint32_t tgid, int dfd) const {
  const std::string raw(fromKernelString(key.path, sizeof(key.path)));
  const ProcessView view(options_.procfs, tgid);
  Resolved resolved;
  resolved.labels.cgroup = key.cgroup;
  const auto cgroup = [&](const CgroupFolds& folds) {
    return folds && folds(key.cgroup) ? kFoldedCgroup : key.cgroup;
  };
  const auto comm = [&](LabelCap* cap) {
    return cap == nullptr
               ? std::string()
               : cap->admit(sanitizeLabelValue(fromKernelString(key.comm, sizeof(key.comm))));
  };
  if (key.kind == IPCW_FIFO_COUNT_BLOCKED) {
    resolved.blocked = true;
    resolved.labels.path = blocked_path_cap_.admit(sanitizeLabelValue(view.displayPath(dfd, raw)));
    resolved.labels.detail = modeName(key.mode);
    resolved.labels.comm = comm(blocked_comm_cap_);
    resolved.labels.cgroup = cgroup(options_.blocked_cgroup_folds);
    return resolved;
  }
  // ENXIO, EACCES and EPERM come from opens of anything: only FIFOs count here. Errors on
  // watched paths count whatever the target is (often it does not exist at all).
  if (key.kind != IPCW_FIFO_COUNT_ERROR || (!isWatched(raw) && !isFifoFor(tgid, dfd, raw))) {
    return std::nullopt;
  }
  resolved.labels.path = error_path_cap_.admit(sanitizeLabelValue(view.displayPath(dfd, raw)));
  resolved.labels.detail = errnoName(key.err);
  resolved.labels.comm = comm(error_comm_cap_);
  resolved.labels.cgroup = cgroup(options_.error_cgroup_folds);
  return resolved;
}

std::map<std::string, FifoOpenProbe::Resolved>::iterator FifoOpenProbe::adopt(
    std::unique_lock<std::mutex>& lock, const ipcw_fifo_key& key, std::uint32_t tgid,
    int dfd) const {
  std::string bytes = keyBytes(key);
  if (const auto it = resolved_.find(bytes); it != resolved_.end()) {
    return it;
  }
  // Resolving reads the opener's view through procfs: never with the lock held, which a scrape
  // and the ring-buffer thread share.
  lock.unlock();
  std::optional<Resolved> resolved = resolve(key, tgid, dfd);
  if (!resolved) {
    // Not ours: its entry makes room for names that are (a later count creates it again, and
    // the name is judged again then).
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.counts), &key);
  }
  lock.lock();
  if (!resolved) {
    return resolved_.end();
  }
  // Resolved by the other thread meanwhile: its entry, with what it has added, stays.
  return resolved_.try_emplace(std::move(bytes), std::move(*resolved)).first;
}

void FifoOpenProbe::handleEvent(const ipcw_fifo_event& event) const {
  std::unique_lock lock(mutex_);
  adopt(lock, event.key, event.tgid, event.dfd);
}

FifoOpenCounts FifoOpenProbe::counts() const {
  const int fd = bpf_map__fd(skel_->maps.counts);
  const auto entries = readHashEntries<ipcw_fifo_key, ipcw_fifo_count>(fd);
  std::unique_lock lock(mutex_);
  for (const auto& [key, value] : entries) {
    const auto it = adopt(lock, key, value.tgid, value.dfd);
    if (it == resolved_.end()) {
      continue;
    }
    Resolved& resolved = it->second;
    std::uint64_t count = value.count;
    const bool folded = resolved.folded();
    if (folded) {
      // Past the path or comm cap: the key's count is added to "other" and its entry leaves the
      // map (with its last count), so that names past the cap never fill it. A later count
      // creates the entry again.
      ipcw_fifo_count last{};
      if (takeEntry(fd, key, last)) {
        count = last.count;
      }
    }
    // A concurrent scrape may have read a newer count and added it already.
    if (count > resolved.seen) {
      auto& total =
          resolved.blocked ? counts_.blocked[resolved.labels] : counts_.errors[resolved.labels];
      total += count - resolved.seen;
      resolved.seen = count;
    }
    if (folded) {
      resolved_.erase(it);
    }
  }
  return counts_;
}

std::vector<LostEvents> FifoOpenProbe::lostEvents() const {
  if (!loaded()) {
    return {};
  }
  const int fd = bpf_map__fd(skel_->maps.drops);
  return {{"fifo_open", readPerCpuArraySlot(fd, kDropCountsFull)},
          {"fifo_open_inflight", readPerCpuArraySlot(fd, kDropInflightFull)}};
}

int FifoOpenProbe::waitHistFd() const {
  return bpf_map__fd(skel_->maps.wait_hist);
}
int FifoOpenProbe::inflightFd() const {
  return bpf_map__fd(skel_->maps.inflight);
}

}  // namespace ipcwatch
