// End to end: after start-up the agent holds exactly the capabilities docs/security.md lists, in
// every thread, and every collector and an endpoint check of another user's FIFO still work.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr uid_t kUser = 61235;  // owns the FIFO and reads it; nobody else on the host
// CAP_DAC_READ_SEARCH (2), CAP_SETGID (6), CAP_SETUID (7), CAP_SYS_CHROOT (18),
// CAP_SYS_PTRACE (19), CAP_SYS_ADMIN (21).
constexpr std::uint64_t kKeptMask = 0x2c00c4;
constexpr std::uint64_t kSetpcap = 1ull << 8;

std::string hex(std::uint64_t mask) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(mask));
  return text;
}

std::map<std::string, std::string> capabilitySets(const std::string& status_path) {
  std::map<std::string, std::string> sets;
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Cap", 0) == 0) {
      const auto colon = line.find(':');
      sets[line.substr(0, colon)] = line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return sets;
}

TEST(PrivilegesE2E, KeepsOnlyTheDocumentedCapabilitiesAndEverythingStillWorks) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent drops capabilities only when it has them";
  }
  char tmpl[] = "/tmp/ipcwatch-caps-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  const std::string fifo = dir + "/private_fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(chown(fifo.c_str(), kUser, kUser), 0);

  // The server: another user's process holding the FIFO open for reading. Finding it needs
  // CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE on its /proc/PID/fd.
  const std::string server_comm = uniqueComm("cap");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t server = fork();
  if (server == 0) {
    prctl(PR_SET_NAME, server_comm.c_str());
    if (setgid(kUser) != 0 || setuid(kUser) != 0) {
      _exit(2);
    }
    const int fd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    const char ok = fd >= 0 ? '1' : '0';
    (void)!write(ready[1], &ok, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  ASSERT_EQ(ok, '1');

  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "endpoints:\n  - name: private\n    path: " +
      fifo + "\n    type: fifo\n    server: { process: " + server_comm +
      " }\n    clients:\n      - { name: owner, user: \"" + std::to_string(kUser) + ":" +
      std::to_string(kUser) +
      "\", access: write }\n"
      "      - { name: root, user: root, access: write }\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();

  // On a host that runs the tests with every capability (CI does) this is exactly kKeptMask; a
  // container that withholds some leaves the agent the intersection, and without CAP_SETPCAP
  // the bounding set as it was.
  const auto own = capabilitySets("/proc/self/status");
  const std::uint64_t permitted = std::stoull(own.at("CapPrm"), nullptr, 16);
  const std::uint64_t expected = kKeptMask & permitted;
  const std::uint64_t expected_bounding =
      (permitted & kSetpcap) != 0 ? expected : std::stoull(own.at("CapBnd"), nullptr, 16);
  const std::string task_dir = "/proc/" + std::to_string(agent.pid()) + "/task";
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(task_dir)) {
    const auto sets = capabilitySets(task.path().string() + "/status");
    EXPECT_EQ(sets.at("CapEff"), hex(expected)) << task.path();
    EXPECT_EQ(sets.at("CapPrm"), hex(expected)) << task.path();
    EXPECT_EQ(sets.at("CapBnd"), hex(expected_bounding)) << task.path();
    EXPECT_EQ(sets.at("CapInh"), "0000000000000000") << task.path();
    EXPECT_EQ(sets.at("CapAmb"), "0000000000000000") << task.path();
    ++threads;
  }
  EXPECT_GT(threads, 3);  // main, probe and audit threads, HTTP workers

  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response && response->status == 200);
  const auto samples = parseExposition(response->body);
  int collectors = 0;
  for (const auto& [key, value] : samples) {
    if (key.rfind("ipcwatch_collector_success{", 0) == 0) {
      EXPECT_EQ(value, 1) << key << "\n" << agent.log();
      ++collectors;
    }
  }
  EXPECT_EQ(collectors, 12);  // the 10 of the collector table, config and self
  for (const auto& [key, value] : samples) {
    if (key.rfind("ipcwatch_probe_attached{", 0) == 0) {
      EXPECT_EQ(value, 1) << key;
    }
  }
  const std::map<std::string, std::string> endpoint = {{"endpoint", "private"},
                                                       {"client", "owner"}};
  EXPECT_EQ(findSample(samples, "ipc_endpoint_up", endpoint), 1) << response->body;
  EXPECT_EQ(findSample(samples, "ipc_endpoint_peers", {{"endpoint", "private"}}), 1);
  // Root may write the other user's mode 0600 FIFO, although the agent no longer holds the
  // CAP_DAC_OVERRIDE that grants it.
  EXPECT_EQ(findSample(samples, "ipc_endpoint_check_ok",
                        {{"endpoint", "private"}, {"client", "root"}, {"check", "permission"}}),
            1)
      << response->body;

  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  runCommand("rm -rf '" + dir + "'");
}

}  // namespace
}  // namespace ipcwatch::testing
