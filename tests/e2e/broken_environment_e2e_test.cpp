// A broken host: the agent starts in a private mount namespace where part of what it needs is
// missing, or what it reads vanishes under it. The affected probes or collectors degrade (a
// metric and a log line naming the cause); everything else keeps working.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kConfig = R"(
web:
  listen_address: "127.0.0.1:0"
selinux:
  sources: [tracepoint]
)";

// In the child, before exec: a mount namespace of its own, changes there only.
int privateMounts() {
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return 90;
  }
  return 0;
}

std::map<std::string, double> scrape(int port) {
  const auto response = httpRequest(port, "GET", "/metrics");
  return response && response->status == 200 ? parseExposition(response->body)
                                              : std::map<std::string, double>{};
}

class BrokenEnvironmentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (mount namespaces, BPF)";
    }
  }
};

// Without kernel BTF (/sys/kernel/btf hidden under an empty tmpfs) no CO-RE program can load.
TEST_F(BrokenEnvironmentE2eTest, MissingKernelBtfDegradesEveryProbe) {
  AgentProcess agent(kConfig, {}, [] {
    const int code = privateMounts();
    return code != 0 ? code
                     : mount("tmpfs", "/sys/kernel/btf", "tmpfs", MS_RDONLY, "size=4k") != 0 ? 91
                                                                                              : 0;
  });
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto samples = scrape(port);
  ASSERT_FALSE(samples.empty());
  for (const char* program : {"epipe_write", "sigpipe_generate", "fifo_enter_openat",
                              "unix_exit_connect", "avc_denied"}) {
    EXPECT_EQ(samples.count(sampleKey("ipcwatch_probe_attached", {{"probe", program}})), 1u)
        << program;
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", program}}), 0) << program;
  }
  EXPECT_THAT(agent.log(), HasSubstr("probe degraded"));
  // The scrape-time collectors do not need BTF.
  for (const char* collector : {"sysv_ipc", "posix_ipc", "unix_sockets", "ipc_files", "self"}) {
    EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", collector}}), 1)
        << collector;
  }
  // The collectors over the degraded probes say so.
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "broken_pipe"}}), 0);
}

// Without tracefs (nothing at /sys/kernel/tracing or /sys/kernel/debug/tracing, and nowhere to
// mount it: /sys/kernel is an empty read-only tmpfs apart from the BTF) the classic syscall
// tracepoints cannot attach; the BTF tracepoints need no tracefs and still do. The agent is held
// to the tracepoint backend: where the kernel has BPF trampolines, fexit needs no tracefs either.
TEST_F(BrokenEnvironmentE2eTest, NoTracefsDegradesOnlyClassicTracepoints) {
  AgentProcess agent(kConfig, {}, [] {
    if (setenv("IPCWATCH_PROBE_BACKEND", "tracepoint", 1) != 0) {
      return 93;
    }
    if (const int code = privateMounts(); code != 0) {
      return code;
    }
    // Keep the BTF reachable from a staging mount, cover /sys/kernel, put the BTF back.
    const char* staging = "/run";  // a tmpfs of our own, mounted over the host's /run below
    if (mount("tmpfs", staging, "tmpfs", 0, "size=64k") != 0 || mkdir("/run/btf", 0755) != 0 ||
        mount("/sys/kernel/btf", "/run/btf", nullptr, MS_BIND, nullptr) != 0 ||
        mount("tmpfs", "/sys/kernel", "tmpfs", 0, "size=64k") != 0 ||
        mkdir("/sys/kernel/btf", 0755) != 0 ||
        mount("/run/btf", "/sys/kernel/btf", nullptr, MS_BIND, nullptr) != 0 ||
        mount(nullptr, "/sys/kernel", nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      return 92;
    }
    return 0;
  });
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto samples = scrape(port);
  ASSERT_FALSE(samples.empty());
  for (const char* classic : {"epipe_write", "fifo_enter_openat", "unix_exit_connect"}) {
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", classic}}), 0) << classic;
  }
  for (const char* btf : {"sigpipe_generate", "sigpipe_exit", "avc_denied"}) {
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", btf}}), 1)
        << btf << "\n"
        << agent.log();
  }
  EXPECT_THAT(agent.log(), HasSubstr("mount tracefs at /sys/kernel/tracing"));
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "sysv_ipc"}}), 1);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "sigpipe"}}), 1);
}

// Processes, and the network and IPC namespaces only they were in, vanish while the agent walks
// /proc and enters namespaces: a churn of short-lived processes, each in new namespaces and
// holding a FIFO open, runs through every scrape. No collector may fail because of it.
TEST_F(BrokenEnvironmentE2eTest, VanishingProcessesAndNamespacesDoNotFailCollectors) {
  char tmpl[] = "/tmp/ipcwatch-churn-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string fifo = dir + "/churn_fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\nscan:\n  directories: [" + dir +
                     "]\n");
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();

  const pid_t churn = fork();
  if (churn == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
      const pid_t child = fork();
      if (child == 0) {
        (void)unshare(CLONE_NEWNET | CLONE_NEWIPC);
        (void)open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
        _exit(0);
      }
      waitpid(child, nullptr, 0);
    }
  }
  ASSERT_GT(churn, 0);
  const std::vector<std::string> collectors = {"unix_sockets", "ipc_files", "sysv_ipc",
                                               "posix_ipc", "self"};
  int scrapes = 0;
  for (int i = 0; i < 40; ++i) {
    const auto samples = scrape(port);
    ASSERT_FALSE(samples.empty()) << agent.log();
    ++scrapes;
    for (const auto& collector : collectors) {
      EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", collector}}), 1)
          << collector << " failed on scrape " << i << "\n"
          << agent.log();
    }
  }
  kill(churn, SIGKILL);
  waitpid(churn, nullptr, 0);
  runCommand("rm -rf '" + dir + "'");
  EXPECT_EQ(scrapes, 40);
}

}  // namespace
}  // namespace ipcwatch::testing
