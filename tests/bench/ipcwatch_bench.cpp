// What ipcwatch costs the host and how its endpoint scales, measured in one run:
//  1. hot IPC loops (1-byte pipe write+read, unix-socket send+recv) with no tracing, with the
//     floor (empty BPF programs on exactly the agent's tracepoints), with the agent's default
//     configuration and with bpftrace counting EPIPE on sys_exit_write; the modes are
//     interleaved over several repetitions and reported as median and spread;
//  2. /metrics latency and agent RSS with 10, 1 000 and 10 000 distinct label sets;
//  3. agent start-up time until every probe is attached;
//  4. scrape latency and CPU per scrape of ipcwatch and of node_exporter, on the machine as it
//     is and on a generated big host (BigHost: 1 000 processes x 100 descriptors, 100 network
//     and IPC namespaces) with 10 FIFO and 2 socket endpoints x 2 clients configured;
//  5. the probe backends side by side (`--only backends`, also run in a guest on Debian's 6.1
//     kernel by scripts/vm/bench.sh): no agent, the tracepoint floor, the agent on its syscall
//     tracepoints and on its BPF trampolines, on the pipe and unix loops, a loop of a syscall no
//     probe looks at (getpid) and a loop of broken-pipe writes (the counted event).
// Run as root: `make bench` (or build/tests/ipcwatch_bench [--only SECTIONS] [options], see
// usage() and docs/benchmarks.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <bpf/libbpf.h>

#include "../e2e/agent_process.h"
#include "bench_floor.skel.h"
#include "bench_floor_raw.skel.h"
#include "big_host.h"
#include "child_process.h"
#include "scrape_cost.h"

namespace {

using ipcwatch::testing::AgentProcess;
using ipcwatch::testing::BigHost;
using ipcwatch::testing::cpuTimes;
using ipcwatch::testing::ftraceCanHook;
using ipcwatch::testing::httpRequest;
using ipcwatch::testing::measureScrapes;
using ipcwatch::testing::NodeExporter;
using ipcwatch::testing::parseExposition;
using ipcwatch::testing::processTreeStatusKiB;
using ipcwatch::testing::ScrapeCost;
using ipcwatch::testing::ScrapeOptions;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) {
    return {};
  }
  return {v[v.size() / 2], v.front(), v.back()};
}

double pipeLoopNs(long iterations) {
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  char byte = 'x';
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (write(fds[1], &byte, 1) != 1 || read(fds[0], &byte, 1) != 1) {
      return -1;
    }
  }
  const std::chrono::duration<double, std::nano> took = Clock::now() - start;
  close(fds[0]);
  close(fds[1]);
  return took.count() / static_cast<double>(iterations);
}

double unixLoopNs(long iterations) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return -1;
  }
  char byte = 'x';
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (send(sv[0], &byte, 1, 0) != 1 || recv(sv[1], &byte, 1, 0) != 1) {
      return -1;
    }
  }
  const std::chrono::duration<double, std::nano> took = Clock::now() - start;
  close(sv[0]);
  close(sv[1]);
  return took.count() / static_cast<double>(iterations);
}

// Scrapes until every ipcwatch_probe_attached series is 1 (at least one exists).
bool allProbesAttached(int port) {
  const auto response = httpRequest(port, "GET", "/metrics");
  if (!response) {
    return false;
  }
  int seen = 0;
  for (const auto& [key, value] : parseExposition(response->body)) {
    if (key.rfind("ipcwatch_probe_attached{", 0) == 0) {
      ++seen;
      if (value != 1) {
        return false;
      }
    }
  }
  return seen > 0;
}

struct AgentRun {
  std::unique_ptr<AgentProcess> process;
  int port = 0;
  double startup_seconds = 0;
};

AgentRun startAgent(const std::string& extra_yaml = "") {
  AgentRun run;
  const auto start = Clock::now();
  run.process =
      std::make_unique<AgentProcess>("web:\n  listen_address: \"127.0.0.1:0\"\n" + extra_yaml);
  run.port = run.process->waitForPort(30s);
  while (run.port != 0 && !allProbesAttached(run.port) && Clock::now() - start < 30s) {
    std::this_thread::sleep_for(2ms);
  }
  run.startup_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

// bpftrace counting EPIPE per comm on sys_exit_write, as an operator might run it by hand.
class Bpftrace {
 public:
  Bpftrace() {
    int out[2];
    if (pipe(out) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(out[1], STDERR_FILENO);
      execlp("bpftrace", "bpftrace", "-e",
             "tracepoint:syscalls:sys_exit_write /args->ret == -32/ { @[comm] = count(); }",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    // Ready once it has loaded its program (a prog_id shows in its fdinfo).
    const auto end = Clock::now() + 60s;
    while (Clock::now() < end && !hasProgram()) {
      std::this_thread::sleep_for(5ms);
    }
    reader_ = out[0];
  }
  ~Bpftrace() {
    if (pid_ > 0) {
      kill(pid_, SIGINT);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_ >= 0) {
      close(reader_);
    }
  }
  bool ok() const { return pid_ > 0 && hasProgram(); }

 private:
  bool hasProgram() const {
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(pid_) + "/fdinfo";
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::ifstream in(entry.path());
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("prog_id:", 0) == 0) {
          return true;
        }
      }
    }
    return false;
  }

  pid_t pid_ = -1;
  int reader_ = -1;
};

// Empty programs attached for the duration of a measurement: Skel is a bpftool skeleton type.
template <typename Skel, Skel* (*OpenLoad)(), int (*Attach)(Skel*), void (*Destroy)(Skel*)>
class EmptyPrograms {
 public:
  EmptyPrograms() : skel_(OpenLoad()) {
    if (skel_ != nullptr && Attach(skel_) != 0) {
      Destroy(skel_);
      skel_ = nullptr;
    }
  }
  ~EmptyPrograms() { Destroy(skel_); }
  EmptyPrograms(const EmptyPrograms&) = delete;
  EmptyPrograms& operator=(const EmptyPrograms&) = delete;
  bool ok() const { return skel_ != nullptr; }

 private:
  Skel* skel_;
};

using Floor = EmptyPrograms<bench_floor_bpf, bench_floor_bpf__open_and_load,
                            bench_floor_bpf__attach, bench_floor_bpf__destroy>;
using RawFloor = EmptyPrograms<bench_floor_raw_bpf, bench_floor_raw_bpf__open_and_load,
                               bench_floor_raw_bpf__attach, bench_floor_raw_bpf__destroy>;

// Loads and attaches empty programs, or ends the benchmark: a floor that is not there would make
// every ratio against it meaningless.
template <typename Programs>
std::unique_ptr<Programs> programsOrExit(const char* what) {
  auto programs = std::make_unique<Programs>();
  if (!programs->ok()) {
    std::fprintf(stderr, "bench: %s programs did not load\n", what);
    std::exit(1);
  }
  return programs;
}

// Runs measure(mode) for every mode, reps rounds, the order rotated by one each round so no mode
// always runs first (after a cold cache) or last (after the others warmed the machine).
template <typename Measure>
void forEachModeRotated(const std::vector<std::string>& modes, int reps, Measure measure) {
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t m = 0; m < modes.size(); ++m) {
      measure(modes[(m + static_cast<std::size_t>(rep)) % modes.size()]);
    }
  }
}

bool commandExists(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

void hotLoops(int reps, long iterations) {
  std::vector<std::string> modes = {"no agent", "floor (empty programs)",
                                    "raw-syscall floor (tp_btf sys_enter/exit)",
                                    "ipcwatch default"};
  const bool have_bpftrace = commandExists("bpftrace");
  if (have_bpftrace) {
    modes.push_back("bpftrace (EPIPE on sys_exit_write)");
  }
  std::map<std::string, std::vector<double>> pipe_ns, unix_ns;
  std::vector<double> startups;
  forEachModeRotated(modes, reps, [&](const std::string& mode) {
    std::unique_ptr<Floor> floor;
    std::unique_ptr<RawFloor> raw_floor;
    std::unique_ptr<Bpftrace> bpftrace;
    AgentRun agent;
    if (mode.rfind("floor", 0) == 0) {
      floor = programsOrExit<Floor>("floor");
    } else if (mode.rfind("raw-syscall", 0) == 0) {
      raw_floor = programsOrExit<RawFloor>("raw-syscall floor");
    } else if (mode.rfind("ipcwatch", 0) == 0) {
      agent = startAgent();
      if (agent.port == 0) {
        std::fprintf(stderr, "bench: agent did not start:\n%s\n", agent.process->log().c_str());
        std::exit(1);
      }
      startups.push_back(agent.startup_seconds);
    } else if (mode.rfind("bpftrace", 0) == 0) {
      bpftrace = std::make_unique<Bpftrace>();
      if (!bpftrace->ok()) {
        std::fprintf(stderr, "bench: bpftrace did not start\n");
        std::exit(1);
      }
    }
    pipe_ns[mode].push_back(pipeLoopNs(iterations));
    unix_ns[mode].push_back(unixLoopNs(iterations));
  });
  auto table = [&](const char* title, std::map<std::string, std::vector<double>>& data) {
    const double none = stats(data["no agent"]).median;
    const double floor = stats(data["floor (empty programs)"]).median;
    const double agent = stats(data["ipcwatch default"]).median;
    std::printf("\n%s, ns per round trip (median [min-max] of %d runs x %ld)\n", title, reps,
                iterations);
    for (const auto& mode : modes) {
      const Stats s = stats(data[mode]);
      std::printf("  %-42s %8.1f [%.1f-%.1f]  x%.3f of no agent\n", mode.c_str(), s.median, s.min,
                  s.max, s.median / none);
    }
    std::printf("  ratios: agent/floor %.3f, agent/no agent %.3f, raw-syscall floor/floor %.3f",
                agent / floor, agent / none,
                stats(data["raw-syscall floor (tp_btf sys_enter/exit)"]).median / floor);
    if (have_bpftrace) {
      std::printf(", agent/bpftrace %.3f", agent / stats(data[modes.back()]).median);
    }
    std::printf("\n");
  };
  table("1-byte pipe write+read", pipe_ns);
  table("1-byte unix stream send+recv", unix_ns);
  const Stats s = stats(startups);
  std::printf("\nagent start-up to all probes attached: median %.3f s [%.3f-%.3f]\n", s.median,
              s.min, s.max);
}

double getpidLoopNs(long iterations) {
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (syscall(SYS_getpid) <= 0) {
      return -1;
    }
  }
  const std::chrono::duration<double, std::nano> took = Clock::now() - start;
  return took.count() / static_cast<double>(iterations);
}

// 1-byte writes to a pipe whose reader is closed, SIGPIPE ignored: each is one EPIPE and one
// SIGPIPE, what the agent counts.
double epipeLoopNs(long iterations) {
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  close(fds[0]);
  const auto old = signal(SIGPIPE, SIG_IGN);
  char byte = 'x';
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (write(fds[1], &byte, 1) != -1 || errno != EPIPE) {
      return -1;
    }
  }
  const std::chrono::duration<double, std::nano> took = Clock::now() - start;
  signal(SIGPIPE, old);
  close(fds[1]);
  return took.count() / static_cast<double>(iterations);
}

// How many attached programs the agent reports on `backend`.
int programsOn(int port, const std::string& backend) {
  const auto response = httpRequest(port, "GET", "/metrics");
  int n = 0;
  if (response) {
    for (const auto& [key, value] : parseExposition(response->body)) {
      n += key.rfind("ipcwatch_probe_backend{", 0) == 0 &&
                   key.find("backend=\"" + backend + "\"") != std::string::npos && value == 1
               ? 1
               : 0;
    }
  }
  return n;
}

// The agent with IPCWATCH_PROBE_BACKEND=backend in its environment; exits the benchmark when it
// does not come up with every probe attached on it.
AgentRun startAgentOn(const std::string& backend) {
  setenv("IPCWATCH_PROBE_BACKEND", backend.c_str(), 1);
  AgentRun agent = startAgent();
  unsetenv("IPCWATCH_PROBE_BACKEND");
  if (agent.port == 0 || !allProbesAttached(agent.port) || programsOn(agent.port, backend) == 0) {
    std::fprintf(stderr, "bench: agent not attached on %s:\n%s\n", backend.c_str(),
                 agent.process ? agent.process->log().c_str() : "");
    std::exit(1);
  }
  // The loops measure the agent at rest, not the end of its start-up: in a guest under
  // single-threaded TCG every vCPU shares one host thread, so the agent's own CPU would be
  // charged to the loop. At rest = no CPU time (of the agent and its web process) for 0.5 s.
  const auto deadline = Clock::now() + 60s;
  double before = cpuTimes(agent.process->pid()).self;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);  // the quiet interval itself, not a synchronisation
    const double now = cpuTimes(agent.process->pid()).self;
    if (now == before) {
      break;
    }
    before = now;
  }
  return agent;
}

// The backends side by side in one run, modes interleaved as in hotLoops. The fexit mode runs
// where the kernel has BPF trampolines (ftrace can hook the syscalls' entry points).
void backendLoops(int reps, long iterations) {
  std::vector<std::string> modes = {"no agent", "floor (empty programs)", "ipcwatch, tracepoint"};
  const bool trampolines = ftraceCanHook("__x64_sys_write") && ftraceCanHook("fifo_open");
  if (trampolines) {
    modes.emplace_back("ipcwatch, fexit");
  }
  const std::vector<std::pair<std::string, double (*)(long)>> loops = {
      {"pipe write+read", pipeLoopNs},
      {"unix send+recv", unixLoopNs},
      {"getpid (no probe)", getpidLoopNs},
      {"EPIPE write (counted)", epipeLoopNs}};
  std::map<std::string, std::map<std::string, std::vector<double>>> ns;  // loop -> mode -> runs
  std::map<std::string, std::vector<double>> agent_cpu_ms;  // mode -> the agent's, per round
  forEachModeRotated(modes, reps, [&](const std::string& mode) {
    std::unique_ptr<Floor> floor;
    AgentRun agent;
    if (mode.rfind("floor", 0) == 0) {
      floor = programsOrExit<Floor>("floor");
    } else if (mode == "ipcwatch, tracepoint") {
      agent = startAgentOn("tracepoint");
    } else if (mode == "ipcwatch, fexit") {
      agent = startAgentOn("fexit");
    }
    const double agent_cpu_before = agent.process ? cpuTimes(agent.process->pid()).self : 0;
    for (const auto& [loop, run] : loops) {
      ns[loop][mode].push_back(run(iterations));
    }
    if (agent.process) {
      agent_cpu_ms[mode].push_back((cpuTimes(agent.process->pid()).self - agent_cpu_before) * 1000);
    }
  });
  std::printf("\nprobe backends, ns per iteration (median [min-max] of %d runs x %ld)%s\n", reps,
              iterations, trampolines ? "" : "; no BPF trampolines on this kernel: no fexit mode");
  std::printf("\n| loop |");
  for (const auto& mode : modes) {
    std::printf(" %s |", mode.c_str());
  }
  std::printf("\n|---|");
  for (std::size_t i = 0; i < modes.size(); ++i) {
    std::printf("---|");
  }
  std::printf("\n");
  for (const auto& [loop, run] : loops) {
    std::printf("| %s |", loop.c_str());
    for (const auto& mode : modes) {
      const Stats s = stats(ns[loop][mode]);
      std::printf(" %.0f [%.0f-%.0f] |", s.median, s.min, s.max);
    }
    std::printf("\n");
  }
  std::printf(
      "\n| loop | agent mode | agent / no agent | agent / floor | agent - no agent, ns |\n"
      "|---|---|---|---|---|\n");
  for (const auto& [loop, run] : loops) {
    const double none = stats(ns[loop]["no agent"]).median;
    const double floor = stats(ns[loop]["floor (empty programs)"]).median;
    for (const auto& mode : modes) {
      if (mode.rfind("ipcwatch", 0) != 0) {
        continue;
      }
      const double agent = stats(ns[loop][mode]).median;
      std::printf("| %s | %s | %.3f | %.3f | %.0f |\n", loop.c_str(), mode.c_str() + 10,
                  agent / none, agent / floor, agent - none);
    }
  }
  for (const auto& [mode, runs] : agent_cpu_ms) {
    const Stats s = stats(runs);
    std::printf("\n%s: the agent's own CPU during a round of the loops: median %.0f ms [%.0f-%.0f]",
                mode.c_str(), s.median, s.min, s.max);
  }
  std::printf("\n");
}

// K distinct comm label sets: one process renames itself before each broken-pipe write.
bool makeLabelSets(int k) {
  const pid_t child = fork();
  if (child == 0) {
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (pipe(fds) != 0) {
      _exit(1);
    }
    close(fds[0]);
    char name[32];
    for (int i = 0; i < k; ++i) {
      std::snprintf(name, sizeof(name), "ipcw-b%07d", i % 10000000);
      prctl(PR_SET_NAME, name);
      if (write(fds[1], "x", 1) != -1) {
        _exit(1);
      }
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void scrapeScaling() {
  std::printf("\n/metrics latency and agent RSS by distinct label sets (ipc_epipe_total comms)\n");
  for (const int k : {10, 1000, 10000}) {
    AgentRun agent = startAgent("labels:\n  comm: 20000\n");
    if (agent.port == 0 || !makeLabelSets(k)) {
      std::fprintf(stderr, "bench: setup for %d label sets failed\n", k);
      std::exit(1);
    }
    std::vector<double> latencies;
    std::size_t bytes = 0;
    for (int i = 0; i < 21; ++i) {
      const auto start = Clock::now();
      const auto response = httpRequest(agent.port, "GET", "/metrics");
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      bytes = response ? response->body.size() : 0;
    }
    const Stats s = stats(latencies);
    std::printf("  %6d label sets: /metrics %7.2f ms median [%.2f-%.2f], %zu bytes, RSS %ld KiB\n",
                k, s.median, s.min, s.max, bytes,
                processTreeStatusKiB(agent.process->pid(), "VmRSS"));
  }
}

// What the host looks like to an exporter: processes, open descriptors, namespaces.
struct HostFacts {
  int processes = 0;
  long descriptors = 0;
  std::size_t network_namespaces = 0;
  std::size_t ipc_namespaces = 0;
};

HostFacts hostFacts() {
  HostFacts facts;
  std::set<ino_t> net, ipc;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    ++facts.processes;
    std::error_code fd_ec;
    for (std::filesystem::directory_iterator fd(entry.path() / "fd", fd_ec), end;
         !fd_ec && fd != end; fd.increment(fd_ec)) {
      ++facts.descriptors;
    }
    struct stat st {};
    if (stat((entry.path() / "ns/net").c_str(), &st) == 0) {
      net.insert(st.st_ino);
    }
    if (stat((entry.path() / "ns/ipc").c_str(), &st) == 0) {
      ipc.insert(st.st_ino);
    }
  }
  facts.network_namespaces = net.size();
  facts.ipc_namespaces = ipc.size();
  return facts;
}

struct ScrapeRow {
  std::string host;
  std::string exporter;
  ScrapeCost cost;
  // Taken right after the batch: on a shared machine, other people's processes come and go,
  // and the idle row means little if someone else's big host appeared in the middle of it.
  HostFacts after = hostFacts();
};

ScrapeCost scrapeAgent(const std::string& extra_yaml, const ScrapeOptions& options) {
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n" + extra_yaml);
  const int port = agent.waitForPort(60s);
  if (port == 0) {
    ScrapeCost failed;
    failed.error = "agent did not start:\n" + agent.log();
    return failed;
  }
  ScrapeCost cost = measureScrapes(agent.pid(), port, options);
  if (!cost.ok) {
    cost.error += "; agent log:\n" + agent.log();
  }
  return cost;
}

ScrapeCost scrapeNodeExporter(const ScrapeOptions& options) {
  NodeExporter exporter;
  if (!exporter.ok()) {
    ScrapeCost failed;
    failed.error = "node_exporter did not start:\n" + exporter.log();
    return failed;
  }
  return measureScrapes(exporter.pid(), exporter.port(), options);
}

// What the agent said about the generated endpoints: proof that they were configured and
// checked, and which checks failed (a failed check skips the later ones, so it changes the
// work a scrape does).
struct EndpointVerdicts {
  int up_series = 0;
  int down = 0;
  std::set<std::string> failed_checks;  // client/check
};

EndpointVerdicts endpointVerdicts(const std::string& body) {
  EndpointVerdicts verdicts;
  std::istringstream in(body);
  const auto label = [](const std::string& line, const std::string& name) {
    const auto at = line.find(name + "=\"");
    if (at == std::string::npos) {
      return std::string();
    }
    const auto from = at + name.size() + 2;
    return line.substr(from, line.find('"', from) - from);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.find("endpoint=\"bh_ep") == std::string::npos) {
      continue;
    }
    const bool zero = line.size() >= 2 && line.compare(line.size() - 2, 2, " 0") == 0;
    if (line.rfind("ipc_endpoint_up{", 0) == 0) {
      ++verdicts.up_series;
      verdicts.down += zero ? 1 : 0;
    } else if (line.rfind("ipc_endpoint_check_ok{", 0) == 0 && zero) {
      verdicts.failed_checks.insert(label(line, "client") + "/" + label(line, "check"));
    }
  }
  return verdicts;
}

// The samples of an exposition: its lines other than comments and blank ones.
std::size_t sampleCount(const std::string& body) {
  std::size_t samples = 0;
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t end = std::min(body.find('\n', at), body.size());
    samples += end > at && body[at] != '#' ? 1 : 0;
    at = end + 1;
  }
  return samples;
}

void printScrapeTable(const std::vector<ScrapeRow>& rows) {
  std::printf(
      "\n| host | exporter | /metrics median | p90 | CPU per scrape | helper processes' "
      "CPU per scrape | body | series | host after the batch |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& row : rows) {
    const ScrapeCost& c = row.cost;
    std::printf(
        "| %s | %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %zu KB | %zu | %d processes, %ld "
        "descriptors |\n",
        row.host.c_str(), row.exporter.c_str(), c.median_ms, c.p90_ms, c.cpu_ms_per_scrape,
        c.helper_cpu_ms_per_scrape, (c.body_bytes + 512) / 1024, sampleCount(c.body),
        row.after.processes, row.after.descriptors);
  }
  std::printf(
      "\n| host | latency ipcwatch / node_exporter (median) | p90 | CPU ipcwatch / "
      "node_exporter |\n|---|---|---|---|\n");
  for (std::size_t i = 0; i + 1 < rows.size(); i += 2) {
    const ScrapeCost& a = rows[i].cost;
    const ScrapeCost& n = rows[i + 1].cost;
    const auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
    std::printf("| %s | %.1fx | %.1fx | %.1fx |\n", rows[i].host.c_str(),
                ratio(a.median_ms, n.median_ms), ratio(a.p90_ms, n.p90_ms),
                ratio(a.cpu_ms_per_scrape, n.cpu_ms_per_scrape));
  }
  // Where an ipcwatch scrape's time goes: the collectors' own durations, which include the
  // host facts each is the first of the scrape to ask for.
  std::printf("\n| collector, median ms per scrape |");
  for (std::size_t i = 0; i < rows.size(); i += 2) {
    std::printf(" %s |", rows[i].host.c_str());
  }
  std::printf("\n|---|");
  for (std::size_t i = 0; i < rows.size(); i += 2) {
    std::printf("---|");
  }
  std::printf("\n");
  std::set<std::string> collectors;
  for (std::size_t i = 0; i < rows.size(); i += 2) {
    for (const auto& [collector, ms] : rows[i].cost.collector_median_ms) {
      collectors.insert(collector);
    }
  }
  for (const auto& collector : collectors) {
    std::printf("| %s |", collector.c_str());
    for (std::size_t i = 0; i < rows.size(); i += 2) {
      const auto& medians = rows[i].cost.collector_median_ms;
      const auto it = medians.find(collector);
      if (it == medians.end()) {
        std::printf(" - |");
      } else {
        std::printf(" %.1f |", it->second);
      }
    }
    std::printf("\n");
  }
}

void describe(const char* host, const HostFacts& facts) {
  std::printf("  %s: %d processes, %ld open descriptors, %zu network and %zu IPC namespaces\n",
              host, facts.processes, facts.descriptors, facts.network_namespaces,
              facts.ipc_namespaces);
}

// Each exporter is measured alone (the other one stopped), so neither pays for the other's
// probes or scrapes.
bool bigHostSection(const BigHost::Options& host_options, const ScrapeOptions& options) {
  if (access(NodeExporter::kBinary, X_OK) != 0) {
    std::fprintf(stderr, "bench: %s missing: run scripts/install-deps.sh\n", NodeExporter::kBinary);
    return false;
  }
  std::printf(
      "\n/metrics cost, ipcwatch and node_exporter (%d scrapes after one warm-up, %lld ms "
      "apart)\n",
      options.scrapes, static_cast<long long>(options.gap.count()));
  std::vector<ScrapeRow> rows;
  describe("idle", hostFacts());
  rows.push_back({"idle", "ipcwatch (default config)", scrapeAgent("", options)});
  rows.push_back({"idle", "node_exporter (default collectors)", scrapeNodeExporter(options)});
  {
    const auto start = Clock::now();
    BigHost host(host_options);
    std::printf("  big host generated in %.1f s under %s\n",
                std::chrono::duration<double>(Clock::now() - start).count(), host.dir().c_str());
    describe("big host", hostFacts());
    rows.push_back({"big host", "ipcwatch (10 FIFO + 2 socket endpoints x 2 clients)",
                    scrapeAgent(host.endpointsYaml(), options)});
    const EndpointVerdicts verdicts = endpointVerdicts(rows.back().cost.body);
    std::string failed;
    for (const auto& check : verdicts.failed_checks) {
      failed += " " + check;
    }
    std::printf(
        "  big host: %d ipc_endpoint_up series for the generated endpoints, %d of them 0%s%s\n",
        verdicts.up_series, verdicts.down, failed.empty() ? "" : "; failing:", failed.c_str());
    rows.push_back({"big host", "node_exporter (default collectors)", scrapeNodeExporter(options)});
  }
  bool ok = true;
  for (const auto& row : rows) {
    if (!row.cost.ok) {
      std::fprintf(stderr, "bench: %s, %s: %s\n", row.host.c_str(), row.exporter.c_str(),
                   row.cost.error.c_str());
      ok = false;
    }
  }
  printScrapeTable(rows);
  return ok;
}

// A client that connects and never finishes a request: idle, or stalled after one header line.
class SlowClient {
 public:
  SlowClient(int port, bool half_header) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const std::string head = "GET /metrics HTTP/1.1\r\nX-Slow: a";
    if (ok_ && half_header) {
      ok_ = send(fd_, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size());
    }
  }
  ~SlowClient() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  SlowClient(const SlowClient&) = delete;
  SlowClient& operator=(const SlowClient&) = delete;
  bool ok() const { return ok_; }

 private:
  int fd_;
  bool ok_ = false;
};

// Scrape latency with nothing else connected, then with `clients` slow clients open (half of
// them idle, half stalled after a header line), measured within their 5 s request timeout.
ScrapeCost scrapeBehindSlowClients(pid_t pid, int port, int clients, ScrapeOptions options) {
  std::vector<std::unique_ptr<SlowClient>> slow;
  for (int i = 0; i < clients; ++i) {
    slow.push_back(std::make_unique<SlowClient>(port, i % 2 == 1));
    if (!slow.back()->ok()) {
      ScrapeCost failed;
      failed.error = "slow client " + std::to_string(i) + " could not connect";
      return failed;
    }
  }
  return measureScrapes(pid, port, options);
}

bool slowClientsSection(int clients) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < static_cast<rlim_t>(clients) + 256) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(clients) + 256);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  // Scrapes close together, so that all of them fall inside the slow clients' 5 s.
  ScrapeOptions options;
  options.scrapes = 15;
  options.gap = std::chrono::milliseconds(50);
  std::printf(
      "\n/metrics latency behind %d slow clients (%d scrapes, %lld ms apart; the slow "
      "clients open before the timed scrapes and never finish a request)\n",
      clients, options.scrapes, static_cast<long long>(options.gap.count()));
  struct Row {
    std::string exporter;
    ScrapeCost quiet, slow;
  };
  std::vector<Row> rows;
  {
    AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n");
    const int port = agent.waitForPort(std::chrono::seconds(60));
    if (port == 0) {
      std::fprintf(stderr, "bench: the agent did not start:\n%s\n", agent.log().c_str());
      return false;
    }
    measureScrapes(agent.pid(), port, options);  // warm-up
    rows.push_back({"ipcwatch", measureScrapes(agent.pid(), port, options),
                    scrapeBehindSlowClients(agent.pid(), port, clients, options)});
  }
  {
    NodeExporter node;
    if (!node.ok()) {
      std::fprintf(stderr, "bench: node_exporter did not start\n");
      return false;
    }
    measureScrapes(node.pid(), node.port(), options);
    rows.push_back({"node_exporter", measureScrapes(node.pid(), node.port(), options),
                    scrapeBehindSlowClients(node.pid(), node.port(), clients, options)});
  }
  std::printf(
      "\n| exporter | median ms, alone | median ms, %d slow clients | ratio | p90 ms, %d "
      "slow clients |\n|---|---|---|---|---|\n",
      clients, clients);
  bool ok = true;
  for (const auto& row : rows) {
    if (!row.quiet.ok || !row.slow.ok) {
      std::fprintf(stderr, "bench: %s: %s%s\n", row.exporter.c_str(), row.quiet.error.c_str(),
                   row.slow.error.c_str());
      ok = false;
      continue;
    }
    std::printf("| %s | %.1f | %.1f | %.2fx | %.1f |\n", row.exporter.c_str(), row.quiet.median_ms,
                row.slow.median_ms,
                row.quiet.median_ms > 0 ? row.slow.median_ms / row.quiet.median_ms : 0.0,
                row.slow.p90_ms);
  }
  return ok;
}

void usage() {
  std::fprintf(stderr,
               "usage: ipcwatch_bench [--only probes,scaling,bighost,slowclients,backends] "
               "[--reps N] "
               "[--iterations N]\n"
               "                      [--scrapes N] [--scrape-gap-ms N] [--processes N] "
               "[--fds-per-process N]\n");
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  long iterations = 200000;
  std::set<std::string> sections = {"probes", "backends", "scaling", "bighost", "slowclients"};
  BigHost::Options host_options;
  ScrapeOptions scrape_options;
  for (int i = 1; i < argc; i += 2) {
    const std::string option = argv[i];
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    const char* value = argv[i + 1];
    if (option == "--reps") {
      reps = std::atoi(value);
    } else if (option == "--iterations") {
      iterations = std::atol(value);
    } else if (option == "--only") {
      sections.clear();
      std::istringstream list(value);
      for (std::string section; std::getline(list, section, ',');) {
        if (section != "probes" && section != "scaling" && section != "bighost" &&
            section != "slowclients" && section != "backends") {
          std::fprintf(stderr, "bench: unknown section '%s'\n", section.c_str());
          usage();
          return 2;
        }
        sections.insert(section);
      }
    } else if (option == "--scrapes") {
      scrape_options.scrapes = std::max(1, std::atoi(value));
    } else if (option == "--scrape-gap-ms") {
      scrape_options.gap = std::chrono::milliseconds(std::max(0, std::atoi(value)));
    } else if (option == "--processes") {
      host_options.processes = std::max(1, std::atoi(value));
    } else if (option == "--fds-per-process") {
      host_options.fds_per_process = std::max(8, std::atoi(value));
    } else {
      usage();
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench: needs root (BPF programs)\n");
    return 1;
  }
  libbpf_set_print(nullptr);
  // A run takes minutes: show each line as it comes, also through a pipe or into a file.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("ipcwatch benchmark: %d repetitions, %ld iterations per loop, %u CPUs\n", reps,
              iterations, std::thread::hardware_concurrency());
  if (sections.count("probes") != 0) {
    hotLoops(reps, iterations);
  }
  if (sections.count("backends") != 0) {
    backendLoops(reps, iterations);
  }
  if (sections.count("scaling") != 0) {
    scrapeScaling();
  }
  if (sections.count("slowclients") != 0 && !slowClientsSection(1000)) {
    return 1;
  }
  if (sections.count("bighost") != 0) {
    try {
      if (!bigHostSection(host_options, scrape_options)) {
        return 1;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench: %s\n", e.what());
      return 1;
    }
  }
  return 0;
}
