// End to end: SIGHUP reloads the configuration file of the running agent. A valid file is
// applied without losing kernel counts; an invalid one is rejected and the old one keeps running.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"
#include "unanswered_fuse_mount.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr int kEpipeWrites = 3;

// Only the write() EPIPE program: the test needs one kernel counter, not the whole probe set.
std::string baseConfig() {
  return "web:\n  listen_address: \"127.0.0.1:0\"\n"
         "probes:\n  broken_pipe:\n    syscalls: [write]\n  sigpipe:\n    enabled: false\n"
         "  fifo_open:\n    enabled: false\n  unix_sock:\n    enabled: false\n" +
         std::string(kCommOnlyYaml);
}

class ReloadE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
    }
    char tmpl[] = "/tmp/ipcwatch-reload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fifo_ = dir_ + "/mi_fifo";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0620), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  std::map<std::string, double> scrape(int port) {
    const auto response = httpRequest(port, "GET", "/metrics");
    EXPECT_TRUE(response && response->status == 200);
    return response ? parseExposition(response->body) : std::map<std::string, double>{};
  }

  // Polls /metrics until `done` holds or 10 s pass; returns the last scrape.
  std::map<std::string, double> scrapeUntil(
      int port, const std::function<bool(const std::map<std::string, double>&)>& done) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    auto samples = scrape(port);
    while (!done(samples) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(50ms);  // polling interval
      samples = scrape(port);
    }
    return samples;
  }

  std::string endpointConfig() const {
    return "endpoints:\n  - name: reloaded\n    path: " + fifo_ +
           "\n    type: fifo\n    clients:\n      - { name: panel, user: nobody, access: write }\n";
  }

  std::string dir_;
  std::string fifo_;
};

double collectorSuccess(const std::map<std::string, double>& samples, const std::string& name) {
  const auto it = samples.find(sampleKey("ipcwatch_collector_success", {{"collector", name}}));
  return it == samples.end() ? -1 : it->second;  // -1: the collector is not registered
}

TEST_F(ReloadE2E, GoodConfigAppliesAndKeepsKernelCounters) {
  AgentProcess agent(baseConfig());
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const std::string comm = uniqueComm("rld");
  const std::map<std::string, std::string> epipe = {{"comm", comm}, {"kind", "pipe"}};
  ASSERT_EQ(
      sampleValue(
          scrapeUntil(
              port,
              [](const auto& s) {
                return findSample(s, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}) == 1;
              }),
          "ipcwatch_probe_attached", {{"probe", "epipe_write"}}),
      1)
      << agent.log();
  ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(kEpipeWrites); })));
  auto before = scrapeUntil(port, [&](const auto& s) {
    return sampleValue(s, "ipc_epipe_total", epipe) == kEpipeWrites;
  });
  ASSERT_EQ(sampleValue(before, "ipc_epipe_total", epipe), kEpipeWrites);
  EXPECT_EQ(findSample(before, "ipcwatch_config_last_reload_successful", {}), 1);
  const double started =
      findSample(before, "ipcwatch_config_last_reload_success_timestamp_seconds", {})
          .value_or(-1);  // missing: -1, which the check below fails
  EXPECT_GT(started, 1.6e9);
  EXPECT_EQ(collectorSuccess(before, "sysv_ipc"), 1);
  EXPECT_EQ(collectorSuccess(before, "endpoints"), -1);

  // Switch a collector off, add an endpoint, and change the listen address (needs a restart).
  std::ofstream(agent.configPath())
      << "web:\n  listen_address: \"127.0.0.1:1\"\n"
         "probes:\n  broken_pipe:\n    syscalls: [write]\n  sigpipe:\n    enabled: false\n"
         "  fifo_open:\n    enabled: false\n  unix_sock:\n    enabled: false\n"
         "collectors:\n  sysv_ipc: false\n"
      << endpointConfig();
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  const auto after = scrapeUntil(port, [](const auto& s) {
    return collectorSuccess(s, "endpoints") == 1 && collectorSuccess(s, "sysv_ipc") == -1;
  });
  EXPECT_EQ(collectorSuccess(after, "endpoints"), 1) << agent.log();
  EXPECT_EQ(collectorSuccess(after, "sysv_ipc"), -1);
  EXPECT_EQ(findSample(after, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}), 1);
  EXPECT_TRUE(
      after.count(sampleKey("ipc_endpoint_up", {{"endpoint", "reloaded"}, {"client", "panel"}})));
  EXPECT_EQ(findSample(after, "ipcwatch_config_last_reload_successful", {}), 1);
  EXPECT_GE(findSample(after, "ipcwatch_config_last_reload_success_timestamp_seconds", {}),
            started);
  // The probe was not recreated: the count taken before the reload is still there, and new
  // writes add to it.
  EXPECT_EQ(sampleValue(after, "ipc_epipe_total", epipe), kEpipeWrites);
  ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(kEpipeWrites); })));
  const auto more = scrapeUntil(port, [&](const auto& s) {
    return sampleValue(s, "ipc_epipe_total", epipe) == 2 * kEpipeWrites;
  });
  EXPECT_EQ(sampleValue(more, "ipc_epipe_total", epipe), 2 * kEpipeWrites);
  EXPECT_THAT(agent.log(),
              HasSubstr("reload: web changed: not applied, restart ipcwatch to apply"));
  EXPECT_THAT(agent.log(),
              HasSubstr("reload: configuration from " + agent.configPath() + " applied"));
}

TEST_F(ReloadE2E, BadConfigIsRejectedAndTheOldOneKeepsRunning) {
  AgentProcess agent(baseConfig() + endpointConfig());
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const std::string comm = uniqueComm("rlb");
  const std::map<std::string, std::string> epipe = {{"comm", comm}, {"kind", "pipe"}};
  scrapeUntil(port, [](const auto& s) {
    return findSample(s, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}) == 1;
  });
  ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(kEpipeWrites); })));
  const auto before = scrapeUntil(port, [&](const auto& s) {
    return sampleValue(s, "ipc_epipe_total", epipe) == kEpipeWrites;
  });
  ASSERT_EQ(sampleValue(before, "ipc_epipe_total", epipe), kEpipeWrites) << agent.log();
  const double started =
      findSample(before, "ipcwatch_config_last_reload_success_timestamp_seconds", {})
          .value_or(-1);  // missing: -1, which the check below fails

  // Line 3 names a collector that does not exist.
  std::ofstream(agent.configPath())
      << "collectors:\n  sysv_ipc: false\n  no_such_collector: true\n";
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  const auto after = scrapeUntil(port, [](const auto& s) {
    return findSample(s, "ipcwatch_config_last_reload_successful", {}) == 0;
  });
  EXPECT_EQ(findSample(after, "ipcwatch_config_last_reload_successful", {}), 0) << agent.log();
  EXPECT_EQ(findSample(after, "ipcwatch_config_last_reload_success_timestamp_seconds", {}),
            started);
  EXPECT_EQ(collectorSuccess(after, "sysv_ipc"), 1);
  EXPECT_EQ(collectorSuccess(after, "endpoints"), 1);
  EXPECT_EQ(sampleValue(after, "ipc_epipe_total", epipe), kEpipeWrites);
  const std::string log = agent.log();
  EXPECT_THAT(log, HasSubstr("reload: configuration rejected, the running one stays"));
  EXPECT_THAT(log, HasSubstr(agent.configPath() + ":3:"));
}

TEST_F(ReloadE2E, EmbeddedDefaultReloadsAsNoOp) {
  // No --config: the agent runs on the embedded default; only the listen address is overridden.
  char tmpl[] = "/tmp/ipcwatch-reload-log-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string log_path = std::string(tmpl) + "/agent.log";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    execl(IPCWATCH_BINARY, IPCWATCH_BINARY, "--web.listen-address", "127.0.0.1:0",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto readLog = [&] {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto waitLog = [&](const std::string& text) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (readLog().find(text) == std::string::npos && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(20ms);  // polling interval
    }
    return readLog().find(text) != std::string::npos;
  };
  EXPECT_TRUE(waitLog("serving metrics on")) << readLog();
  kill(pid, SIGHUP);
  EXPECT_TRUE(waitLog("reload: configuration from <embedded default> applied")) << readLog();
  EXPECT_THAT(readLog(), ::testing::Not(HasSubstr("not applied")));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  runCommand(std::string("rm -rf '") + tmpl + "'");
}

// Every counter (and histogram) sample of a text exposition: no reload may lower one.
std::map<std::string, double> counterSamples(const std::string& body) {
  std::set<std::string> families;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (words >> hash >> keyword >> name >> type && hash == "#" && keyword == "TYPE" &&
        (type == "counter" || type == "histogram")) {
      families.insert(name);
    }
  }
  std::map<std::string, double> counters;
  for (const auto& [key, value] : parseExposition(body)) {
    std::string name = key.substr(0, key.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (!families.count(name) && name.size() > s.size() &&
          name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    if (families.count(name)) {
      counters.emplace(key, value);
    }
  }
  return counters;
}

// What the collectors keep from scrape to scrape lives outside them: a reload rebuilds every
// collector, and neither a counter nor ipc_endpoint_last_ok_timestamp_seconds may start again
// ("since the agent started", docs/metrics.md says). The endpoint was reachable, then its reader
// went away; after the reload its last-ok time is the one from before, not 0.
TEST_F(ReloadE2E, NoCounterGoesBackwardsAndLastOkSurvives) {
  const std::string config = baseConfig() + "endpoints:\n  - name: kept\n    path: " + fifo_ +
                             "\n    type: fifo\n    clients:\n"
                             "      - { name: panel, user: root, access: write }\n";
  AgentProcess agent(config);
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const std::map<std::string, std::string> labels = {{"endpoint", "kept"}, {"client", "panel"}};
  const std::string up = sampleKey("ipc_endpoint_up", labels);
  const std::string last_ok = sampleKey("ipc_endpoint_last_ok_timestamp_seconds", labels);
  {
    HeldChild reader("rldreader",
                     [this] { return open(fifo_.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : 1; });
    ASSERT_TRUE(reader.ready());
    const auto reachable =
        scrapeUntil(port, [&](const auto& s) { return s.count(up) && s.at(up) == 1; });
    ASSERT_EQ(reachable.count(up), 1u) << agent.log();
    ASSERT_EQ(reachable.at(up), 1) << agent.log();
  }
  const auto gone = scrapeUntil(port, [&](const auto& s) { return s.count(up) && s.at(up) == 0; });
  ASSERT_EQ(gone.count(up), 1u);
  ASSERT_EQ(gone.at(up), 0) << agent.log();
  ASSERT_EQ(gone.count(last_ok), 1u);
  const double last_ok_before = gone.at(last_ok);
  EXPECT_GT(last_ok_before, 1.6e9);
  const auto before_response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(before_response && before_response->status == 200);
  const auto counters_before = counterSamples(before_response->body);
  ASSERT_FALSE(counters_before.empty());

  // The same file with the log level changed: every collector is rebuilt.
  std::ofstream(agent.configPath()) << "log:\n  level: debug\n" << config;
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  const auto reloaded = scrapeUntil(port, [&](const auto& s) {
    return agent.log().find("reload: configuration from " + agent.configPath() + " applied") !=
               std::string::npos &&
           s.count(up) != 0;
  });
  ASSERT_NE(agent.log().find("reload: configuration from " + agent.configPath() + " applied"),
            std::string::npos)
      << agent.log();
  const auto after_response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(after_response && after_response->status == 200);
  const auto after = parseExposition(after_response->body);
  ASSERT_EQ(after.count(up), 1u);
  EXPECT_EQ(after.at(up), 0);
  ASSERT_EQ(after.count(last_ok), 1u);
  EXPECT_EQ(after.at(last_ok), last_ok_before) << "the last-ok time was reset by the reload";
  const auto counters_after = counterSamples(after_response->body);
  for (const auto& [key, value] : counters_before) {
    const auto it = counters_after.find(key);
    ASSERT_NE(it, counters_after.end()) << key << " is gone after the reload";
    EXPECT_GE(it->second, value) << key << " went backwards across the reload";
  }
}

// Polls the agent's log for `text` until `deadline` passes.
bool waitForLog(const AgentProcess& agent, const std::string& text,
                std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (agent.log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(10ms);  // polling interval
  }
  return true;
}

// A scrape that cannot end (an endpoint on a mount that never answers: its lstat() waits in the
// kernel) must not hold a reload up: the new configuration applies within a second, the stuck
// scrape answers from the collectors it started with once the mount gives up, and the next
// scrape comes from the new ones. Before, the reload waited for the scrape to end.
TEST_F(ReloadE2E, AppliesWithinASecondWhileAScrapeIsStuck) {
  UnansweredFuseMount fuse(dir_);
  ASSERT_TRUE(fuse.available()) << fuse.unavailableReason();
  const std::string endpoint = "endpoints:\n  - name: stuck\n    path: " + fuse.mountPoint() +
                               "/fifo\n    type: fifo\n    clients:\n"
                               "      - { name: panel, user: nobody, access: write }\n";
  AgentProcess agent(baseConfig() + endpoint, {},
                     [&fuse] { return fuse.mountInPrivateNamespace(); });
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  ScrapeInFlight stuck(fuse, port);
  ASSERT_TRUE(waitForThreadInFuse(agent.pid(), 30s)) << "no scrape reached the stuck mount\n"
                                                     << agent.log();

  std::ofstream(agent.configPath()) << baseConfig() << "collectors:\n  sysv_ipc: false\n"
                                    << endpoint;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
  const bool applied =
      waitForLog(agent, "reload: configuration from " + agent.configPath() + " applied", 5s);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(applied) << agent.log();
  EXPECT_LT(took, 1500ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms";
  EXPECT_TRUE(threadWaitsInFuse(agent.pid())) << "the scrape ended before the reload was timed";

  // The mount gives up: the stuck scrape ends, with the collectors it started with.
  fuse.abort();
  const auto old_answer = stuck.response();
  ASSERT_TRUE(old_answer.has_value());
  ASSERT_EQ(old_answer->status, 200);
  EXPECT_EQ(collectorSuccess(parseExposition(old_answer->body), "sysv_ipc"), 1);
  const auto after = scrape(port);
  EXPECT_EQ(collectorSuccess(after, "sysv_ipc"), -1) << agent.log();
  EXPECT_EQ(collectorSuccess(after, "endpoints"), 1);
  const std::map<std::string, std::string> labels = {{"endpoint", "stuck"}, {"client", "panel"}};
  ASSERT_TRUE(after.count(sampleKey("ipc_endpoint_up", labels)));
  EXPECT_EQ(findSample(after, "ipc_endpoint_up", labels), 0);
  EXPECT_EQ(findSample(after, "ipcwatch_config_last_reload_successful", {}), 1);
}

}  // namespace
}  // namespace ipcwatch::testing
