#include "probes/broken_pipe_probe.h"

#include <linux/types.h>

#include <cerrno>

#include <bpf/libbpf.h>

#include "broken_pipe.skel.h"
#include "ipcwatch/bpf/broken_pipe.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_comm_key) == 24, "ABI of struct ipcw_comm_key changed");

void BrokenPipeProbe::SkeletonDeleter::operator()(broken_pipe_bpf* skel) const {
  broken_pipe_bpf__destroy(skel);
}

std::string BrokenPipeProbe::epipeProgramName(const std::string& syscall) {
  return "epipe_" + syscall;
}

BrokenPipeProbe::BrokenPipeProbe(BrokenPipeProbeOptions options)
    : options_(std::move(options)), programs_("broken_pipe", enabledPrograms()) {
  if (programs_.empty()) {
    return;
  }
  // Only the programs the configuration enables are loaded, and so only they are attached:
  // every syscall tracepoint moves all syscalls of all tasks onto the slow path.
  skel_ = programs_.openAndLoad<broken_pipe_bpf, SkeletonDeleter>(
      broken_pipe_bpf__open, broken_pipe_bpf__load, [&](broken_pipe_bpf& skel) {
        for (bpf_map* map :
             {skel.maps.epipe_counts, skel.maps.sigpipe_counts, skel.maps.sigpipe_deaths}) {
          bpf_map__set_max_entries(map, options_.map_entries);
        }
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
int BrokenPipeProbe::fallbackCountsFd() const {
  return bpf_map__fd(skel_->maps.fallback_counts);
}

}  // namespace ipcwatch
