// A fresh host has no tracefs mounted: the agent must mount it to attach classic tracepoints.
// The test recreates that host in a private mount namespace, so the real host is untouched.
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Runs in the agent's child before exec: a private mount namespace without tracefs or debugfs,
// and the tracepoint backend (where the kernel has BPF trampolines, fexit needs no tracefs).
int enterNamespaceWithoutTracefs() {
  if (setenv("IPCWATCH_PROBE_BACKEND", "tracepoint", 1) != 0) {
    return 89;
  }
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    return 90;
  }
  for (const char* path : {"/sys/kernel/debug/tracing", "/sys/kernel/debug", "/sys/kernel/tracing"}) {
    while (umount2(path, MNT_DETACH) == 0) {
    }
  }
  struct stat st {};
  if (stat("/sys/kernel/tracing/events", &st) == 0 || stat("/sys/kernel/debug/tracing", &st) == 0) {
    return 91;  // still visible: the test would prove nothing
  }
  return 0;
}

TEST(TracefsE2E, AgentMountsTracefsWhenTheHostHasNone) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs and create mount namespaces";
  }
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\nprobes:\n  sigpipe:\n"
                     "    enabled: false\n  broken_pipe:\n    syscalls: [write]\n",
                     {}, enterNamespaceWithoutTracefs);
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  EXPECT_THAT(agent.log(), HasSubstr("mounted tracefs at /sys/kernel/tracing"));
  const auto metrics = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  const auto samples = parseExposition(metrics->body);
  EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}), 1)
      << agent.log();
  EXPECT_EQ(samples.count(sampleKey("ipcwatch_probe_attached", {{"probe", "sigpipe_generate"}})),
            0u);
}

}  // namespace
}  // namespace ipcwatch::testing
