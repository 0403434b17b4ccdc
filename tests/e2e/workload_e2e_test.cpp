// End to end: who failed. The test's own processes fail in cgroups the test creates, named as
// systemd and the kubelet name theirs, and the failure metrics carry their comm, unit,
// container and pod. The cgroups are made in every hierarchy the agent may record (each cgroup2
// mount and the cgroup v1 pids controller), so the test holds on v1 hosts and v2 guests alike.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "test_cgroup.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using Samples = std::map<std::string, double>;
using Labels = std::map<std::string, std::string>;

sockaddr_un pathAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  return addr;
}

int connectErrno(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = pathAddress(path);
  const int r = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = r == 0 ? 0 : errno;
  close(fd);
  return err;
}

// A socket file nothing listens on: bound, then closed without unlink() (a crashed server's).
bool makeStaleSocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = pathAddress(path);
  const bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Runs body in a child named comm inside the cgroup; true when body returned true.
bool runIn(const TestCgroup& cgroup, const std::string& comm, const std::function<bool()>& body) {
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NAME, comm.c_str());
    _exit(enterSelf(cgroup.leaves()) && body() ? 0 : 1);
  }
  int status = 0;
  return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ownNetns() {
  struct stat st {};
  return stat("/proc/self/ns/net", &st) == 0 ? std::to_string(st.st_ino) : "";
}

class WorkloadE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF programs and to create cgroups; CI runs this as root";
    }
    char tmpl[] = "/tmp/ipcwatch-workload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    pods_ = dir_ + "/pods";
    ASSERT_EQ(mkdir(pods_.c_str(), 0755), 0);
    sock_ = dir_ + "/php-fpm.sock";
    ASSERT_TRUE(makeStaleSocket(sock_));
    fifo_ = dir_ + "/mi_fifo";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
  }
  void TearDown() override {
    agent_.reset();
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  void startAgent(const std::string& extra_yaml = "") {
    agent_ = std::make_unique<AgentProcess>(
        "web:\n  listen_address: \"127.0.0.1:0\"\n"
        "workload:\n  pod_logs: " +
        pods_ + "\n" + extra_yaml);
    port_ = agent_->waitForPort(30s);
    ASSERT_NE(port_, 0) << agent_->log();
    ASSERT_TRUE(waitFor([](const Samples& s) {
      for (const char* p : {"fifo_exit_openat", "unix_exit_connect", "epipe_write",
                            "sigpipe_generate", "sigpipe_exit"}) {
        if (findSample(s, "ipcwatch_probe_attached", {{"probe", p}}).value_or(0) != 1) {
          return false;
        }
      }
      return true;
    })) << agent_->log();
  }

  Samples scrape() { return scrapeSamples(port_); }
  bool waitFor(const std::function<bool(const Samples&)>& pred) {
    return scrapeUntilTrue(port_, pred);
  }

  Labels connectLabels(const std::string& comm) const {
    return {{"comm", comm},
            {"errno", "ECONNREFUSED"},
            {"netns", ownNetns()},
            {"netns_name", ""},
            {"path", sock_}};
  }

  std::string dir_;
  std::string pods_;
  std::string sock_;
  std::string fifo_;
  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

TEST_F(WorkloadE2E, ServiceCgroupNamesTheUnitOfTheRefusedClient) {
  startAgent();
  const std::string unit = "ipcwatch-test-nginx-" + randomHex(6) + ".service";
  TestCgroup cgroup(unit);
  ASSERT_EQ(cgroup.error(), "");
  const std::string comm = uniqueComm("iw-nginx-");
  ASSERT_TRUE(runIn(cgroup, comm, [&] {
    const bool refused = connectErrno(sock_) == ECONNREFUSED && connectErrno(sock_) == ECONNREFUSED;
    const bool enxio = open(fifo_.c_str(), O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO;
    return refused && enxio;
  }));

  Labels connect = connectLabels(comm);
  connect["unit"] = unit;
  const Labels fifo = {{"comm", comm}, {"errno", "ENXIO"}, {"path", fifo_}, {"unit", unit}};
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_unix_connect_errors_total", connect) == 2 &&
           findSample(s, "ipc_fifo_open_errors_total", fifo) == 1;
  })) << agent_->log();
  // The same failures under no other labels: the test's own process made none.
  Labels without_unit = connectLabels(comm);
  EXPECT_TRUE(seriesAbsent(scrape(), "ipc_unix_connect_errors_total", without_unit));

  // The unit is gone; its counts keep their labels.
  cgroup.remove();
  const auto after = scrape();
  EXPECT_EQ(findSample(after, "ipc_unix_connect_errors_total", connect), 2);
  EXPECT_EQ(findSample(after, "ipc_fifo_open_errors_total", fifo), 1);
}

TEST_F(WorkloadE2E, KubepodsContainerCgroupNamesContainerAndPod) {
  const std::string uid = randomPodUid();
  std::string slice_uid = uid;
  std::replace(slice_uid.begin(), slice_uid.end(), '-', '_');
  const std::string container = randomHex(64);
  const std::string pod = "php-" + randomHex(5);
  ASSERT_EQ(mkdir((pods_ + "/shop_" + pod + "_" + uid).c_str(), 0755), 0);
  startAgent();
  TestCgroup cgroup("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + slice_uid +
                    ".slice/cri-containerd-" + container + ".scope");
  ASSERT_EQ(cgroup.error(), "");
  const std::string comm = uniqueComm("iw-nginx-");
  ASSERT_TRUE(runIn(cgroup, comm, [&] { return connectErrno(sock_) == ECONNREFUSED; }));

  Labels labels = connectLabels(comm);
  labels["container_id"] = container.substr(0, 12);
  labels["pod_uid"] = uid;
  labels["pod_namespace"] = "shop";
  labels["pod"] = pod;
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_unix_connect_errors_total", labels) == 1;
  })) << agent_->log();
}

// Broken pipes and SIGPIPE deaths in a unit are counted with their unit as well as their comm.
TEST_F(WorkloadE2E, BrokenPipesAndSigpipeDeathsNameTheirUnit) {
  startAgent();
  const std::string unit = "ipcwatch-test-writer-" + randomHex(6) + ".service";
  TestCgroup cgroup(unit);
  ASSERT_EQ(cgroup.error(), "");
  const auto write_to_closed_pipe = [] {
    int fds[2];
    if (pipe(fds) != 0) {
      return false;
    }
    close(fds[0]);
    const bool epipe = write(fds[1], "x", 1) == -1 && errno == EPIPE;
    close(fds[1]);
    return epipe;
  };
  const std::string survivor = uniqueComm("iw-wr-");
  ASSERT_TRUE(runIn(cgroup, survivor, [&] {
    signal(SIGPIPE, SIG_IGN);
    return write_to_closed_pipe() && write_to_closed_pipe() && write_to_closed_pipe();
  }));
  const std::string victim = uniqueComm("iw-die-");
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NAME, victim.c_str());
    _exit(enterSelf(cgroup.leaves()) && write_to_closed_pipe() ? 0 : 1);  // SIGPIPE ends it
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);

  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_epipe_total",
                      {{"comm", survivor}, {"kind", "pipe"}, {"unit", unit}}) == 3 &&
           findSample(s, "ipc_sigpipe_total",
                      {{"action", "ignored"}, {"comm", survivor}, {"unit", unit}}) == 3 &&
           findSample(s, "ipc_sigpipe_total",
                      {{"action", "default"}, {"comm", victim}, {"unit", unit}}) == 1 &&
           findSample(s, "ipc_sigpipe_deaths_total", {{"comm", victim}, {"unit", unit}}) == 1;
  })) << agent_->log();
}

// A process of a pod's container in network, IPC and mount namespaces of its own: the info metrics
// join each namespace's inode to that workload, and to nothing else.
TEST_F(WorkloadE2E, NamespacesOfAContainerJoinItsPod) {
  const std::string uid = randomPodUid();
  const std::string container = randomHex(64);
  const std::string pod = "sip-" + randomHex(5);
  ASSERT_EQ(mkdir((pods_ + "/voice_" + pod + "_" + uid).c_str(), 0755), 0);
  startAgent();
  TestCgroup cgroup("kubepods/besteffort/pod" + uid + "/" + container);
  ASSERT_EQ(cgroup.error(), "");
  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  if (child == 0) {
    char byte =
        enterSelf(cgroup.leaves()) && unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) == 0 ? 'y'
                                                                                              : 'n';
    (void)!write(ready[1], &byte, 1);
    (void)!read(done[0], &byte, 1);  // stay until the parent has scraped
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  struct stat net {};
  struct stat ipc {};
  struct stat mnt {};
  const std::string proc = "/proc/" + std::to_string(child) + "/ns/";
  ASSERT_EQ(stat((proc + "net").c_str(), &net), 0);
  ASSERT_EQ(stat((proc + "ipc").c_str(), &ipc), 0);
  ASSERT_EQ(stat((proc + "mnt").c_str(), &mnt), 0);
  const auto series_of = [](const Samples& s, const std::string& metric, const std::string& label,
                            const std::string& inode) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : s) {
      if (key.rfind(metric + "{", 0) == 0 &&
          key.find(label + "=\"" + inode + "\"") != std::string::npos) {
        keys.push_back(key);
      }
    }
    return keys;
  };
  const Labels workload = {
      {"container_id", container.substr(0, 12)}, {"pod", pod}, {"pod_namespace", "voice"}};
  Labels net_labels = workload;
  net_labels["netns"] = std::to_string(net.st_ino);
  Labels ipc_labels = workload;
  ipc_labels["ipcns"] = std::to_string(ipc.st_ino);
  Labels mnt_labels = workload;
  mnt_labels["mntns"] = std::to_string(mnt.st_ino);
  Samples s;
  const bool found = waitFor([&](const Samples& scraped) {
    s = scraped;
    return findSample(s, "ipc_netns_info", net_labels) == 1 &&
           findSample(s, "ipc_ipcns_info", ipc_labels) == 1 &&
           findSample(s, "ipc_mntns_info", mnt_labels) == 1;
  });
  (void)!write(done[1], &byte, 1);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(found) << agent_->log();
  EXPECT_EQ(series_of(s, "ipc_netns_info", "netns", std::to_string(net.st_ino)),
            std::vector<std::string>{sampleKey("ipc_netns_info", net_labels)});
  EXPECT_EQ(series_of(s, "ipc_ipcns_info", "ipcns", std::to_string(ipc.st_ino)),
            std::vector<std::string>{sampleKey("ipc_ipcns_info", ipc_labels)});
  EXPECT_EQ(series_of(s, "ipc_mntns_info", "mntns", std::to_string(mnt.st_ino)),
            std::vector<std::string>{sampleKey("ipc_mntns_info", mnt_labels)});
}

// A FIFO endpoint whose server and client run in units of their own: the metrics and diagnose
// name both with their unit ("pid 2790 (opensips, opensips.service)").
TEST_F(WorkloadE2E, EndpointsNameTheirServerAndClientUnits) {
  const std::string server_unit = "ipcwatch-test-opensips-" + randomHex(6) + ".service";
  const std::string client_unit = "ipcwatch-test-httpd-" + randomHex(6) + ".service";
  TestCgroup server_cgroup(server_unit);
  TestCgroup client_cgroup(client_unit);
  ASSERT_EQ(server_cgroup.error(), "");
  ASSERT_EQ(client_cgroup.error(), "");
  const std::string server_comm = uniqueComm("iw-osips-");
  const std::string client_comm = uniqueComm("iw-httpd-");
  // Each child enters its cgroup, the server opens the FIFO for reading, then both wait.
  const auto start = [&](const TestCgroup& cgroup, const std::string& comm, bool reader) {
    int ready[2];
    if (pipe(ready) != 0) {
      return pid_t{-1};
    }
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_NAME, comm.c_str());
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const bool ok = enterSelf(cgroup.leaves()) &&
                      (!reader || open(fifo_.c_str(), O_RDONLY | O_NONBLOCK) >= 0);
      char byte = ok ? 'y' : 'n';
      (void)!write(ready[1], &byte, 1);
      for (;;) {
        pause();
      }
    }
    char byte = 0;
    const bool ok = read(ready[0], &byte, 1) == 1 && byte == 'y';
    close(ready[0]);
    close(ready[1]);
    return ok ? pid : pid_t{-1};
  };
  const pid_t server = start(server_cgroup, server_comm, true);
  const pid_t client = start(client_cgroup, client_comm, false);
  const auto reap = [](pid_t pid) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  };
  ASSERT_GT(server, 0);
  ASSERT_GT(client, 0);
  startAgent("endpoints:\n  - name: mi\n    path: " + fifo_ +
             "\n    type: fifo\n    server: { process: " + server_comm +
             " }\n    clients:\n      - name: panel\n        process: " + client_comm +
             "\n        access: write\n");
  const Labels server_labels = {{"client", "panel"},
                                {"comm", server_comm},
                                {"endpoint", "mi"},
                                {"role", "server"},
                                {"unit", server_unit}};
  const Labels client_labels = {{"client", "panel"},
                                {"comm", client_comm},
                                {"endpoint", "mi"},
                                {"role", "client"},
                                {"unit", client_unit}};
  const auto s = scrape();
  EXPECT_EQ(findSample(s, "ipc_endpoint_up", {{"client", "panel"}, {"endpoint", "mi"}}), 1);
  EXPECT_EQ(findSample(s, "ipc_endpoint_process_info", server_labels), 1);
  EXPECT_EQ(findSample(s, "ipc_endpoint_process_info", client_labels), 1);
  const auto [status, output] = runCommand(std::string(IPCWATCH_BINARY) + " diagnose --config " +
                                           agent_->configPath() + " --endpoint mi");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(
      output.find("pid " + std::to_string(server) + " (" + server_comm + ", " + server_unit + ")"),
      std::string::npos)
      << output;
  EXPECT_NE(
      output.find("pid " + std::to_string(client) + " (" + client_comm + ", " + client_unit + ")"),
      std::string::npos)
      << output;
  agent_.reset();
  reap(server);
  reap(client);
}

// 10 000 cgroups, each the home of one refused connect: the first 50 workloads keep their unit,
// the rest are counted under unit="other", each folded workload once in the overflow count, and
// none is lost although the kernel's map holds only 4 000 keys: folded cgroups leave it at each
// read.
TEST_F(WorkloadE2E, TenThousandCgroupsStayWithinTheCap) {
  startAgent("labels:\n  workload: 50\n");
  const std::string parent = "ipcwatch-test-flood-" + randomHex(6);
  constexpr int kCgroups = 10000;
  constexpr int kPerRound = 1000;
  std::vector<std::unique_ptr<TestCgroup>> cgroups;
  const std::string comm = uniqueComm("iw-flood-");
  const auto ours = [&](const Samples& s) {
    std::map<std::string, double> by_unit;
    const std::string prefix = "ipc_unix_connect_errors_total{";
    for (const auto& [key, value] : s) {
      if (key.rfind(prefix, 0) == 0 && key.find("path=\"" + sock_ + "\"") != std::string::npos &&
          key.find("comm=\"" + comm + "\"") != std::string::npos) {
        const auto at = key.find("unit=\"");
        by_unit[at == std::string::npos ? ""
                                        : key.substr(at + 6, key.find('"', at + 6) - at - 6)] +=
            value;
      }
    }
    return by_unit;
  };
  const auto total = [&](const Samples& s) {
    double sum = 0;
    for (const auto& [unit, value] : ours(s)) {
      sum += value;
    }
    return sum;
  };
  for (int round = 0; round < kCgroups / kPerRound; ++round) {
    std::vector<std::vector<std::string>> leaves;
    for (int i = 0; i < kPerRound; ++i) {
      cgroups.push_back(std::make_unique<TestCgroup>(
          parent + "/w" + std::to_string(round * kPerRound + i) + ".service"));
      ASSERT_EQ(cgroups.back()->error(), "");
      leaves.push_back(cgroups.back()->leaves());
    }
    const pid_t child = fork();
    if (child == 0) {
      prctl(PR_SET_NAME, comm.c_str());
      for (const auto& leaf : leaves) {
        if (!enterSelf(leaf) || connectErrno(sock_) != ECONNREFUSED) {
          _exit(1);
        }
      }
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const double expected = (round + 1) * kPerRound;
    ASSERT_TRUE(waitFor([&](const Samples& s) { return total(s) == expected; }))
        << "round " << round << ": " << total(scrape()) << " of " << expected << "\n"
        << agent_->log();
  }
  const auto s = scrape();
  const auto by_unit = ours(s);
  // Other processes of the host may have taken some of the 50 places first.
  EXPECT_LE(by_unit.size(), 51u);
  ASSERT_TRUE(by_unit.contains("other"));
  EXPECT_GE(by_unit.at("other"), kCgroups - 50);
  for (const auto& [unit, value] : by_unit) {
    if (unit != "other") {
      EXPECT_EQ(value, 1) << unit;
      EXPECT_EQ(unit.rfind("w", 0), 0u) << unit;
    }
  }
  EXPECT_EQ(total(s), kCgroups);
  EXPECT_GE(
      findSample(s, "ipcwatch_label_overflow_total", {{"metric", "ipc_unix_connect_errors_total"}})
          .value_or(0),
      kCgroups - 50);
  EXPECT_EQ(findSample(s, "ipcwatch_events_lost_total", {{"probe", "unix_connect"}}), 0);
  cgroups.clear();
  for (const auto& mount : cgroupMounts()) {
    rmdir((mount + "/" + parent).c_str());
  }
}

// With every workload label off, the failure metrics are what they were before they said who
// failed: what failed, nothing else.
TEST_F(WorkloadE2E, EverythingOffKeepsTheSeriesOfWhatFailed) {
  startAgent("  labels: []\n");
  TestCgroup cgroup("ipcwatch-test-off-" + randomHex(6) + ".service");
  ASSERT_EQ(cgroup.error(), "");
  ASSERT_TRUE(
      runIn(cgroup, uniqueComm("iw-off-"), [&] { return connectErrno(sock_) == ECONNREFUSED; }));
  const Labels labels = {
      {"errno", "ECONNREFUSED"}, {"netns", ownNetns()}, {"netns_name", ""}, {"path", sock_}};
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_unix_connect_errors_total", labels) == 1;
  })) << agent_->log();
}

}  // namespace
}  // namespace ipcwatch::testing
