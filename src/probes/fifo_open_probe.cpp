#include "probes/fifo_open_probe.h"

#include <linux/types.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

// The ABI header first: the skeleton's rodata section refers to its structs.
#include "ipcwatch/bpf/fifo_open.h"

#include "fifo_open.skel.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "probes/proc_paths.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_fifo_event) == 304, "ABI of struct ipcw_fifo_event changed");
static_assert(sizeof(ipcw_inflight_open) == 32, "ABI of struct ipcw_inflight_open changed");
static_assert(sizeof(ipcw_wait_hist) == 8 * (IPCW_WAIT_BUCKETS + 1), "ABI of ipcw_wait_hist");
static_assert(sizeof(ipcw_watch_path) == 136, "ABI of struct ipcw_watch_path changed");

namespace {

constexpr std::uint32_t kDropRingBuffer = 0;
constexpr std::uint32_t kDropInflightFull = 1;

std::string modeName(std::uint32_t mode) {
  return mode == IPCW_FIFO_READ ? "read" : "write";
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

void FifoOpenProbe::SkeletonDeleter::operator()(fifo_open_bpf* skel) const {
  fifo_open_bpf__destroy(skel);
}

FifoOpenProbe::FifoOpenProbe(FifoOpenProbeOptions options, LabelCaps& caps)
    : options_(std::move(options)),
      blocked_path_cap_(caps.path("ipc_fifo_open_blocked_total")),
      error_path_cap_(caps.path("ipc_fifo_open_errors_total")),
      programs_("fifo_open", fifoOpenPrograms(options_.syscalls)) {
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
  skel->rodata->blocked_threshold_ns = options_.blocked_threshold_ns;
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

void FifoOpenProbe::handleEvent(const ipcw_fifo_event& event) {
  const std::string raw(fromKernelString(event.path, sizeof(event.path)));
  const ProcessView view(options_.procfs, event.tgid);
  if (event.type == IPCW_EV_FIFO_BLOCKED) {
    const std::string path =
        blocked_path_cap_.admit(sanitizeLabelValue(view.displayPath(event.dfd, raw)));
    std::lock_guard lock(mutex_);
    ++counts_.blocked[{path, modeName(event.mode)}];
    return;
  }
  if (event.type != IPCW_EV_FIFO_OPEN_ERROR) {
    return;
  }
  // ENXIO, EACCES and EPERM come from opens of anything: only FIFOs count here. Errors on
  // watched paths count whatever the target is (often it does not exist at all).
  if (!isWatched(raw) && !isFifoFor(event.tgid, event.dfd, raw)) {
    return;
  }
  const std::string path =
      error_path_cap_.admit(sanitizeLabelValue(view.displayPath(event.dfd, raw)));
  std::lock_guard lock(mutex_);
  ++counts_.errors[{path, errnoName(event.err)}];
}

FifoEventCounts FifoOpenProbe::eventCounts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::vector<LostEvents> FifoOpenProbe::lostEvents() const {
  if (!loaded()) {
    return {};
  }
  const int fd = bpf_map__fd(skel_->maps.drops);
  return {{"fifo_open", readPerCpuArraySlot(fd, kDropRingBuffer)},
          {"fifo_open_inflight", readPerCpuArraySlot(fd, kDropInflightFull)}};
}

int FifoOpenProbe::waitHistFd() const {
  return bpf_map__fd(skel_->maps.wait_hist);
}
int FifoOpenProbe::inflightFd() const {
  return bpf_map__fd(skel_->maps.inflight);
}

}  // namespace ipcwatch
