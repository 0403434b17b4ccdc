// End to end: which backend each probe program runs on. Programs with a BPF trampoline variant
// take it where the kernel can attach one (ftrace can hook the function), else their syscall
// tracepoint; IPCWATCH_PROBE_BACKEND=tracepoint forces the tracepoints. The counts are the same
// on both: the guest suite runs the probe suites once per backend (scripts/vm/guest.sh).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

// Whether ftrace can hook `function`, read from tracefs independently of the agent: what a BPF
// trampoline needs. False on a kernel built without ftrace.
bool ftraceCanHook(const std::string& function) {
  for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::ifstream in(std::string(dir) + "/available_filter_functions");
    if (!in) {
      continue;
    }
    for (std::string line; std::getline(in, line);) {
      if (line == function || line.rfind(function + " ", 0) == 0) {
        return true;
      }
    }
    return false;
  }
  return false;
}

// The inode number of this process's network namespace, as the netns label shows it.
std::string ownNetns() {
  char buf[64] = {};
  const ssize_t n = readlink("/proc/self/ns/net", buf, sizeof buf - 1);
  const std::string text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);  // "net:[4026531840]"
  const auto open = text.find('[');
  return open == std::string::npos ? "" : text.substr(open + 1, text.size() - open - 2);
}

std::string expectedBackend(const std::string& function) {
  const char* forced = std::getenv("IPCWATCH_PROBE_BACKEND");
  if (forced != nullptr && std::string(forced) == "tracepoint") {
    return "tracepoint";
  }
  return ftraceCanHook(function) ? "fexit" : "tracepoint";
}

TEST(ProbeBackendE2E, UnixSockTakesTrampolinesWhereTheKernelHasThem) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  // One failed connect() of our own, counted exactly once on whichever backend runs.
  const std::string path = "/tmp/ipcwatch-backend-" + std::to_string(getpid()) + ".sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  ASSERT_NE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  close(fd);

  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response && response->status == 200);
  const auto samples = parseExposition(response->body);
  for (const auto& [program, function] :
       {std::pair<std::string, std::string>{"unix_exit_connect", "__sys_connect"},
        {"unix_exit_bind", "__sys_bind"}}) {
    const std::string backend = expectedBackend(function);
    EXPECT_EQ(
        findSample(samples, "ipcwatch_probe_backend", {{"probe", program}, {"backend", backend}}),
        1)
        << program << " should run on " << backend << "\n"
        << response->body;
  }
  EXPECT_EQ(
      sampleValue(samples, "ipc_unix_connect_errors_total",
                  {{"errno", "ENOENT"}, {"netns", ownNetns()}, {"netns_name", ""}, {"path", path}}),
      1)
      << response->body;
}

}  // namespace
}  // namespace ipcwatch::testing
