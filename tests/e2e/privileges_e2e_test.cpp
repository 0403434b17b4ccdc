// End to end: after start-up the agent holds exactly the capabilities docs/security.md lists, in
// every thread, and every collector and an endpoint check of another user's FIFO still work;
// the process that serves HTTP holds none, as another user, and lives and dies with the agent.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
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

constexpr uid_t kWebUser = 61237;  // the web process's user in these tests; nobody else's

// A /proc/PID/status field, as the kernel writes it after the tab ("" when missing).
std::string statusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      const auto value = line.find_first_not_of(" \t", field.size() + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
  }
  return "";
}

// The agent's web process: its one child, named ipcwatch-web. 0 when there is none.
pid_t webProcessOf(pid_t agent) {
  std::vector<pid_t> children;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(agent) + "/task")) {
    std::ifstream in(task.path() / "children");
    for (pid_t child = 0; in >> child;) {
      children.push_back(child);
    }
  }
  if (children.size() != 1 || statusField(children[0], "Name") != "ipcwatch-web") {
    return 0;
  }
  return children[0];
}

// The inode of the socket listening on 127.0.0.1:`port` (/proc/net/tcp), 0 when none is.
unsigned long listeningInode(int port) {
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, address, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    fields >> slot >> address >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (address == local && state == "0A") {
      return inode;
    }
  }
  return 0;
}

// What each descriptor of `pid` at 3 and above links to.
std::vector<std::string> descriptorTargets(pid_t pid) {
  std::vector<std::string> targets;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    if (std::stoi(fd.path().filename().string()) >= 3) {
      std::error_code ec;
      targets.push_back(std::filesystem::read_symlink(fd.path(), ec).string());
    }
  }
  return targets;
}

bool goneOrZombie(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return text.empty() || (paren != std::string::npos && text.substr(paren + 2, 1) == "Z");
}

bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(10ms);  // polling interval
  }
  return true;
}

// Waits for the agent to serve; returns its web process (0, with the failure recorded, when
// either is missing).
pid_t startedWebProcess(AgentProcess& agent) {
  if (agent.waitForPort(30s) <= 0) {
    ADD_FAILURE() << "the agent did not start\n" << agent.log();
    return 0;
  }
  const pid_t web = webProcessOf(agent.pid());
  if (web <= 0) {
    ADD_FAILURE() << "the agent has no web process\n" << agent.log();
  }
  return web;
}

std::string webConfig(const std::string& user) {
  return "web:\n  listen_address: \"127.0.0.1:0\"\n  user: \"" + user + "\"\n";
}

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
  EXPECT_GT(threads, 3);  // main, probe, audit and web request threads

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
  EXPECT_EQ(collectors, 14);  // the 12 of the collector table, config and self
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

// The process that parses requests from the network holds no capability in any set, runs as
// web.user with no groups, no new privileges and not dumpable, in an empty read-only root, and
// holds nothing of the agent's but its end of the channel; the agent holds no listening socket.
TEST(PrivilegesE2E, TheProcessThatServesHttpHoldsNoCapability) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the agent changes the web process's user only as root";
  }
  const std::string id = std::to_string(kWebUser);
  AgentProcess agent(webConfig(id + ":" + id));
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const pid_t web = webProcessOf(agent.pid());
  ASSERT_GT(web, 0) << agent.log();
  const unsigned long listening = listeningInode(port);
  ASSERT_NE(listening, 0u);
  const std::string socket = "socket:[" + std::to_string(listening) + "]";

  const auto web_fds = descriptorTargets(web);
  EXPECT_EQ(std::count(web_fds.begin(), web_fds.end(), socket), 1);
  int sockets = 0;
  for (const auto& target : web_fds) {
    // The listening socket and the channel; the ConnectionFront's epoll and wake-up eventfd.
    // No BPF map, program or link, no perf event, no netlink socket, no file.
    EXPECT_TRUE(target.rfind("socket:[", 0) == 0 || target == "anon_inode:[eventpoll]" ||
                target == "anon_inode:[eventfd]")
        << target;
    sockets += target.rfind("socket:[", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(sockets, 2);
  const auto agent_fds = descriptorTargets(agent.pid());
  EXPECT_EQ(std::count(agent_fds.begin(), agent_fds.end(), socket), 0);

  const auto own = capabilitySets("/proc/self/status");
  const bool setpcap = (std::stoull(own.at("CapPrm"), nullptr, 16) & kSetpcap) != 0;
  int threads = 0;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(web) + "/task")) {
    const auto sets = capabilitySets(task.path().string() + "/status");
    EXPECT_EQ(sets.at("CapEff"), "0000000000000000") << task.path();
    EXPECT_EQ(sets.at("CapPrm"), "0000000000000000") << task.path();
    EXPECT_EQ(sets.at("CapInh"), "0000000000000000") << task.path();
    EXPECT_EQ(sets.at("CapAmb"), "0000000000000000") << task.path();
    if (setpcap) {
      EXPECT_EQ(sets.at("CapBnd"), "0000000000000000") << task.path();
    }
    ++threads;
  }
  EXPECT_GT(threads, 2);  // main, acceptor, front and the workers
  EXPECT_EQ(statusField(web, "Uid"), id + "\t" + id + "\t" + id + "\t" + id);
  EXPECT_EQ(statusField(web, "Gid"), id + "\t" + id + "\t" + id + "\t" + id);
  EXPECT_EQ(statusField(web, "Groups"), "");
  EXPECT_EQ(statusField(web, "NoNewPrivs"), "1");
  // Not dumpable: the kernel then gives the process's /proc files to root, not to its user, and
  // no other process of that user may ptrace it.
  struct stat status_file {};
  ASSERT_EQ(stat(("/proc/" + std::to_string(web) + "/status").c_str(), &status_file), 0);
  EXPECT_EQ(status_file.st_uid, 0u);

  const std::string root = "/proc/" + std::to_string(web) + "/root/";
  struct statfs fs {};
  ASSERT_EQ(statfs(root.c_str(), &fs), 0);
  EXPECT_EQ(fs.f_type, 0x01021994);  // TMPFS_MAGIC
  struct statvfs vfs {};
  ASSERT_EQ(statvfs(root.c_str(), &vfs), 0);
  EXPECT_NE(vfs.f_flag & ST_RDONLY, 0u);
  EXPECT_TRUE(std::filesystem::is_empty(root));
  EXPECT_THAT(agent.log(), ::testing::HasSubstr("web process " + std::to_string(web) +
                                                " serves HTTP as (uid " + id + ", gid " + id +
                                                ") with no capabilities, in an empty read-only "
                                                "root"));

  // And it serves what the agent gathers.
  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response && response->status == 200);
  EXPECT_EQ(findSample(parseExposition(response->body), "ipcwatch_collector_success",
                       {{"collector", "sysv_ipc"}}),
            1);
  const auto health = httpRequest(port, "GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok\n");
}

TEST(PrivilegesE2E, TheAgentStopsWhenItsWebProcessDies) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the web process runs as another user";
  }
  const std::string id = std::to_string(kWebUser);
  AgentProcess agent(webConfig(id));
  const pid_t web = startedWebProcess(agent);
  ASSERT_GT(web, 0);
  ASSERT_EQ(kill(web, SIGKILL), 0);
  const auto status = agent.waitForExit(10s);
  ASSERT_TRUE(status.has_value()) << agent.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  EXPECT_THAT(agent.log(), ::testing::HasSubstr("the web process " + std::to_string(web) +
                                                " was killed by signal 9"));
}

// The web process exits with the agent however the agent ends: it may no longer be signalled by
// the agent (another user), so this is what its channel is for.
TEST(PrivilegesE2E, TheWebProcessEndsWithTheAgent) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: the web process runs as another user";
  }
  const std::string id = std::to_string(kWebUser);
  {
    AgentProcess agent(webConfig(id));
    const pid_t web = startedWebProcess(agent);
    ASSERT_GT(web, 0);
    const auto status = agent.stop(5s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
    EXPECT_TRUE(pollUntil([web] { return goneOrZombie(web); }, 5s)) << "after a stop";
  }
  {
    AgentProcess agent(webConfig(id));
    const pid_t web = startedWebProcess(agent);
    ASSERT_GT(web, 0);
    ASSERT_EQ(kill(agent.pid(), SIGKILL), 0);
    ASSERT_TRUE(agent.waitForExit(5s).has_value());
    EXPECT_TRUE(pollUntil([web] { return goneOrZombie(web); }, 5s)) << "after SIGKILL";
  }
}

TEST(PrivilegesE2E, AWebUserThatDoesNotExistStopsTheStart) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: only then does the agent change the web process's user";
  }
  AgentProcess agent(webConfig("ipcwatch-no-such-user"));
  const auto status = agent.waitForExit(30s);
  ASSERT_TRUE(status.has_value()) << agent.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  EXPECT_THAT(agent.log(),
              ::testing::HasSubstr("web.user: no user 'ipcwatch-no-such-user' on this host"));
  EXPECT_THAT(agent.log(), ::testing::Not(::testing::HasSubstr("serving metrics")));
}

}  // namespace
}  // namespace ipcwatch::testing
