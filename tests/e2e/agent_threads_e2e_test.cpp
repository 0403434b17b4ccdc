// End to end: the agent's real threads at once — the ring-buffer poller (FIFO open events), the
// audit netlink source (USER_AVC records), the HTTP workers (concurrent scrapes) and the reload
// path (SIGHUP) — while the counts stay exact. `make test` also runs this test against an agent
// built with ThreadSanitizer (the build-tsan tree), where a data race the run provokes is a
// report in the agent's log and a non-zero exit status at stop.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"
#include "audit_netlink.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kScrapers = 4;
constexpr int kRounds = 6;
constexpr int kEpipePerRound = 5;

std::string config(bool sysv_ipc) {
  return std::string(
             "web:\n  listen_address: \"127.0.0.1:0\"\n"
             "selinux:\n  sources: [netlink]\n") +
         kCommOnlyYaml + std::string("collectors:\n  sysv_ipc: ") + (sysv_ipc ? "true" : "false") +
         "\n";
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(AgentThreadsE2E, PollerAuditHttpAndReloadTogether) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root (BPF probes, CAP_AUDIT_WRITE)";
  }
  AgentProcess agent(config(true));
  // Under ThreadSanitizer the agent starts several times slower.
  const int port = agent.waitForPort(120s);
  ASSERT_NE(port, 0) << agent.log();
  auto scrape = [&] {
    const auto response = httpRequest(port, "GET", "/metrics", 30s);
    return response && response->status == 200 ? parseExposition(response->body)
                                               : std::map<std::string, double>{};
  };
  // The probes attach before the port is reported; the FIFO and EPIPE programs must be up.
  const auto first = scrape();
  ASSERT_EQ(findSample(first, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}), 1.0)
      << agent.log();
  ASSERT_EQ(findSample(first, "ipcwatch_probe_attached", {{"probe", "fifo_exit_openat"}}), 1.0);

  const auto dir = std::filesystem::temp_directory_path() / uniqueComm("ipcwthr");
  std::filesystem::create_directories(dir);
  const std::string fifo = (dir / "nobody-reads").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string comm = uniqueComm("iw-thr-");
  const std::string avc_type = uniqueComm("ipcwthr") + "_t";

  // Scrapers for as long as `scrapers` lives (also when an assertion returns early).
  std::atomic<int> failed_scrapes{0};
  std::atomic<int> scrapes{0};
  struct Scrapers {
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    void stop() {
      done = true;
      for (auto& thread : threads) {
        if (thread.joinable()) {
          thread.join();
        }
      }
    }
    ~Scrapers() { stop(); }
  } scrapers;
  for (int i = 0; i < kScrapers; ++i) {
    scrapers.threads.emplace_back([&] {
      while (!scrapers.done) {
        (scrape().empty() ? failed_scrapes : scrapes) += 1;
      }
    });
  }
  // The reload path, twice, while the scrapers run: the collectors are replaced under them.
  const std::string applied = "reload: configuration from " + agent.configPath() + " applied";
  for (int reload = 1; reload <= 2; ++reload) {
    std::ofstream(agent.configPath()) << config(reload == 2);
    ASSERT_EQ(kill(agent.pid(), SIGHUP), 0);
    const auto reloaded = std::chrono::steady_clock::now() + 60s;
    while (count(agent.log(), applied) < reload && std::chrono::steady_clock::now() < reloaded) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(count(agent.log(), applied), reload) << agent.log();
  }
  int enxio = 0;
  for (int round = 0; round < kRounds; ++round) {
    // The ring-buffer poller: a FIFO opened for writing without a reader (ENXIO, with a path).
    const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    ASSERT_EQ(fd, -1);
    ASSERT_EQ(errno, ENXIO);
    ++enxio;
    // The per-CPU EPIPE counters, and the audit netlink thread.
    ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(kEpipePerRound); })));
    ASSERT_EQ(sendUserAvc("avc:  denied  { write } for  pid=4242 comm=\"thr\" "
                          "scontext=system_u:system_r:" +
                          avc_type +
                          ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file "
                          "permissive=0"),
              0);
  }

  const std::map<std::string, std::string> epipe = {{"comm", comm}, {"kind", "pipe"}};
  const auto enxio_labels = withOwnComm({{"errno", "ENXIO"}, {"path", fifo}});
  const std::map<std::string, std::string> denial = {
      {"tclass", "fifo_file"},       {"perm", "write"},   {"source_type", avc_type},
      {"target_type", "user_tmp_t"}, {"permissive", "0"}, {"origin", "userspace"}};
  std::map<std::string, double> last;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    last = scrape();
    if (findSample(last, "ipc_epipe_total", epipe) == kRounds * kEpipePerRound &&
        findSample(last, "ipc_fifo_open_errors_total", enxio_labels) == enxio &&
        findSample(last, "ipc_selinux_denials_total", denial) == kRounds) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  scrapers.stop();
  std::filesystem::remove_all(dir);

  EXPECT_EQ(findSample(last, "ipc_epipe_total", epipe), kRounds * kEpipePerRound) << agent.log();
  EXPECT_EQ(findSample(last, "ipc_fifo_open_errors_total", enxio_labels), enxio);
  EXPECT_EQ(findSample(last, "ipc_selinux_denials_total", denial), kRounds);
  EXPECT_EQ(findSample(last, "ipcwatch_config_last_reload_successful", {}), 1.0);
  EXPECT_EQ(findSample(last, "ipcwatch_collector_success", {{"collector", "sysv_ipc"}}), 1.0);
  EXPECT_GT(scrapes.load(), kScrapers);
  EXPECT_EQ(failed_scrapes.load(), 0);

  const auto status = agent.stop(60s);
  ASSERT_TRUE(status.has_value()) << agent.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "agent status " << *status << "\n"
                                                               << agent.log();
  EXPECT_THAT(agent.log(), Not(HasSubstr("ThreadSanitizer"))) << agent.log();
}

}  // namespace
}  // namespace ipcwatch::testing
