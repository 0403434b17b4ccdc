#include "collectors/broken_pipe_collector.h"

#include <linux/types.h>

#include <stdexcept>

#include "ipcwatch/bpf/broken_pipe.h"
#include "metrics/family.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"

namespace ipcwatch {
namespace {

constexpr const char* kEpipeMetric = "ipc_epipe_total";
constexpr const char* kSigpipeMetric = "ipc_sigpipe_total";
constexpr const char* kDeathsMetric = "ipc_sigpipe_deaths_total";

void requireLoaded(const BrokenPipeProbe& probe) {
  if (!probe.loaded()) {
    throw std::runtime_error("broken_pipe BPF object is not loaded");
  }
}

// Adds every (comm, code) counter of a map to `family`, capping comm; codes >= code_count are
// reported as `unknown_code` (a newer BPF object than this agent knows).
template <typename LabelFn>
void addCommCounters(int map_fd, LabelCap& cap, FamilyBuilder& family, LabelFn&& labels) {
  forEachPerCpuCounter<ipcw_comm_key>(map_fd, [&](const ipcw_comm_key& key, std::uint64_t n) {
    const std::string comm =
        cap.admit(sanitizeLabelValue(fromKernelString(key.comm, sizeof key.comm)));
    family.add(labels(comm, key.code), static_cast<double>(n));
  });
}

}  // namespace

std::string_view epipeKindName(std::uint32_t kind) {
  switch (kind) {
    case IPCW_KIND_PIPE:
      return "pipe";
    case IPCW_KIND_FIFO:
      return "fifo";
    case IPCW_KIND_UNIX_STREAM:
      return "unix_stream";
    case IPCW_KIND_UNIX_SEQPACKET:
      return "unix_seqpacket";
    case IPCW_KIND_TCP:
      return "tcp";
    default:
      return "other";
  }
}

std::string_view sigpipeActionName(std::uint32_t action) {
  switch (action) {
    case IPCW_SIGPIPE_DEFAULT:
      return "default";
    case IPCW_SIGPIPE_HANDLED:
      return "handled";
    case IPCW_SIGPIPE_IGNORED:
      return "ignored";
    case IPCW_SIGPIPE_BLOCKED:
      return "blocked";
    default:
      return "unknown";
  }
}

BrokenPipeCollector::BrokenPipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps)
    : probe_(probe), comm_cap_(caps.comm(kEpipeMetric)) {}

void BrokenPipeCollector::collect(std::vector<MetricFamily>& out) {
  requireLoaded(probe_);
  FamilyBuilder family(kEpipeMetric,
                       "Writes and sends that failed with EPIPE (the reading end was closed), by "
                       "the writer's comm and the kind of file written to.",
                       MetricType::Counter);
  addCommCounters(probe_.epipeCountsFd(), comm_cap_, family,
                  [](const std::string& comm, std::uint32_t code) -> LabelSet {
                    return {{"comm", comm}, {"kind", std::string(epipeKindName(code))}};
                  });
  for (std::uint32_t kind = 0; kind < IPCW_KIND_COUNT; ++kind) {
    const auto n = readPerCpuArraySlot(probe_.fallbackCountsFd(), IPCW_FALLBACK_EPIPE_BASE + kind);
    if (n != 0) {
      family.add(
          {{"comm", std::string(LabelCap::kOther)}, {"kind", std::string(epipeKindName(kind))}},
          static_cast<double>(n));
    }
  }
  if (!family.empty()) {
    out.push_back(family.build());
  }
}

SigpipeCollector::SigpipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps)
    : probe_(probe),
      signal_comm_cap_(caps.comm(kSigpipeMetric)),
      death_comm_cap_(caps.comm(kDeathsMetric)) {}

void SigpipeCollector::collect(std::vector<MetricFamily>& out) {
  requireLoaded(probe_);
  FamilyBuilder signals(kSigpipeMetric,
                        "SIGPIPE signals generated, by the target's comm and what became of the "
                        "signal (default: terminates, handled, ignored, blocked: left pending).",
                        MetricType::Counter);
  addCommCounters(probe_.sigpipeCountsFd(), signal_comm_cap_, signals,
                  [](const std::string& comm, std::uint32_t code) -> LabelSet {
                    return {{"action", std::string(sigpipeActionName(code))}, {"comm", comm}};
                  });
  const int fallback = probe_.fallbackCountsFd();
  for (std::uint32_t action = 0; action < IPCW_SIGPIPE_ACTION_COUNT; ++action) {
    const auto n = readPerCpuArraySlot(fallback, IPCW_FALLBACK_SIGPIPE_BASE + action);
    if (n != 0) {
      signals.add({{"action", std::string(sigpipeActionName(action))},
                   {"comm", std::string(LabelCap::kOther)}},
                  static_cast<double>(n));
    }
  }
  FamilyBuilder deaths(kDeathsMetric, "Processes terminated by SIGPIPE, by comm.",
                       MetricType::Counter);
  addCommCounters(probe_.sigpipeDeathsFd(), death_comm_cap_, deaths,
                  [](const std::string& comm, std::uint32_t) -> LabelSet {
                    return {{"comm", comm}};
                  });
  if (const auto n = readPerCpuArraySlot(fallback, IPCW_FALLBACK_DEATH_SLOT); n != 0) {
    deaths.add({{"comm", std::string(LabelCap::kOther)}}, static_cast<double>(n));
  }
  for (auto* family : {&signals, &deaths}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

}  // namespace ipcwatch
