// What ipcwatch costs the host and how its endpoint scales, measured in one run:
//  1. hot IPC loops (1-byte pipe write+read, unix-socket send+recv) with no tracing, with the
//     floor (empty BPF programs on exactly the agent's tracepoints), with the agent's default
//     configuration and with bpftrace counting EPIPE on sys_exit_write; the modes are
//     interleaved over several repetitions and reported as median and spread;
//  2. /metrics latency and agent RSS with 10, 1 000 and 10 000 distinct label sets;
//  3. agent start-up time until every probe is attached.
// Run as root: `make bench` (or build/tests/ipcwatch_bench [--reps N] [--iterations N]).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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
#include <string>
#include <thread>
#include <vector>

#include <bpf/libbpf.h>

#include "../e2e/agent_process.h"
#include "child_process.h"
#include "bench_floor.skel.h"
#include "bench_floor_raw.skel.h"

namespace {

using ipcwatch::testing::AgentProcess;
using ipcwatch::testing::httpRequest;
using ipcwatch::testing::parseExposition;
using ipcwatch::testing::procStatusKiB;
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
  run.process = std::make_unique<AgentProcess>("web:\n  listen_address: \"127.0.0.1:0\"\n" + extra_yaml);
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

using Floor = EmptyPrograms<bench_floor_bpf, bench_floor_bpf__open_and_load, bench_floor_bpf__attach,
                            bench_floor_bpf__destroy>;
using RawFloor = EmptyPrograms<bench_floor_raw_bpf, bench_floor_raw_bpf__open_and_load,
                               bench_floor_raw_bpf__attach, bench_floor_raw_bpf__destroy>;

bool commandExists(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

void hotLoops(int reps, long iterations) {
  std::vector<std::string> modes = {"no agent", "floor (empty programs)",
                                    "raw-syscall floor (tp_btf sys_enter/exit)", "ipcwatch default"};
  const bool have_bpftrace = commandExists("bpftrace");
  if (have_bpftrace) {
    modes.push_back("bpftrace (EPIPE on sys_exit_write)");
  }
  std::map<std::string, std::vector<double>> pipe_ns, unix_ns;
  std::vector<double> startups;
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t m = 0; m < modes.size(); ++m) {
      const std::string& mode = modes[(m + static_cast<std::size_t>(rep)) % modes.size()];
      std::unique_ptr<Floor> floor;
      std::unique_ptr<RawFloor> raw_floor;
      std::unique_ptr<Bpftrace> bpftrace;
      AgentRun agent;
      if (mode.rfind("floor", 0) == 0) {
        floor = std::make_unique<Floor>();
        if (!floor->ok()) {
          std::fprintf(stderr, "bench: floor programs did not load\n");
          std::exit(1);
        }
      } else if (mode.rfind("raw-syscall", 0) == 0) {
        raw_floor = std::make_unique<RawFloor>();
        if (!raw_floor->ok()) {
          std::fprintf(stderr, "bench: raw-syscall floor programs did not load\n");
          std::exit(1);
        }
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
    }
  }
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
    std::printf("  %6d label sets: /metrics %7.2f ms median [%.2f-%.2f], %zu bytes, RSS %ld KiB\n", k,
                s.median, s.min, s.max, bytes, procStatusKiB(agent.process->pid(), "VmRSS"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  long iterations = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0) {
      reps = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--iterations") == 0) {
      iterations = std::atol(argv[i + 1]);
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench: needs root (BPF programs)\n");
    return 1;
  }
  libbpf_set_print(nullptr);
  std::printf("ipcwatch benchmark: %d repetitions, %ld iterations per loop, %u CPUs\n", reps,
              iterations, std::thread::hardware_concurrency());
  hotLoops(reps, iterations);
  scrapeScaling();
  return 0;
}
