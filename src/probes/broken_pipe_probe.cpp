#include "probes/broken_pipe_probe.h"

#include <linux/types.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "broken_pipe.skel.h"
#include "ipcwatch/bpf/broken_pipe.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_comm_key) == 32, "ABI of struct ipcw_comm_key changed");

void BrokenPipeProbe::SkeletonDeleter::operator()(broken_pipe_bpf* skel) const {
  broken_pipe_bpf__destroy(skel);
}

namespace {

// fexit on the syscalls' x86-64 entry points: the same user registers and return value as their
// exit tracepoints see.
std::map<std::string, TrampolineVariant> trampolineVariants() {
  std::map<std::string, TrampolineVariant> variants;
  for (const char* syscall : {"write", "writev", "sendto", "sendmsg", "sendmmsg", "splice"}) {
    variants[BrokenPipeProbe::epipeProgramName(syscall)] = {std::string("epipe_fexit_") + syscall,
                                                            std::string("__x64_sys_") + syscall};
  }
  variants["epipe_sendfile"] = {"epipe_fexit_sendfile", "__x64_sys_sendfile64"};
  for (const char* syscall : {"pipe", "pipe2", "fcntl"}) {
    variants[std::string("pipe_limit_") + syscall] = {std::string("pipe_limit_fexit_") + syscall,
                                                      std::string("__x64_sys_") + syscall};
  }
  return variants;
}

const btf_type* skipModifiers(const btf* vmlinux, __u32 id) {
  const btf_type* type = btf__type_by_id(vmlinux, id);
  while (type != nullptr && (btf_is_mod(type) || btf_is_typedef(type))) {
    type = btf__type_by_id(vmlinux, type->type);
  }
  return type;
}

// "" when the kernel's io_uring_complete tracepoint hands its programs the request (5.19+:
// ring, request, ...), else why epipe_io_uring cannot run here (before, the second argument was
// the request's user_data, which the program would take for a pointer).
std::string ioUringCompleteUnavailable() {
  const std::unique_ptr<btf, void (*)(btf*)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  if (!vmlinux) {
    return "no kernel BTF: " + libbpfErrorText(errno);
  }
  const int id =
      btf__find_by_name_kind(vmlinux.get(), "btf_trace_io_uring_complete", BTF_KIND_TYPEDEF);
  if (id <= 0) {
    return "the kernel has no io_uring_complete tracepoint (built without io_uring?)";
  }
  const btf_type* pointer = skipModifiers(vmlinux.get(), static_cast<__u32>(id));
  const btf_type* proto = pointer != nullptr && btf_is_ptr(pointer)
                              ? skipModifiers(vmlinux.get(), pointer->type)
                              : nullptr;
  // (void *__data, ring, request, ...)
  if (proto == nullptr || !btf_is_func_proto(proto) || btf_vlen(proto) < 3 ||
      !btf_is_ptr(skipModifiers(vmlinux.get(), btf_params(proto)[2].type))) {
    return "this kernel's io_uring_complete tracepoint does not pass the request (5.19+ does)";
  }
  return "";
}

}  // namespace

std::string BrokenPipeProbe::epipeProgramName(const std::string& syscall) {
  return "epipe_" + syscall;
}

BrokenPipeProbe::BrokenPipeProbe(BrokenPipeProbeOptions options)
    : options_(std::move(options)),
      programs_("broken_pipe", enabledPrograms(), trampolineVariants(),
                options_.syscall_tracepoints) {
  if (programs_.empty()) {
    return;
  }
  const std::string io_uring = epipeProgramName("io_uring");
  const auto& programs = programs_.status();
  if (std::any_of(programs.begin(), programs.end(),
                  [&](const ProgramStatus& s) { return s.name == io_uring; })) {
    if (const std::string why = ioUringCompleteUnavailable(); !why.empty()) {
      programs_.markUnavailable(io_uring, why);
    }
  }
  // Only the programs the configuration enables are loaded, and so only they are attached:
  // every syscall tracepoint moves all syscalls of all tasks onto the slow path.
  skel_ = programs_.openAndLoad<broken_pipe_bpf, SkeletonDeleter>(
      broken_pipe_bpf__open, broken_pipe_bpf__load, [&](broken_pipe_bpf& skel) {
        for (bpf_map* map : {skel.maps.epipe_counts, skel.maps.sigpipe_counts,
                             skel.maps.sigpipe_deaths, skel.maps.pipe_limit_counts}) {
          bpf_map__set_max_entries(map, options_.map_entries);
        }
        skel.rodata->ipcw_cgroup_source = options_.cgroup_source;
      });
  if (skel_) {
    programs_.attach(skel_->obj);
  }
}

BrokenPipeProbe::~BrokenPipeProbe() {
  programs_.detach();
}

std::vector<std::string> BrokenPipeProbe::enabledPrograms() const {
  std::vector<std::string> names;
  if (options_.epipe) {
    for (const auto& syscall : options_.syscalls) {
      names.push_back(epipeProgramName(syscall));
    }
  }
  if (options_.sigpipe) {
    names.emplace_back("sigpipe_generate");
    names.emplace_back("sigpipe_exit");
  }
  if (options_.pipe_limits) {
    for (const char* syscall : {"pipe", "pipe2", "fcntl"}) {
      names.push_back(std::string("pipe_limit_") + syscall);
    }
  }
  return names;
}

int BrokenPipeProbe::epipeCountsFd() const {
  return bpf_map__fd(skel_->maps.epipe_counts);
}
int BrokenPipeProbe::sigpipeCountsFd() const {
  return bpf_map__fd(skel_->maps.sigpipe_counts);
}
int BrokenPipeProbe::sigpipeDeathsFd() const {
  return bpf_map__fd(skel_->maps.sigpipe_deaths);
}
int BrokenPipeProbe::pipeLimitCountsFd() const {
  return bpf_map__fd(skel_->maps.pipe_limit_counts);
}
int BrokenPipeProbe::fallbackCountsFd() const {
  return bpf_map__fd(skel_->maps.fallback_counts);
}

}  // namespace ipcwatch
