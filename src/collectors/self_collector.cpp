#include "collectors/self_collector.h"

#include <sys/utsname.h>

#include <bpf/libbpf.h>

#include "metrics/family.h"
#include "util/stoppable_thread.h"

#ifndef IPCWATCH_VERSION
#error "IPCWATCH_VERSION must be defined by the build"
#endif
#ifndef IPCWATCH_REVISION
#error "IPCWATCH_REVISION must be defined by the build"
#endif

namespace ipcwatch {

BuildInfo currentBuildInfo() {
  BuildInfo info;
  info.version = IPCWATCH_VERSION;
  info.revision = IPCWATCH_REVISION;
  info.libbpf_version =
      std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version());
  utsname uts{};
  info.kernel_release = uname(&uts) == 0 ? uts.release : "unknown";
  return info;
}

void SelfCollector::collect(std::vector<MetricFamily>& out) {
  FamilyBuilder build("ipcwatch_build_info",
                      "A metric with a constant '1' value labelled by the agent's version, "
                      "revision, libbpf version and the kernel release it runs on.",
                      MetricType::Gauge);
  build.set({{"kernel_release", build_.kernel_release},
             {"libbpf_version", build_.libbpf_version},
             {"revision", build_.revision},
             {"version", build_.version}},
            1);
  out.push_back(build.build());
  if (!inventory_backend_.empty()) {
    FamilyBuilder backend("ipcwatch_host_inventory_backend",
                          "Where the per-scrape host snapshot reads processes and open FIFOs "
                          "from: bpf_iter (BPF task iterators) or procfs (a walk of /proc); "
                          "always 1.",
                          MetricType::Gauge);
    backend.set({{"backend", inventory_backend_}}, 1);
    out.push_back(backend.build());
  }

  FamilyBuilder attached("ipcwatch_probe_attached",
                         "Whether each BPF program the configuration enables is attached (1) or "
                         "degraded (0).",
                         MetricType::Gauge);
  for (const Probe* probe : probes_) {
    for (const auto& program : probe->programs()) {
      attached.set({{"probe", program.name}}, program.attached ? 1 : 0);
    }
  }
  if (!attached.empty()) {
    out.push_back(attached.build());
  }
  FamilyBuilder backends("ipcwatch_probe_backend",
                         "How each attached BPF program is attached: fentry or fexit (a BPF "
                         "trampoline on the kernel function), tracepoint (a syscall tracepoint) "
                         "or tp_btf "
                         "(a BTF-typed raw tracepoint); always 1, absent while the program is "
                         "degraded.",
                         MetricType::Gauge);
  for (const Probe* probe : probes_) {
    for (const auto& program : probe->programs()) {
      if (program.attached) {
        backends.set({{"backend", program.backend}, {"probe", program.name}}, 1);
      }
    }
  }
  if (!backends.empty()) {
    out.push_back(backends.build());
  }

  FamilyBuilder lost("ipcwatch_events_lost_total",
                     "Kernel events a probe could not deliver or count: ring-buffer records "
                     "dropped, or entries refused by a full map.",
                     MetricType::Counter);
  for (const Probe* probe : probes_) {
    for (const auto& source : probe->lostEvents()) {
      lost.set({{"probe", source.probe}}, static_cast<double>(source.count));
    }
  }
  if (!lost.empty()) {
    out.push_back(lost.build());
  }

  FamilyBuilder overflow("ipcwatch_label_overflow_total",
                         "Distinct label values folded into \"other\" because the metric reached "
                         "its configured label cap.",
                         MetricType::Counter);
  for (const auto& [metric, folds] : caps_.folds()) {
    overflow.set({{"metric", metric}}, static_cast<double>(folds));
  }
  if (!overflow.empty()) {
    out.push_back(overflow.build());
  }

  FamilyBuilder restarts("ipcwatch_background_thread_restarts_total",
                         "Times a background thread (ring-buffer poller, audit source) failed "
                         "and was started again after a backoff; the first failure of each is "
                         "logged at error.",
                         MetricType::Counter);
  for (const auto& [thread, count] : backgroundThreadRestarts()) {
    restarts.set({{"thread", thread}}, static_cast<double>(count));
  }
  if (!restarts.empty()) {
    out.push_back(restarts.build());
  }

  if (parse_errors_ != nullptr) {
    FamilyBuilder errors("ipcwatch_parse_errors_total",
                         "Lines or files from the kernel the collector could not parse (they "
                         "are skipped; the first of each file is logged at warn).",
                         MetricType::Counter);
    for (const auto& [collector, count] : parse_errors_->counts()) {
      errors.set({{"collector", collector}}, static_cast<double>(count));
    }
    if (!errors.empty()) {
      out.push_back(errors.build());
    }
  }
}

}  // namespace ipcwatch
