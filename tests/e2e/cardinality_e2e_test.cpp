// End to end: an unprivileged user floods the host with distinct names — 100 000 FIFOs with
// random names that are opened without a reader, and processes with random comm values hitting
// EPIPE. No metric family gets past its label cap, and the agent's memory stays bounded.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr uid_t kNobody = 65534;
constexpr int kFifos = 100000;
constexpr int kComms = 5000;
constexpr int kCap = 1000;  // the default labels.path and labels.comm: exceeded 100- and 5-fold
// The agent's resident memory after the flood, all probes attached: measured at ~62 MiB. The
// bound is the one docs/configuration.md documents ("Memory under a flood of names").
constexpr long kRssBoundKiB = 256 * 1024;

// Runs fn as uid/gid 65534 in a child; returns whether it exited 0.
bool asNobody(const std::function<bool()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) {
      _exit(2);
    }
    _exit(fn() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string randomName(std::mt19937_64& rng, std::size_t length) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
  std::string name;
  for (std::size_t i = 0; i < length; ++i) {
    name += kChars[rng() % (sizeof kChars - 1)];
  }
  return name;
}

// Every FIFO opened for writing without a reader: ENXIO, one fifo_open event each.
bool floodFifos(const std::string& dir) {
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < kFifos; ++i) {
    const std::string path = dir + "/" + randomName(rng, 24);
    if (mkfifo(path.c_str(), 0600) != 0) {
      return false;
    }
    if (open(path.c_str(), O_WRONLY | O_NONBLOCK) >= 0 || errno != ENXIO) {
      return false;
    }
  }
  return true;
}

bool floodComms() {
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < kComms; ++i) {
    const std::string comm = randomName(rng, 15);
    if (!exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(1); }))) {
      return false;
    }
  }
  return true;
}

// The value of label `name` in a parseExposition key, "" when absent.
std::string labelValue(const std::string& key, const std::string& name) {
  const std::string start = name + "=\"";
  std::size_t at = key.find("{" + start);
  at = at == std::string::npos ? key.find("," + start) : at;
  if (at == std::string::npos) {
    return "";
  }
  std::string value;
  for (std::size_t i = at + 1 + start.size(); i < key.size() && key[i] != '"'; ++i) {
    if (key[i] == '\\') {
      ++i;
    }
    value += key[i];
  }
  return value;
}


TEST(CardinalityE2E, FloodOfNamesStaysWithinCapsAndMemoryBound) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs and to act as another user";
  }
  char tmpl[] = "/tmp/ipcwatch-flood-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  // 100 000 FIFOs left in /tmp would slow every later scrape of the host: removed even when an
  // assertion ends the test early.
  const std::unique_ptr<const std::string, void (*)(const std::string*)> cleanup(
      &dir, [](const std::string* path) { runCommand("rm -rf '" + *path + "'"); });
  ASSERT_EQ(chown(dir.c_str(), kNobody, kNobody), 0);
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "scan:\n  directories: [\"" +
      dir + "\"]\n  time_budget_seconds: 60\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const auto attached = [&] {
    const auto response = httpRequest(port, "GET", "/metrics");
    return response &&
           response->body.find("ipcwatch_probe_attached{probe=\"fifo_exit_openat\"} 1") !=
               std::string::npos &&
           response->body.find("ipcwatch_probe_attached{probe=\"epipe_write\"} 1") !=
               std::string::npos;
  };
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       !attached() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(50ms);  // polling interval
  }
  ASSERT_TRUE(attached()) << agent.log();

  ASSERT_TRUE(asNobody([&] { return floodFifos(dir); }));
  ASSERT_TRUE(asNobody(floodComms));

  // Scrape until the agent has taken in both floods: the overflow counts stop moving.
  std::map<std::string, double> samples;
  // Polled while the floods are taken in: a metric's series appears at its first overflow.
  const auto overflow = [&](const char* metric) {
    return findSample(samples, "ipcwatch_label_overflow_total", {{"metric", metric}}).value_or(0);
  };
  double last_fifo = -1;
  double last_comm = -1;
  for (const auto end = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < end;) {
    const auto response = httpRequest(port, "GET", "/metrics");
    samples = response ? parseExposition(response->body) : std::map<std::string, double>{};
    const double fifo = overflow("ipc_fifo_open_errors_total");
    const double comm = overflow("ipc_epipe_total");
    if (fifo > 0 && comm > 0 && fifo == last_fifo && comm == last_comm) {
      break;
    }
    last_fifo = fifo;
    last_comm = comm;
    std::this_thread::sleep_for(500ms);  // polling interval
  }
  // Every ENXIO of the flood reached user space and was folded, or was counted as lost.
  ASSERT_TRUE(hasFamily(samples, "ipcwatch_label_overflow_total")) << agent.log();
  // Listed from the start, while zero.
  const auto lost_series = findSample(samples, "ipcwatch_events_lost_total", {{"probe", "fifo_open"}});
  ASSERT_TRUE(lost_series) << agent.log();
  const double lost = *lost_series;
  EXPECT_GE(overflow("ipc_fifo_open_errors_total") + lost, kFifos - kCap);
  // The kernel's per-comm map holds max(1024, 4 x cap) comm values; what finds it full is
  // counted under comm="other" in the kernel, and what it holds past the cap folds here.
  EXPECT_GT(overflow("ipc_epipe_total"), 0);

  // Per family, the distinct values of each outside-world label: at most the cap plus "other".
  std::map<std::pair<std::string, std::string>, std::set<std::string>> values;
  for (const auto& [key, value] : samples) {
    const std::string family = key.substr(0, key.find('{'));
    for (const char* label : {"path", "comm"}) {
      const std::string v = labelValue(key, label);
      if (!v.empty()) {
        values[{family, label}].insert(v);
      }
    }
  }
  ASSERT_FALSE(values.empty());
  for (const auto& [family_label, distinct] : values) {
    EXPECT_LE(distinct.size(), static_cast<std::size_t>(kCap + 1))
        << family_label.first << " " << family_label.second;
  }
  const auto folds = [&](const char* family, const char* label) {
    return values[std::make_pair(std::string(family), std::string(label))].count("other");
  };
  EXPECT_EQ(folds("ipc_fifo_open_errors_total", "path"), 1u);
  EXPECT_EQ(folds("ipc_epipe_total", "comm"), 1u);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "ipc_files"}}), 1);

  const long rss = procStatusKiB(agent.pid(), "VmRSS");
  EXPECT_GT(rss, 0);
  EXPECT_LT(rss, kRssBoundKiB) << "agent RSS " << rss << " KiB";
  std::cout << "agent RSS after the flood: " << rss << " KiB\n";
}

}  // namespace
}  // namespace ipcwatch::testing
