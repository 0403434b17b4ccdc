#include "scrape_cost.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "../e2e/agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A port the kernel just handed out on loopback; node_exporter cannot be told to bind port 0
// and report it, so a lost race shows up as a start-up failure.
int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

bool exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

namespace {

CpuTimes ownCpuTimes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The comm can hold spaces and parentheses: the fields start after the last ')'.
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) {
    return {};
  }
  std::istringstream fields(text.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) {
    f.push_back(field);
  }
  if (f.size() < 15) {
    return {};
  }
  // f[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(std::stod(f[11]) + std::stod(f[12])) / tick,
          (std::stod(f[13]) + std::stod(f[14])) / tick};
}

}  // namespace

CpuTimes cpuTimes(pid_t pid) {
  CpuTimes times = ownCpuTimes(pid);
  for (const pid_t child : liveChildren(pid)) {
    times.self += ownCpuTimes(child).self;
  }
  return times;
}

std::map<std::string, double> collectorDurationsMs(const std::string& body) {
  static const std::string kPrefix = "ipcwatch_collector_duration_seconds{collector=\"";
  std::map<std::string, double> out;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(kPrefix, 0) != 0) {
      continue;
    }
    const auto name_end = line.find('"', kPrefix.size());
    const auto value = line.rfind(' ');
    if (name_end != std::string::npos && value != std::string::npos) {
      out[line.substr(kPrefix.size(), name_end - kPrefix.size())] =
          1000 * std::stod(line.substr(value + 1));
    }
  }
  return out;
}

ScrapeCost measureScrapes(pid_t pid, int port, const ScrapeOptions& options) {
  ScrapeCost cost;
  const auto warm_up = httpRequest(port, "GET", "/metrics", options.timeout);
  if (!warm_up || warm_up->status != 200) {
    cost.error = "warm-up scrape failed";
    return cost;
  }
  std::vector<double> latencies;
  std::map<std::string, std::vector<double>> collector_ms;
  const CpuTimes before = cpuTimes(pid);
  for (int i = 0; i < options.scrapes; ++i) {
    std::this_thread::sleep_for(options.gap);  // pacing between scrapes, see ScrapeOptions
    const auto start = Clock::now();
    auto response = httpRequest(port, "GET", "/metrics", options.timeout);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (!response || response->status != 200) {
      cost.error = "scrape " + std::to_string(i + 1) + " failed";
      return cost;
    }
    cost.body = std::move(response->body);
    for (const auto& [collector, ms] : collectorDurationsMs(cost.body)) {
      collector_ms[collector].push_back(ms);
    }
  }
  const CpuTimes after = cpuTimes(pid);
  cost.ok = true;
  cost.scrapes = options.scrapes;
  cost.median_ms = percentile(latencies, 0.5);
  cost.p90_ms = percentile(latencies, 0.9);
  cost.cpu_ms_per_scrape = 1000 * (after.self - before.self) / options.scrapes;
  cost.helper_cpu_ms_per_scrape = 1000 * (after.children - before.children) / options.scrapes;
  cost.body_bytes = cost.body.size();
  for (auto& [collector, samples] : collector_ms) {
    cost.collector_median_ms[collector] = percentile(samples, 0.5);
  }
  return cost;
}

NodeExporter::NodeExporter() {
  char tmpl[] = "/tmp/ipcwatch-node-exporter-XXXXXX";
  const int log_fd = mkstemp(tmpl);
  if (log_fd < 0) {
    return;
  }
  log_path_ = tmpl;
  const int port = freeLoopbackPort();
  const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
  pid_ = fork();
  if (pid_ == 0) {
    // Stops with the benchmark even when the benchmark dies without running destructors.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execl(kBinary, kBinary, listen.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log_fd);
  if (pid_ < 0 || port == 0) {
    return;
  }
  const auto end = Clock::now() + 30s;
  while (Clock::now() < end) {
    const auto response = httpRequest(port, "GET", "/metrics");
    if (response && response->status == 200) {
      port_ = port;
      return;
    }
    if (exited(pid_)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(20ms);  // polling interval
  }
}

NodeExporter::~NodeExporter() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto end = Clock::now() + 5s;
    while (!exited(pid_)) {
      if (Clock::now() >= end) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);  // polling interval
    }
  }
  if (!log_path_.empty()) {
    unlink(log_path_.c_str());
  }
}

std::string NodeExporter::log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace ipcwatch::testing
