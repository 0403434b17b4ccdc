#include "collectors/pipe_limits_collector.h"

#include <linux/types.h>

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "inventory/parsers/ipc_parsers.h"
#include "inventory/proc_file.h"
#include "ipcwatch/bpf/broken_pipe.h"
#include "metrics/family.h"
#include "probes/bpf_map_reader.h"

namespace ipcwatch {
namespace {

constexpr const char* kEventsMetric = "ipc_pipe_limit_events_total";

}  // namespace

std::string_view pipeLimitEventName(std::uint32_t event) {
  switch (event) {
    case IPCW_PIPE_CREATE_ENFILE:
      return "create_enfile";
    case IPCW_PIPE_RESIZE_EPERM:
      return "resize_eperm";
    case IPCW_PIPE_REDUCED:
      return "reduced_buffer";
    default:
      return "unknown";
  }
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> pipePagesByUser(
    const std::vector<ProcessFacts>& processes) {
  std::map<std::uint32_t, std::uint64_t> by_uid;
  for (const auto& process : processes) {
    if (process.pipe_pages) {
      // One count per user; tasks read a moment apart may differ: keep the latest read.
      by_uid[process.pipe_uid] = *process.pipe_pages;
    }
  }
  return {by_uid.begin(), by_uid.end()};
}

PipeLimitsCollector::PipeLimitsCollector(std::string procfs, HostSnapshotSource& snapshots,
                                         std::uint32_t top_n, const BrokenPipeProbe* probe,
                                         LabelCaps& caps, FailureIdentities* identities)
    : procfs_(std::move(procfs)), snapshots_(snapshots), top_n_(top_n), probe_(probe) {
  if (probe_ != nullptr && probe_->options().pipe_limits) {
    events_.emplace(
        kEventsMetric,
        "Pipe buffer limits hit, by the task's comm and what happened: create_enfile "
        "(pipe()/pipe2() failed with ENFILE, past fs.pipe-user-pages-hard or the system's file "
        "limit), resize_eperm (fcntl(F_SETPIPE_SZ) refused with EPERM, past "
        "fs.pipe-user-pages-soft/-hard or fs.pipe-max-size), reduced_buffer (a pipe created "
        "with fewer than the default 16 pages, past fs.pipe-user-pages-soft).",
        caps.comm(kEventsMetric),
        [](const std::string& comm, std::uint32_t code) -> LabelSet {
          return {{"comm", comm}, {"event", std::string(pipeLimitEventName(code))}};
        },
        identities != nullptr ? &identities->pipe_limits : nullptr);
  }
}

void PipeLimitsCollector::collect(std::vector<MetricFamily>& out) {
  FamilyBuilder limits("ipc_pipe_limit",
                       "The pipe buffer limits (/proc/sys/fs): resource=\"user_pages_soft\" "
                       "and \"user_pages_hard\" in pages per user (0: no limit), "
                       "\"max_size_bytes\" the largest pipe an unprivileged user may ask for.",
                       MetricType::Gauge);
  for (const auto& [resource, file] : {std::pair{"user_pages_soft", "pipe-user-pages-soft"},
                                       std::pair{"user_pages_hard", "pipe-user-pages-hard"},
                                       std::pair{"max_size_bytes", "pipe-max-size"}}) {
    const auto text = readProcFile(procfs_ + "/sys/fs/" + file);
    if (const auto value = text ? parseSysctlUnsigned(*text) : std::nullopt) {
      limits.set({{"resource", resource}}, static_cast<double>(*value));
    }
  }
  if (!limits.empty()) {
    out.push_back(limits.build());
  }
  collectUserPages(out);
  if (events_ && probe_->loaded()) {
    events_->beginScrape();
    events_->addMap(probe_->pipeLimitCountsFd());
    for (std::uint32_t event = 0; event < IPCW_PIPE_LIMIT_EVENT_COUNT; ++event) {
      const auto n =
          readPerCpuArraySlot(probe_->fallbackCountsFd(), IPCW_FALLBACK_PIPE_LIMIT_BASE + event);
      if (n != 0) {
        events_->addOther(event, n);
      }
    }
    events_->appendTo(out);
  }
}

void PipeLimitsCollector::collectUserPages(std::vector<MetricFamily>& out) {
  const auto snapshot = snapshots_.current();
  auto users = pipePagesByUser(snapshot->processes());
  if (users.empty()) {
    if (!backend_logged_) {
      spdlog::info(
          "pipe_limits: ipc_pipe_user_pages needs the BPF task iterator (the {} backend cannot "
          "see the kernel's per-user pipe count)",
          snapshot->factsBackend());
      backend_logged_ = true;
    }
    return;
  }
  std::sort(users.begin(), users.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  FamilyBuilder pages("ipc_pipe_user_pages",
                      "Pipe buffer pages charged to a user (real uid) now, as the kernel holds "
                      "them against fs.pipe-user-pages-soft and -hard: the users with the most, "
                      "uid=\"other\" the sum of the rest.",
                      MetricType::Gauge);
  std::uint64_t rest = 0;
  bool folded = false;
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (i < top_n_) {
      pages.set({{"uid", std::to_string(users[i].first)}}, static_cast<double>(users[i].second));
    } else {
      rest += users[i].second;
      folded = true;
    }
  }
  if (folded) {
    pages.set({{"uid", "other"}}, static_cast<double>(rest));
  }
  out.push_back(pages.build());
}

}  // namespace ipcwatch
