// End to end: a background thread that fails (here by the IPCWATCH_TEST_FAIL_THREAD seam, as a
// failing map read or bad_alloc would) is caught, logged once, counted in
// ipcwatch_background_thread_restarts_total and started again; the source it runs keeps
// delivering. Before, the exception ended the agent in std::terminate.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using Samples = std::map<std::string, double>;

constexpr const char* kNoProbes =
    "probes:\n  broken_pipe:\n    enabled: false\n  sigpipe:\n    enabled: false\n"
    "  fifo_open:\n    enabled: false\n  unix_sock:\n    enabled: false\n";

// Sets the failure seam in the agent's environment (AgentProcess runs this before exec).
std::function<int()> failThread(const std::string& spec) {
  return [spec] { return setenv("IPCWATCH_TEST_FAIL_THREAD", spec.c_str(), 1); };
}

// Polls /metrics until `done` holds or 15 s pass; returns the last scrape.
Samples scrapeUntil(int port, const std::function<bool(const Samples&)>& done) {
  const auto end = std::chrono::steady_clock::now() + 15s;
  Samples samples;
  for (;;) {
    const auto response = httpRequest(port, "GET", "/metrics");
    samples = response ? parseExposition(response->body) : Samples{};
    if (done(samples) || std::chrono::steady_clock::now() >= end) {
      return samples;
    }
    std::this_thread::sleep_for(50ms);  // polling interval
  }
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The audit.log tail fails at its first three wake-ups, is started again after each (100, 200,
// 400 ms of backoff) and then counts an appended denial exactly once.
TEST(BackgroundThreadsE2E, FailingAuditLogTailIsRestartedAndKeepsCounting) {
  char dir[] = "/tmp/ipcwatch-threads-e2e-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string log = std::string(dir) + "/audit.log";
  ASSERT_EQ(runCommand(": > " + log).first, 0);
  const std::string type = uniqueComm("ipcbt") + "_t";
  {
    AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n" + std::string(kNoProbes) +
                           "selinux:\n  sources: [audit_log]\n  audit_log: " + log + "\n",
                       {}, failThread("selinux_audit_log:3"));
    const int port = agent.waitForPort(30s);
    ASSERT_GT(port, 0) << agent.log();
    const std::string restarts =
        sampleKey("ipcwatch_background_thread_restarts_total", {{"thread", "selinux_audit_log"}});
    auto samples = scrapeUntil(
        port, [&](const Samples& s) { return s.count(restarts) != 0 && s.at(restarts) >= 3; });
    ASSERT_EQ(samples.count(restarts), 1u) << agent.log();
    EXPECT_EQ(samples.at(restarts), 3);

    ASSERT_EQ(runCommand("printf '%s\\n' 'type=AVC msg=audit(1700000000.000:1): avc:  denied  { "
                         "write } for  pid=1 comm=\"httpd\" scontext=system_u:system_r:" +
                         type +
                         ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file "
                         "permissive=0' >> " +
                         log)
                  .first,
              0);
    const std::map<std::string, std::string> labels = {
        {"tclass", "fifo_file"},       {"perm", "write"},   {"source_type", type},
        {"target_type", "user_tmp_t"}, {"permissive", "0"}, {"origin", "kernel"}};
    const std::string denials = sampleKey("ipc_selinux_denials_total", labels);
    samples = scrapeUntil(port, [&](const Samples& s) { return s.count(denials) != 0; });
    ASSERT_EQ(samples.count(denials), 1u) << agent.log();
    EXPECT_EQ(samples.at(denials), 1);
    EXPECT_EQ(samples.at(restarts), 3);  // no more failures were injected
    EXPECT_EQ(kill(agent.pid(), 0), 0) << "the agent died";
    // Logged once at error; the later failures only at debug.
    EXPECT_EQ(occurrences(agent.log(), "selinux audit_log thread failed"), 1u) << agent.log();
    EXPECT_NE(agent.log().find("failure injected by IPCWATCH_TEST_FAIL_THREAD"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

// The fifo_open probe's ring-buffer poller fails once, is started again, and the ENXIO opens
// that reach it through the ring buffer afterwards are counted exactly.
TEST(BackgroundThreadsE2E, FailingRingBufferPollerIsRestartedAndKeepsDelivering) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  char dir[] = "/tmp/ipcwatch-threads-e2e-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/no_reader";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    AgentProcess agent(
        "web:\n  listen_address: \"127.0.0.1:0\"\n"
        "probes:\n  broken_pipe:\n    enabled: false\n  sigpipe:\n    enabled: false\n"
        "  unix_sock:\n    enabled: false\ncollectors:\n  selinux: false\n" +
            std::string(kCommOnlyYaml),
        {}, failThread("fifo_open_probe:1"));
    const int port = agent.waitForPort(30s);
    ASSERT_GT(port, 0) << agent.log();
    const std::string restarts =
        sampleKey("ipcwatch_background_thread_restarts_total", {{"thread", "fifo_open_probe"}});
    auto samples = scrapeUntil(
        port, [&](const Samples& s) { return s.count(restarts) != 0 && s.at(restarts) >= 1; });
    ASSERT_EQ(samples.count(restarts), 1u) << agent.log();
    EXPECT_EQ(samples.at(restarts), 1);

    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(open(fifo.c_str(), O_WRONLY | O_NONBLOCK), -1);
      ASSERT_EQ(errno, ENXIO);
    }
    const std::string errors =
        sampleKey("ipc_fifo_open_errors_total", withOwnComm({{"errno", "ENXIO"}, {"path", fifo}}));
    samples = scrapeUntil(
        port, [&](const Samples& s) { return s.count(errors) != 0 && s.at(errors) >= 3; });
    ASSERT_EQ(samples.count(errors), 1u) << agent.log();
    EXPECT_EQ(samples.at(errors), 3);
    EXPECT_EQ(samples.at(restarts), 1);
    EXPECT_EQ(occurrences(agent.log(), "fifo_open probe thread failed"), 1u) << agent.log();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ipcwatch::testing
