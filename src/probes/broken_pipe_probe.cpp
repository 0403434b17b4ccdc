#include "probes/broken_pipe_probe.h"

#include <linux/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "broken_pipe.skel.h"
#include "ipcwatch/bpf/broken_pipe.h"
#include "probes/tracefs.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_comm_key) == 24, "ABI of struct ipcw_comm_key changed");

namespace {

constexpr const char* kSigpipePrograms[] = {"sigpipe_generate", "sigpipe_exit"};

std::string errnoText(int err) {
  char buf[128];
  libbpf_strerror(err, buf, sizeof(buf));
  return buf;
}

}  // namespace

void BrokenPipeProbe::LinkDeleter::operator()(bpf_link* link) const { bpf_link__destroy(link); }

void BrokenPipeProbe::SkeletonDeleter::operator()(broken_pipe_bpf* skel) const {
  broken_pipe_bpf__destroy(skel);
}

std::string BrokenPipeProbe::epipeProgramName(const std::string& syscall) {
  return "epipe_" + syscall;
}

BrokenPipeProbe::BrokenPipeProbe(BrokenPipeProbeOptions options) : options_(std::move(options)) {
  for (const auto& name : enabledPrograms()) {
    status_.push_back({name, false, "not attached"});
  }
  if (status_.empty()) {
    return;
  }
  openAndLoad();
  if (loaded_) {
    attachAll();
  }
}

BrokenPipeProbe::~BrokenPipeProbe() = default;

std::vector<std::string> BrokenPipeProbe::enabledPrograms() const {
  std::vector<std::string> names;
  if (options_.epipe) {
    for (const auto& syscall : options_.syscalls) {
      names.push_back(epipeProgramName(syscall));
    }
  }
  if (options_.sigpipe) {
    names.insert(names.end(), std::begin(kSigpipePrograms), std::end(kSigpipePrograms));
  }
  return names;
}

void BrokenPipeProbe::openAndLoad() {
  auto fail = [this](const std::string& what) {
    spdlog::warn("broken_pipe probe degraded: {}", what);
    for (auto& s : status_) {
      s.error = what;
    }
  };
  skel_.reset(broken_pipe_bpf__open());
  if (!skel_) {
    fail("open BPF object: " + errnoText(errno));
    return;
  }
  // Only the programs the configuration enables are loaded, and so only they are attached:
  // every syscall tracepoint moves all syscalls of all tasks onto the slow path.
  const auto enabled = enabledPrograms();
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    const std::string name = bpf_program__name(prog);
    const bool on = std::find(enabled.begin(), enabled.end(), name) != enabled.end();
    bpf_program__set_autoload(prog, on);
  }
  for (bpf_map* map : {skel_->maps.epipe_counts, skel_->maps.sigpipe_counts,
                       skel_->maps.sigpipe_deaths}) {
    bpf_map__set_max_entries(map, options_.map_entries);
  }
  const int err = broken_pipe_bpf__load(skel_.get());
  if (err != 0) {
    fail("load BPF object: " + errnoText(-err));
    return;
  }
  loaded_ = true;
}

void BrokenPipeProbe::attachAll() {
  const bool needs_tracefs = options_.epipe && !options_.syscalls.empty();
  const std::string tracefs_error = needs_tracefs ? ensureTracefsMounted() : std::string();
  for (auto& status : status_) {
    bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, status.name.c_str());
    if (prog == nullptr) {
      status.error = "program not found in BPF object";
    } else if (bpf_link* link = bpf_program__attach(prog)) {
      links_.emplace_back(link);
      status.attached = true;
      status.error.clear();
      continue;
    } else {
      status.error = "attach: " + errnoText(errno);
      if (!tracefs_error.empty() && status.name.rfind("epipe_", 0) == 0) {
        status.error += " (" + tracefs_error + ")";
      }
    }
    spdlog::warn("broken_pipe probe: program {} degraded: {}", status.name, status.error);
  }
}

std::vector<ProgramStatus> BrokenPipeProbe::programs() const { return status_; }

int BrokenPipeProbe::epipeCountsFd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.epipe_counts) : -1;
}
int BrokenPipeProbe::sigpipeCountsFd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.sigpipe_counts) : -1;
}
int BrokenPipeProbe::sigpipeDeathsFd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.sigpipe_deaths) : -1;
}
int BrokenPipeProbe::fallbackCountsFd() const {
  return loaded_ ? bpf_map__fd(skel_->maps.fallback_counts) : -1;
}

}  // namespace ipcwatch
