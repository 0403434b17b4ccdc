#include "agent_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef IPCWATCH_BINARY
#error "IPCWATCH_BINARY must name the agent binary"
#endif

namespace ipcwatch::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string makeTempDir() {
  char tmpl[] = "/tmp/ipcwatch-e2e-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  return tmpl;
}

std::optional<int> waitFor(pid_t pid, std::chrono::milliseconds deadline) {
  const auto end = Clock::now() + deadline;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return status;
    }
    if (r < 0 || Clock::now() >= end) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling interval, not a sync
  }
}

}  // namespace

AgentProcess::AgentProcess(const std::string& config_yaml,
                           const std::vector<std::string>& extra_args,
                           const std::function<int()>& before_exec)
    : dir_(makeTempDir()) {
  config_path_ = dir_ + "/config.yaml";
  log_path_ = dir_ + "/agent.log";
  std::ofstream(config_path_) << config_yaml;
  pid_ = fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    if (before_exec) {
      if (const int code = before_exec(); code != 0) {
        _exit(code);
      }
    }
    std::vector<const char*> argv = {IPCWATCH_BINARY, "--config", config_path_.c_str()};
    for (const auto& arg : extra_args) {
      argv.push_back(arg.c_str());
    }
    argv.push_back(nullptr);
    execv(IPCWATCH_BINARY, const_cast<char* const*>(argv.data()));
    _exit(127);
  }
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0 && !stop(std::chrono::seconds(5))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  runCommand("rm -rf '" + dir_ + "'");
}

std::optional<int> AgentProcess::stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  kill(pid_, SIGTERM);
  auto status = waitFor(pid_, deadline);
  if (status) {
    pid_ = -1;
  }
  return status;
}

std::optional<int> AgentProcess::waitForExit(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  auto status = waitFor(pid_, deadline);
  if (status) {
    pid_ = -1;
  }
  return status;
}

std::string AgentProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

int AgentProcess::waitForPort(std::chrono::milliseconds deadline) {
  static const std::regex kPortLine(R"(serving metrics on \S+ \(port (\d+)\))");
  const auto end = Clock::now() + deadline;
  while (Clock::now() < end) {
    std::smatch match;
    const std::string text = log();
    if (std::regex_search(text, match, kPortLine)) {
      return std::stoi(match[1]);
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval
  }
  return 0;
}

std::optional<HttpResponse> httpRequest(int port, const std::string& method,
                                        const std::string& path, std::chrono::seconds timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return std::nullopt;
  }
  timeval receive_timeout{static_cast<time_t>(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string request =
      method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const auto header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) {
    return std::nullopt;
  }
  HttpResponse response;
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  return response;
}

namespace {

// Rewrites "name{b="2",a="1"}" as "name{a="1",b="2"}" (the serializer puts le/quantile last).
std::string sortedSampleKey(const std::string& series) {
  const auto brace = series.find('{');
  if (brace == std::string::npos) {
    return series;
  }
  std::vector<std::string> labels;
  std::string current;
  bool in_value = false;
  for (std::size_t i = brace + 1; i + 1 < series.size(); ++i) {
    const char c = series[i];
    if (in_value && c == '\\') {
      current += c;
      current += series[++i];
      continue;
    }
    if (c == '"') {
      in_value = !in_value;
    }
    if (c == ',' && !in_value) {
      labels.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) {
    labels.push_back(current);
  }
  std::sort(labels.begin(), labels.end());
  std::string key = series.substr(0, brace) + "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    key += (i ? "," : "") + labels[i];
  }
  return key + "}";
}

}  // namespace

std::map<std::string, double> parseExposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {
      continue;
    }
    samples[sortedSampleKey(line.substr(0, space))] = std::stod(line.substr(space + 1));
  }
  return samples;
}

std::string sampleKey(const std::string& name, std::map<std::string, std::string> labels) {
  if (labels.empty()) {
    return name;
  }
  std::string key = name + "{";
  bool first = true;
  for (const auto& [label, value] : labels) {
    key += (first ? "" : ",") + label + "=\"" + value + "\"";
    first = false;
  }
  return key + "}";
}

std::optional<double> findSample(const std::map<std::string, double>& samples,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  const auto it = samples.find(sampleKey(name, labels));
  return it == samples.end() ? std::nullopt : std::optional<double>(it->second);
}

bool hasFamily(const std::map<std::string, double>& samples, const std::string& name) {
  for (const char* suffix : {"", "_bucket", "_count", "_sum"}) {
    const std::string series = name + suffix;
    // Keys are "name" or "name{labels}", sorted: the first key from "name{" on tells.
    const auto it = samples.lower_bound(series + "{");
    if (samples.contains(series) || (it != samples.end() && it->first.starts_with(series + "{"))) {
      return true;
    }
  }
  return false;
}

std::string uniqueComm(const std::string& prefix) {
  std::random_device rd;
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%06x", rd() & 0xffffff);
  return (prefix + hex).substr(0, 15);
}

std::string ownComm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

std::map<std::string, std::string> withOwnComm(std::map<std::string, std::string> labels) {
  labels["comm"] = ownComm();
  return labels;
}

std::pair<int, std::string> runCommand(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return {-1, ""};
  }
  std::string output;
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    output.append(buf, n);
  }
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

bool ftraceCanHook(const std::string& function) {
  for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::ifstream in(std::string(dir) + "/available_filter_functions");
    if (!in) {
      continue;
    }
    for (std::string line; std::getline(in, line);) {
      if (line == function || line.rfind(function + " ", 0) == 0) {
        return true;
      }
    }
    return false;
  }
  return false;
}

std::map<std::string, double> scrapeSamples(int port) {
  const auto response = httpRequest(port, "GET", "/metrics");
  return response && response->status == 200 ? parseExposition(response->body)
                                             : std::map<std::string, double>{};
}

bool scrapeUntilTrue(int port,
                     const std::function<bool(const std::map<std::string, double>&)>& pred,
                     std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred(scrapeSamples(port))) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval
  }
  return false;
}

bool tracepointsForced() {
  const char* forced = std::getenv("IPCWATCH_PROBE_BACKEND");
  return forced != nullptr && std::string(forced) == "tracepoint";
}

std::string expectedBackend(const std::string& function) {
  return !tracepointsForced() && ftraceCanHook(function) ? "fexit" : "tracepoint";
}

bool kernelAtLeast(int major, int minor) {
  utsname name{};
  int got_major = 0;
  int got_minor = 0;
  if (uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &got_major, &got_minor) != 2) {
    return false;
  }
  return got_major > major || (got_major == major && got_minor >= minor);
}

}  // namespace ipcwatch::testing
