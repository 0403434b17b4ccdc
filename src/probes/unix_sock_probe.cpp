#include "probes/unix_sock_probe.h"

#include <linux/types.h>

#include <cerrno>

#include <bpf/libbpf.h>

#include "ipcwatch/bpf/unix_sock.h"
#include "probes/bpf_map_reader.h"
#include "unix_sock.skel.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_unix_err_key) == 120, "ABI of struct ipcw_unix_err_key changed");

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

UnixSockProbe::UnixSockProbe(UnixSockProbeOptions options)
    : options_(std::move(options)),
      programs_("unix_sock", programNames(options_.syscalls), trampolineVariants(),
                options_.syscall_tracepoints) {
  if (programs_.empty()) {
    return;
  }
  skel_ = programs_.openAndLoad<unix_sock_bpf, SkeletonDeleter>(
      unix_sock_bpf__open, unix_sock_bpf__load, [&](unix_sock_bpf& skel) {
        for (bpf_map* map : {skel.maps.connect_errors, skel.maps.bind_errors}) {
          bpf_map__set_max_entries(map, options_.map_entries);
        }
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

int UnixSockProbe::connectErrorsFd() const {
  return bpf_map__fd(skel_->maps.connect_errors);
}
int UnixSockProbe::bindErrorsFd() const {
  return bpf_map__fd(skel_->maps.bind_errors);
}

}  // namespace ipcwatch
