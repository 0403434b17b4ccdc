#include "probes/selinux_avc_probe.h"

#include <linux/types.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "audit/selinux_classmap.h"
#include "ipcwatch/bpf/selinux_avc.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "selinux_avc.skel.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_avc_event) ==
                  16 + IPCW_AVC_COMM_LEN + IPCW_AVC_CLASS_LEN + 2 * IPCW_AVC_CONTEXT_LEN,
              "ABI of struct ipcw_avc_event changed");

namespace {

constexpr int kPollTimeoutMs = 200;

}  // namespace

void SelinuxAvcProbe::SkeletonDeleter::operator()(selinux_avc_bpf* skel) const {
  selinux_avc_bpf__destroy(skel);
}

SelinuxAvcProbe::SelinuxAvcProbe(DenialStore& store)
    : store_(store), programs_("selinux_avc", {kProgram}) {
  skel_ = programs_.openAndLoad<selinux_avc_bpf, SkeletonDeleter>(
      selinux_avc_bpf__open, selinux_avc_bpf__load, [](selinux_avc_bpf&) {});
  if (!skel_) {
    return;
  }
  try {
    poller_ = std::make_unique<RingBufferPoller>(
        bpf_map__fd(skel_->maps.events), "selinux tracepoint",
        [this](const void* data, std::size_t size) {
          if (size >= sizeof(ipcw_avc_event)) {
            ipcw_avc_event event;
            std::memcpy(&event, data, sizeof(event));
            handleEvent(event);
          }
        },
        [this] { afterPoll(); }, kPollTimeoutMs);
  } catch (const std::system_error& e) {
    programs_.failAll(std::string(e.what()));
    skel_.reset();
    return;
  }
  programs_.attach(skel_->obj);
  if (attached()) {
    store_.declareSource(DenialStore::kTracepointSource);
    poller_->start();
  }
}

SelinuxAvcProbe::~SelinuxAvcProbe() {
  poller_.reset();
  programs_.detach();
}

bool SelinuxAvcProbe::attached() const {
  const auto& status = programs_.status();
  return !status.empty() && status.front().attached;
}

std::uint64_t SelinuxAvcProbe::dropped() const {
  return skel_ ? readPerCpuArraySlot(bpf_map__fd(skel_->maps.drops), 0) : 0;
}

std::vector<LostEvents> SelinuxAvcProbe::lostEvents() const {
  if (!skel_) {
    return {};
  }
  return {{"selinux_avc", dropped()}};
}

// Runs on the poller's thread after every wait: counts the tracepoint denials whose wait for
// an audit record is over, and passes new ring-buffer drops on to the store.
void SelinuxAvcProbe::afterPoll() {
  store_.expireTracepointDenials(std::chrono::steady_clock::now());
  if (const std::uint64_t drops = dropped(); drops > reported_drops_) {
    store_.addLost(DenialStore::kTracepointSource, drops - reported_drops_);
    reported_drops_ = drops;
  }
}

AvcMessage SelinuxAvcProbe::avcMessage(const ipcw_avc_event& event) {
  AvcMessage avc;
  avc.denied = event.denied != 0;
  avc.tclass = std::string(fromKernelString(event.tclass, sizeof(event.tclass)));
  avc.permissions = kernelPermissionNames(avc.tclass, event.denied);
  avc.scontext = std::string(fromKernelString(event.scontext, sizeof(event.scontext)));
  avc.tcontext = std::string(fromKernelString(event.tcontext, sizeof(event.tcontext)));
  // avc_has_perm returns 0 for a denial in a permissive domain or a permissive system.
  avc.permissive = event.result == 0 ? "1" : "0";
  avc.comm = std::string(fromKernelString(event.comm, sizeof(event.comm)));
  avc.pid = event.tgid;
  return avc;
}

void SelinuxAvcProbe::handleEvent(const ipcw_avc_event& event) {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
  store_.addTracepointDenial(avcMessage(event), millis / 1000,
                             static_cast<std::uint32_t>(millis % 1000),
                             std::chrono::steady_clock::now());
}

}  // namespace ipcwatch
