// Overload and soak: an event storm against the real agent, with the agent's counts compared to
// what was generated.
//  - EPIPE writers: processes writing to pipes whose reader is gone, as fast as they can, each
//    with its own comm; each counts its own failed writes.
//  - Blocked FIFO opens: pairs of processes on their own FIFO, the reader's open waiting for the
//    writer; the reader counts the opens that waited longer than the probe's threshold.
//  - Scrapers: threads fetching /metrics all the time, timing every response and checking that
//    no counter of ours ever goes backwards.
// At the end it prints generated versus counted events, the agent's lost-event counters, the
// scrape latency percentiles and the agent's peak RSS. Every count must be exact and nothing
// lost: the FIFO counts are kept in the kernel, like the EPIPE ones. Not run in CI; results are recorded in
// docs/benchmarks.md. Run as root: `make soak` (or build/tests/ipcwatch_soak [--seconds N]
// [--writers N] [--fifo-pairs N] [--scrapers N]).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../e2e/agent_process.h"
#include "child_process.h"

namespace {

using ipcwatch::testing::AgentProcess;
using ipcwatch::testing::httpRequest;
using ipcwatch::testing::parseExposition;
using ipcwatch::testing::processTreeStatusKiB;
using ipcwatch::testing::findSample;
using ipcwatch::testing::uniqueComm;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr double kBlockedThresholdSeconds = 0.002;
constexpr auto kWriterDelayForBlockedOpen = 10ms;  // far above the threshold

struct Options {
  int seconds = 60;
  int writers = 2 * static_cast<int>(std::thread::hardware_concurrency());
  int fifo_pairs = 4;
  int scrapers = 4;
};

// A forked worker that runs `body` until `deadline` and reports one number on a pipe.
class Worker {
 public:
  Worker(const std::string& comm, const std::function<long()>& body) {
    int fds[2];
    if (pipe(fds) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      prctl(PR_SET_NAME, comm.c_str());
      const long n = body();
      (void)!write(fds[1], &n, sizeof n);
      _exit(0);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  pid_t pid() const { return pid_; }
  // Waits for the worker and returns its number (-1 when it failed).
  long result() {
    long n = -1;
    if (fd_ >= 0 && read(fd_, &n, sizeof n) != sizeof n) {
      n = -1;
    }
    if (fd_ >= 0) {
      close(fd_);
    }
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);
    }
    return n;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

long epipeStorm(Clock::time_point deadline) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  close(fds[0]);
  long failures = 0;
  const char byte = 'x';
  while (Clock::now() < deadline) {
    for (int i = 0; i < 1000; ++i) {
      failures += (write(fds[1], &byte, 1) < 0 && errno == EPIPE) ? 1 : 0;
    }
  }
  return failures;
}

// The reader side of a FIFO pair: opens for reading, blocking until the writer comes; every
// open blocks (the writer sees to it), so the number of opens is the number of blocked opens.
long blockedReader(const std::string& fifo, Clock::time_point deadline) {
  long opens = 0;
  while (Clock::now() < deadline) {
    const int fd = open(fifo.c_str(), O_RDONLY);
    if (fd < 0) {
      return -1;
    }
    ++opens;
    char buffer[16];
    while (read(fd, buffer, sizeof buffer) > 0) {
    }
    close(fd);
  }
  return opens;
}

// Whether `pid` sleeps inside openat() now: state S in /proc/PID/stat (a task woken but not yet
// back in user space is R) and /proc/PID/syscall starting with the syscall number.
bool sleepingInOpenat(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream stat(proc + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'S') {
    return false;
  }
  std::ifstream syscall(proc + "/syscall");
  long nr = -1;
  syscall >> nr;
  return nr == 257;  // __NR_openat on x86_64
}

// The writer side: waits until the reader is blocked in open(), keeps it waiting well past the
// threshold, then opens (O_NONBLOCK: ENXIO while no reader yet, a failed open the probe reports
// too). Returns the number of ENXIO failures.
long pairedWriter(const std::string& fifo, pid_t reader, Clock::time_point deadline) {
  long enxio = 0;
  // One extra round past the deadline so the reader's last open is released.
  for (bool last = false; !last;) {
    last = Clock::now() >= deadline;
    const auto wait_limit = Clock::now() + 2s;
    while (!sleepingInOpenat(reader) && Clock::now() < wait_limit) {
      std::this_thread::yield();
    }
    std::this_thread::sleep_for(kWriterDelayForBlockedOpen);  // the load: a reader kept waiting
    int fd = -1;
    const auto give_up = Clock::now() + 2s;
    while ((fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO) {
      ++enxio;
      if (Clock::now() >= give_up) {
        break;
      }
      std::this_thread::yield();
    }
    if (fd >= 0) {
      close(fd);
    }
  }
  return enxio;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}


struct ScrapeStats {
  std::mutex mutex;
  std::vector<double> latencies_ms;
  long failures = 0;
  long backwards = 0;
};

// Scrapes until `stop`, recording latencies and checking our counters never decrease.
void scraper(int port, const std::vector<std::string>& keys, std::atomic<bool>& stop,
             ScrapeStats& stats) {
  std::map<std::string, double> last;
  std::vector<double> latencies;
  long failures = 0;
  long backwards = 0;
  while (!stop) {
    const auto start = Clock::now();
    const auto response = httpRequest(port, "GET", "/metrics");
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (!response || response->status != 200 ||
        response->body.find("ipcwatch_build_info") == std::string::npos) {
      ++failures;
      continue;
    }
    const auto samples = parseExposition(response->body);
    for (const auto& key : keys) {
      const auto it = samples.find(key);
      const double value = it == samples.end() ? 0 : it->second;
      backwards += value < last[key] ? 1 : 0;
      last[key] = value;
    }
  }
  std::lock_guard lock(stats.mutex);
  stats.latencies_ms.insert(stats.latencies_ms.end(), latencies.begin(), latencies.end());
  stats.failures += failures;
  stats.backwards += backwards;
}

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--seconds") == 0) {
      options.seconds = value;
    } else if (std::strcmp(argv[i], "--writers") == 0) {
      options.writers = value;
    } else if (std::strcmp(argv[i], "--fifo-pairs") == 0) {
      options.fifo_pairs = value;
    } else if (std::strcmp(argv[i], "--scrapers") == 0) {
      options.scrapers = value;
    } else {
      std::fprintf(stderr, "soak: unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr, "soak: needs root (the agent's BPF programs)\n");
    return 1;
  }
  char tmpl[] = "/tmp/ipcwatch-soak-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  std::vector<std::string> fifos;
  for (int i = 0; i < options.fifo_pairs; ++i) {
    fifos.push_back(dir + "/fifo" + std::to_string(i));
    if (mkfifo(fifos.back().c_str(), 0600) != 0) {
      std::perror("mkfifo");
      return 1;
    }
  }
  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%g", kBlockedThresholdSeconds);
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\nprobes:\n  fifo_open:\n"
      "    blocked_threshold_seconds: " +
      std::string(threshold) + "\nscan:\n  directories: [" + dir +
      "]\n"
      // The FIFO counts by path alone, as with every workload label off.
      "workload:\n  labels: []\n");
  const int port = agent.waitForPort(30s);
  if (port == 0) {
    std::fprintf(stderr, "soak: the agent did not start:\n%s\n", agent.log().c_str());
    return 1;
  }
  std::printf("ipcwatch soak: %d s, %d EPIPE writers, %d FIFO pairs, %d scrapers, %u CPUs\n",
              options.seconds, options.writers, options.fifo_pairs, options.scrapers,
              std::thread::hardware_concurrency());
  std::fflush(stdout);

  std::vector<std::string> comms;
  std::vector<std::string> keys;  // the counters the scrapers watch
  for (int i = 0; i < options.writers; ++i) {
    comms.push_back(uniqueComm("soakw"));
    keys.push_back(ipcwatch::testing::sampleKey("ipc_epipe_total",
                                                {{"comm", comms.back()}, {"kind", "pipe"}}));
  }
  for (const auto& fifo : fifos) {
    keys.push_back(ipcwatch::testing::sampleKey("ipc_fifo_open_blocked_total",
                                                {{"mode", "read"}, {"path", fifo}}));
    keys.push_back(ipcwatch::testing::sampleKey("ipc_fifo_open_errors_total",
                                                {{"errno", "ENXIO"}, {"path", fifo}}));
  }
  std::atomic<bool> stop{false};
  ScrapeStats scrape_stats;
  std::vector<std::thread> scrapers;
  for (int i = 0; i < options.scrapers; ++i) {
    scrapers.emplace_back(scraper, port, std::cref(keys), std::ref(stop), std::ref(scrape_stats));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(options.seconds);
  std::vector<std::unique_ptr<Worker>> writers;
  std::vector<std::unique_ptr<Worker>> readers;
  std::vector<std::unique_ptr<Worker>> openers;
  for (const auto& comm : comms) {
    writers.push_back(std::make_unique<Worker>(comm, [deadline] { return epipeStorm(deadline); }));
  }
  for (const auto& fifo : fifos) {
    readers.push_back(std::make_unique<Worker>(
        "soakr", [fifo, deadline] { return blockedReader(fifo, deadline); }));
    const pid_t reader = readers.back()->pid();
    openers.push_back(std::make_unique<Worker>(
        "soako", [fifo, reader, deadline] { return pairedWriter(fifo, reader, deadline); }));
  }
  std::vector<long> epipe_generated;
  for (auto& w : writers) {
    epipe_generated.push_back(w.get()->result());
  }
  std::vector<long> blocked_generated;
  std::vector<long> enxio_generated;
  for (std::size_t i = 0; i < readers.size(); ++i) {
    enxio_generated.push_back(openers[i]->result());
    blocked_generated.push_back(readers[i]->result());
  }

  // A count created while a scrape walked the map shows at the next: wait until they settle.
  std::map<std::string, double> final_samples;
  const auto settle_deadline = Clock::now() + 10s;
  for (std::map<std::string, double> previous; Clock::now() < settle_deadline;) {
    const auto response = httpRequest(port, "GET", "/metrics");
    if (response) {
      final_samples = parseExposition(response->body);
      if (final_samples == previous) {
        break;
      }
      previous = final_samples;
    }
    std::this_thread::sleep_for(500ms);
  }
  stop = true;
  for (auto& t : scrapers) {
    t.join();
  }

  long epipe_total = 0;
  double epipe_counted = 0;
  int epipe_exact = 0;
  for (std::size_t i = 0; i < comms.size(); ++i) {
    const double counted = findSample(final_samples, "ipc_epipe_total",
                                       {{"comm", comms[i]}, {"kind", "pipe"}}).value_or(0);
    epipe_total += epipe_generated[i];
    epipe_counted += counted;
    epipe_exact += counted == static_cast<double>(epipe_generated[i]) ? 1 : 0;
  }
  long blocked_total = 0;
  double blocked_counted = 0;
  long enxio_total = 0;
  double enxio_counted = 0;
  for (std::size_t i = 0; i < fifos.size(); ++i) {
    blocked_total += blocked_generated[i];
    blocked_counted += findSample(final_samples, "ipc_fifo_open_blocked_total",
                                   {{"mode", "read"}, {"path", fifos[i]}}).value_or(0);
    enxio_total += enxio_generated[i];
    enxio_counted += findSample(final_samples, "ipc_fifo_open_errors_total",
                                 {{"errno", "ENXIO"}, {"path", fifos[i]}}).value_or(0);
  }
  const double lost_counts = findSample(final_samples, "ipcwatch_events_lost_total",
                                         {{"probe", "fifo_open"}}).value_or(-1);
  const double lost_inflight = findSample(final_samples, "ipcwatch_events_lost_total",
                                           {{"probe", "fifo_open_inflight"}}).value_or(-1);

  std::printf("\nEPIPE (in-kernel counters)\n");
  std::printf("  generated %ld, counted %.0f, writers with an exact count: %d of %zu\n",
              epipe_total, epipe_counted, epipe_exact, comms.size());
  std::printf("FIFO opens (in-kernel counters)\n");
  std::printf("  blocked: generated %ld, counted %.0f\n", blocked_total, blocked_counted);
  std::printf("  failed with ENXIO: generated %ld, counted %.0f\n", enxio_total, enxio_counted);
  std::printf("  lost: counts map full %.0f, in-flight map full %.0f\n", lost_counts,
              lost_inflight);
  std::printf("/metrics under load (%d scrapers, %zu scrapes)\n", options.scrapers,
              scrape_stats.latencies_ms.size());
  std::printf("  latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              percentile(scrape_stats.latencies_ms, 0.5), percentile(scrape_stats.latencies_ms, 0.9),
              percentile(scrape_stats.latencies_ms, 0.99),
              percentile(scrape_stats.latencies_ms, 1.0));
  std::printf("  failed or incomplete responses %ld, counters going backwards %ld\n",
              scrape_stats.failures, scrape_stats.backwards);
  std::printf("Agent memory (with its web process): peak RSS %ld KiB, RSS now %ld KiB\n",
              processTreeStatusKiB(agent.pid(), "VmHWM"),
              processTreeStatusKiB(agent.pid(), "VmRSS"));
  std::filesystem::remove_all(dir);
  // Every generated event is counted, exactly, and nothing is lost (a missing lost series
  // reads -1 and fails too).
  const bool ok = epipe_exact == static_cast<int>(comms.size()) &&
                  blocked_counted == static_cast<double>(blocked_total) &&
                  enxio_counted == static_cast<double>(enxio_total) && lost_counts == 0 &&
                  lost_inflight == 0 && scrape_stats.failures == 0 && scrape_stats.backwards == 0;
  std::printf("\n%s\n", ok ? "OK: every event counted exactly, none lost"
                           : "MISMATCH: see the numbers above");
  return ok ? 0 : 1;
}
