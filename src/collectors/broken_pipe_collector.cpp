#include "collectors/broken_pipe_collector.h"

#include <linux/types.h>

#include <stdexcept>

#include "ipcwatch/bpf/broken_pipe.h"
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

BrokenPipeCollector::BrokenPipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps,
                                         FailureIdentities* identities)
    : probe_(probe),
      epipe_(
          kEpipeMetric,
          "Writes and sends that failed with EPIPE (the reading end was closed), by the "
          "writer's comm and the kind of file written to.",
          caps.comm(kEpipeMetric),
          [](const std::string& comm, std::uint32_t code) -> LabelSet {
            return {{"comm", comm}, {"kind", std::string(epipeKindName(code))}};
          },
          identities != nullptr ? &identities->epipe : nullptr) {}

void BrokenPipeCollector::collect(std::vector<MetricFamily>& out) {
  requireLoaded(probe_);
  epipe_.beginScrape();
  epipe_.addMap(probe_.epipeCountsFd());
  for (std::uint32_t kind = 0; kind < IPCW_KIND_COUNT; ++kind) {
    const auto n = readPerCpuArraySlot(probe_.fallbackCountsFd(), IPCW_FALLBACK_EPIPE_BASE + kind);
    if (n != 0) {
      epipe_.addOther(kind, n);
    }
  }
  epipe_.appendTo(out);
}

SigpipeCollector::SigpipeCollector(const BrokenPipeProbe& probe, LabelCaps& caps,
                                   FailureIdentities* identities)
    : probe_(probe),
      signals_(
          kSigpipeMetric,
          "SIGPIPE signals generated, by the target's comm and what became of the signal "
          "(default: terminates, handled, ignored, blocked: left pending).",
          caps.comm(kSigpipeMetric),
          [](const std::string& comm, std::uint32_t code) -> LabelSet {
            return {{"action", std::string(sigpipeActionName(code))}, {"comm", comm}};
          },
          identities != nullptr ? &identities->sigpipe : nullptr),
      deaths_(
          kDeathsMetric, "Processes terminated by SIGPIPE, by comm.", caps.comm(kDeathsMetric),
          [](const std::string& comm, std::uint32_t) -> LabelSet {
            return {{"comm", comm}};
          },
          identities != nullptr ? &identities->sigpipe_deaths : nullptr) {}

void SigpipeCollector::collect(std::vector<MetricFamily>& out) {
  requireLoaded(probe_);
  signals_.beginScrape();
  deaths_.beginScrape();
  signals_.addMap(probe_.sigpipeCountsFd());
  const int fallback = probe_.fallbackCountsFd();
  for (std::uint32_t action = 0; action < IPCW_SIGPIPE_ACTION_COUNT; ++action) {
    const auto n = readPerCpuArraySlot(fallback, IPCW_FALLBACK_SIGPIPE_BASE + action);
    if (n != 0) {
      signals_.addOther(action, n);
    }
  }
  deaths_.addMap(probe_.sigpipeDeathsFd());
  if (const auto n = readPerCpuArraySlot(fallback, IPCW_FALLBACK_DEATH_SLOT); n != 0) {
    deaths_.addOther(0, n);
  }
  signals_.appendTo(out);
  deaths_.appendTo(out);
}

}  // namespace ipcwatch
