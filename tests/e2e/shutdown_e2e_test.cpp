// End to end: SIGTERM stops the agent within a second, with every BPF program and link it held
// gone from the kernel and its port closed, also while a scrape is stuck in the kernel.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "unanswered_fuse_mount.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

// From the signal to waitpid() seeing the exit; measured at ~0.6 s on an idle 2-core machine
// with every program attached. The bound is the requirement itself: a busy CI machine slows
// the grace periods the kernel waits for, so this is where a regression shows first.
constexpr auto kStopBudget = 1000ms;
// With a scrape stuck in the kernel: the same second, and half a second of slack for a busy
// machine. Without abandonable scrapes the stop never came.
constexpr auto kStuckStopBudget = 1500ms;
// Besides the programs the agent reports attached, each holding one link: the host inventory's
// two BPF iterators (iter/task and iter/task_file).
constexpr std::size_t kIteratorLinks = 2;

// The BPF objects of `kind` ("prog_id", "link_id") the process holds, read from its fdinfo.
std::set<std::string> heldIds(pid_t pid, const std::string& kind) {
  std::set<std::string> ids;
  const std::string fdinfo = "/proc/" + std::to_string(pid) + "/fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(kind + ":", 0) == 0) {
        ids.insert(line.substr(line.find_first_not_of(" \t", kind.size() + 1)));
      }
    }
  }
  return ids;
}

// Whether bpftool still finds any of `ids` ("prog" or "link"); polls for up to 2 s because the
// kernel frees a program after an RCU grace period, not at the last close.
std::string stillLoaded(const std::string& object, const std::set<std::string>& ids) {
  const auto end = std::chrono::steady_clock::now() + 2s;
  std::string found;
  do {
    found.clear();
    for (const auto& id : ids) {
      const auto [code, out] = runCommand("bpftool " + object + " show id " + id);
      if (code == 0) {
        found += out;
      }
    }
    if (found.empty()) {
      return found;
    }
    std::this_thread::sleep_for(50ms);  // polling interval
  } while (std::chrono::steady_clock::now() < end);
  return found;
}

TEST(ShutdownE2E, SigtermDetachesEverythingWithinASecond) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  // How many programs attached depends on the kernel (io_uring's tracepoint, the backend): the
  // agent's own report says, and every probe of the default configuration is there. Each
  // attached probe holds a link, except that on BPF trampolines the FIFO probes of open and
  // openat share one fentry program (on fifo_open()) and one fexit program (on do_filp_open()).
  const auto metrics = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  std::size_t attached = 0;
  std::size_t probes = 0;
  std::size_t fifo_on_trampolines = 0;
  std::set<std::string> fifo_trampolines;
  for (const auto& [key, value] : parseExposition(metrics->body)) {
    if (key.rfind("ipcwatch_probe_attached{", 0) == 0) {
      ++probes;
      attached += value == 1 ? 1 : 0;
    }
    for (const std::string backend : {"fentry", "fexit"}) {
      if (value == 1 &&
          key.rfind("ipcwatch_probe_backend{backend=\"" + backend + "\",probe=\"fifo_", 0) == 0) {
        ++fifo_on_trampolines;
        fifo_trampolines.insert(backend);
      }
    }
  }
  ASSERT_GE(probes, 15u) << metrics->body;
  const std::size_t all_links =
      attached - fifo_on_trampolines + fifo_trampolines.size() + kIteratorLinks;
  // Wait until every program is attached, then take the ids of what the agent holds.
  const auto end = std::chrono::steady_clock::now() + 30s;
  std::set<std::string> links;
  while (std::chrono::steady_clock::now() < end &&
         (links = heldIds(agent.pid(), "link_id")).size() < all_links) {
    std::this_thread::sleep_for(50ms);  // polling interval
  }
  ASSERT_EQ(links.size(), all_links) << agent.log() << runCommand("bpftool link show").second;
  const auto programs = heldIds(agent.pid(), "prog_id");
  ASSERT_GE(programs.size(), all_links);
  ASSERT_TRUE(httpRequest(port, "GET", "/healthz").has_value());

  const auto start = std::chrono::steady_clock::now();
  const auto status = agent.stop(5s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(status.has_value()) << "agent did not stop within 5 s";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << agent.log();
  EXPECT_LT(took, kStopBudget)
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_NE(agent.log().find("stopped"), std::string::npos) << agent.log();

  EXPECT_EQ(stillLoaded("link", links), "");
  EXPECT_EQ(stillLoaded("prog", programs), "");
  EXPECT_FALSE(httpRequest(port, "GET", "/healthz").has_value()) << "port still open";
}

// A scrape that cannot end (an endpoint on a mount that never answers: its lstat() waits in the
// kernel) must not hold the stop up: the agent exits within a second, with every probe on.
// Measured ~0.55 s; before scrapes could be abandoned the stop waited for the scrape, forever.
TEST(ShutdownE2E, SigtermWithinASecondWhileAScrapeIsStuck) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs and mount FUSE; CI runs this as root";
  }
  char tmpl[] = "/tmp/ipcwatch-stuck-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    UnansweredFuseMount fuse(dir);
    ASSERT_TRUE(fuse.available()) << fuse.unavailableReason();
    AgentProcess agent(
        "web:\n  listen_address: \"127.0.0.1:0\"\n"
        "endpoints:\n  - name: stuck\n    path: " +
            fuse.mountPoint() +
            "/fifo\n    type: fifo\n    clients:\n"
            "      - { name: panel, user: nobody, access: write }\n",
        {}, [&fuse] { return fuse.mountInPrivateNamespace(); });
    const int port = agent.waitForPort(30s);
    ASSERT_GT(port, 0) << agent.log();
    ScrapeInFlight scrape(fuse, port);
    ASSERT_TRUE(waitForThreadInFuse(agent.pid(), 30s)) << "no scrape reached the stuck mount\n"
                                                       << agent.log();

    const auto start = std::chrono::steady_clock::now();
    const auto status = agent.stop(5s);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(status.has_value()) << "agent did not stop within 5 s\n" << agent.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << agent.log();
    EXPECT_LT(took, kStuckStopBudget)
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n"
        << agent.log();
    EXPECT_NE(agent.log().find("stopped"), std::string::npos) << agent.log();
    // The agent is gone, and the abandoned scrape was not served as a whole one: the web
    // process answered it 500 or went with the agent before it could answer.
    const auto response = scrape.response();
    EXPECT_FALSE(response && response->status == 200) << response->body;
  }
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace ipcwatch::testing
