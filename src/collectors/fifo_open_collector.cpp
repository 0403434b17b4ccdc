#include "collectors/fifo_open_collector.h"

#include <fcntl.h>
#include <linux/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <stdexcept>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "ipcwatch/bpf/fifo_open.h"
#include "metrics/family.h"
#include "metrics/label_value.h"
#include "probes/bpf_map_reader.h"
#include "probes/proc_paths.h"

namespace ipcwatch {
namespace {

// Opens younger than this are not resolved at scrape time: almost every open finishes well
// within it, and resolving means reading the caller's memory and a stat.
constexpr std::uint64_t kMinWaitingNs = 1'000'000;

std::uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock of bpf_ktime_get_ns()
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Upper bound in seconds of wait bucket b: 1 ms for bucket 0, 2^b ms after.
double bucketUpperBound(int bucket) {
  return std::ldexp(0.001, bucket);
}

struct Waiting {
  double count = 0;
  double oldest_seconds = 0;
};

using WaitingByPath = std::map<std::pair<std::string, std::string>, Waiting>;  // (path, mode)

// The FIFOs waited on longest keep their path; the others are added up in path="other" per
// mode: their processes in ipc_fifo_open_waiting, their longest wait in the oldest-wait gauge.
void addWaitingFamilies(const WaitingByPath& waiting, ScrapeLabelCap& cap,
                        std::vector<MetricFamily>& out) {
  if (waiting.empty()) {
    return;
  }
  std::vector<std::pair<std::string, double>> candidates;
  candidates.reserve(waiting.size());
  for (const auto& [key, w] : waiting) {
    candidates.emplace_back(key.first, w.oldest_seconds);
  }
  const auto admitted = cap.admit(std::move(candidates));
  std::map<std::string, Waiting> folded;  // by mode
  FamilyBuilder count("ipc_fifo_open_waiting",
                      "Processes blocked in open() on a FIFO right now, waiting for a peer "
                      "(path=\"other\": on the FIFOs past the label cap).",
                      MetricType::Gauge);
  FamilyBuilder oldest("ipc_fifo_open_oldest_wait_seconds",
                       "How long the longest-waiting open() on the FIFO has been blocked.",
                       MetricType::Gauge);
  for (const auto& [key, w] : waiting) {
    if (!admitted.contains(key.first)) {
      auto& other = folded[key.second];
      other.count += w.count;
      other.oldest_seconds = std::max(other.oldest_seconds, w.oldest_seconds);
      continue;
    }
    const LabelSet labels = {{"mode", key.second}, {"path", key.first}};
    count.set(labels, w.count);
    oldest.set(labels, w.oldest_seconds);
  }
  for (const auto& [mode, w] : folded) {
    const LabelSet labels = {{"mode", mode}, {"path", std::string(ScrapeLabelCap::kOther)}};
    count.set(labels, w.count);
    oldest.set(labels, w.oldest_seconds);
  }
  out.push_back(count.build());
  out.push_back(oldest.build());
}

}  // namespace

FifoOpenCollector::FifoOpenCollector(const FifoOpenProbe& probe, LabelCaps& caps,
                                     FailureIdentities& identities)
    : probe_(probe),
      waiting_path_cap_(caps.gaugePath("ipc_fifo_open_waiting")),
      blocked_identity_(identities.fifo_blocked),
      error_identity_(identities.fifo_errors) {}

void FifoOpenCollector::collect(std::vector<MetricFamily>& out) {
  if (!probe_.loaded()) {
    throw std::runtime_error("fifo_open BPF object is not loaded");
  }
  out.push_back(waitHistogram());

  const FifoOpenCounts counts = probe_.counts();
  FamilyBuilder blocked("ipc_fifo_open_blocked_total",
                        "Opens of a FIFO that waited at least the configured threshold for a "
                        "peer, by path, mode (read or write) and who opened.",
                        MetricType::Counter);
  for (const auto& [key, n] : counts.blocked) {
    LabelSet labels = {{"mode", key.detail}, {"path", key.path}};
    blocked_identity_.append(labels, key.comm, key.cgroup);
    blocked.add(std::move(labels), static_cast<double>(n));
  }
  FamilyBuilder errors("ipc_fifo_open_errors_total",
                       "Failed opens of FIFOs by path, errno (ENXIO: a non-blocking writer "
                       "found no reader) and who opened; on watched paths, every failed open.",
                       MetricType::Counter);
  for (const auto& [key, n] : counts.errors) {
    LabelSet labels = {{"errno", key.detail}, {"path", key.path}};
    error_identity_.append(labels, key.comm, key.cgroup);
    errors.add(std::move(labels), static_cast<double>(n));
  }
  for (auto* family : {&blocked, &errors}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
  addWaiting(out);
}

MetricFamily FifoOpenCollector::waitHistogram() const {
  MetricFamily family;
  family.name = "ipc_fifo_open_wait_seconds";
  family.help = "How long opens of FIFOs waited for a peer, by mode.";
  family.type = MetricType::Histogram;
  const int fd = probe_.waitHistFd();
  std::vector<ipcw_wait_hist> per_cpu(static_cast<std::size_t>(possibleCpus()));
  for (std::uint32_t mode = 0; mode < IPCW_FIFO_MODES; ++mode) {
    if (bpf_map_lookup_elem(fd, &mode, per_cpu.data()) != 0) {
      throw std::runtime_error("wait histogram lookup failed");
    }
    ipcw_wait_hist total{};
    for (const auto& cpu : per_cpu) {
      for (int b = 0; b < IPCW_WAIT_BUCKETS; ++b) {
        total.buckets[b] += cpu.buckets[b];
      }
      total.sum_ns += cpu.sum_ns;
    }
    HistogramSample sample;
    sample.labels = {{"mode", mode == IPCW_FIFO_READ ? "read" : "write"}};
    sample.buckets.reserve(IPCW_WAIT_BUCKETS);
    std::uint64_t cumulative = 0;
    for (int b = 0; b < IPCW_WAIT_BUCKETS; ++b) {
      cumulative += total.buckets[b];
      const double bound = b == IPCW_WAIT_BUCKETS - 1 ? std::numeric_limits<double>::infinity()
                                                      : bucketUpperBound(b);
      sample.buckets.push_back({bound, cumulative});
    }
    sample.count = cumulative;
    sample.sum = static_cast<double>(total.sum_ns) / 1e9;
    family.histograms.push_back(std::move(sample));
  }
  return family;
}

// The opens in flight, each once. Every open()'s exit deletes its own entry, and
// bpf_map_get_next_key() on a key just deleted starts again from the first bucket: a key walk
// would count a long-blocked open once per restart and, under steady open() traffic, might
// never end. A batch lookup copies the map bucket by bucket, and an entry never moves to
// another bucket, so it sees each entry at most once (an open that starts meanwhile may be
// missed; it is younger than kMinWaitingNs anyway).
std::vector<ipcw_inflight_open> readInflightOpens(int map_fd) {
  bpf_map_info info{};
  std::uint32_t info_len = sizeof info;
  if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len) != 0) {
    throw std::runtime_error(std::string("in-flight opens: map info: ") + std::strerror(errno));
  }
  std::uint32_t capacity = std::min<std::uint32_t>(256, info.max_entries);
  std::vector<__u32> keys(capacity);
  std::vector<ipcw_inflight_open> values(capacity);
  std::vector<ipcw_inflight_open> opens;
  __u32 in_token = 0;  // the batch token of hash maps is a bucket index
  __u32 out_token = 0;
  bool first = true;
  for (;;) {
    std::uint32_t count = capacity;
    const int err = bpf_map_lookup_batch(map_fd, first ? nullptr : &in_token, &out_token,
                                         keys.data(), values.data(), &count, nullptr);
    const int saved = errno;
    if (err != 0 && saved == ENOSPC && capacity < info.max_entries) {
      // One bucket holds more entries than the buffer: read it again into a larger one.
      capacity *= 2;
      keys.resize(capacity);
      values.resize(capacity);
      continue;
    }
    if (err != 0 && saved != ENOENT) {
      if (first && (saved == EINVAL || saved == ENOTSUP || saved == EOPNOTSUPP)) {
        // Restarts make a walk longer than the map; four times its size is plenty.
        return readInflightOpensByKey(map_fd, 4 * static_cast<std::size_t>(info.max_entries));
      }
      throw std::runtime_error(std::string("in-flight opens: batch lookup: ") +
                               std::strerror(saved));
    }
    opens.insert(opens.end(), values.begin(), values.begin() + count);
    if (err != 0) {  // ENOENT: that was the last bucket
      return opens;
    }
    in_token = out_token;
    first = false;
  }
}

std::vector<ipcw_inflight_open> readInflightOpensByKey(int map_fd, std::size_t max_steps) {
  std::vector<ipcw_inflight_open> opens;
  std::unordered_set<__u32> seen;
  std::vector<__u32> met;  // the keys met, in walk order
  ipcw_inflight_open open{};
  auto present = [&](const __u32& key) { return bpf_map_lookup_elem(map_fd, &key, &open) == 0; };
  __u32 at = 0;
  __u32 next = 0;
  const __u32* prev = nullptr;
  for (std::size_t step = 0; step < max_steps; ++step) {
    if (bpf_map_get_next_key(map_fd, prev, &next) != 0) {
      return opens;  // ENOENT: past the last key
    }
    if (seen.insert(next).second) {
      met.push_back(next);
      if (present(next)) {
        opens.push_back(open);
      }
      at = next;
    } else if (prev != nullptr && !present(*prev)) {
      // The key the walk stood on is gone, so it started over from the first bucket: go on
      // from the last key met that is still there, not through everything met again.
      while (!met.empty() && !present(met.back())) {
        met.pop_back();
      }
      at = met.empty() ? next : met.back();
    } else {
      at = next;  // met before and inserted again further on: step over it
    }
    prev = &at;
  }
  spdlog::debug("in-flight opens: the key walk stopped after {} keys", max_steps);
  return opens;
}

void FifoOpenCollector::addWaiting(std::vector<MetricFamily>& out) {
  const std::string& procfs = probe_.options().procfs;
  const int fd = probe_.inflightFd();
  const std::uint64_t now = monotonicNs();
  WaitingByPath waiting;
  for (const ipcw_inflight_open& open : readInflightOpens(fd)) {
    if (open.start_ns > now || now - open.start_ns < kMinWaitingNs ||
        (open.flags & O_NONBLOCK) != 0) {
      continue;
    }
    const int accmode = static_cast<int>(open.flags & O_ACCMODE);
    if (accmode == O_RDWR) {
      continue;  // never waits for a peer
    }
    const ProcessView view(procfs, open.tgid);
    const auto raw = view.readString(open.filename, IPCW_FIFO_PATH_LEN);
    struct stat st {};
    if (!raw || view.lstat(open.dfd, *raw, st) != 0 || !S_ISFIFO(st.st_mode)) {
      continue;
    }
    const std::string path = sanitizeLabelValue(view.displayPath(open.dfd, *raw));
    auto& w = waiting[{path, accmode == O_RDONLY ? "read" : "write"}];
    w.count += 1;
    w.oldest_seconds = std::max(w.oldest_seconds, static_cast<double>(now - open.start_ns) / 1e9);
  }
  addWaitingFamilies(waiting, waiting_path_cap_, out);
}

}  // namespace ipcwatch
