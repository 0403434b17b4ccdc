// End to end: which backend each probe program runs on. Programs with a BPF trampoline variant
// take it where the kernel can attach one (ftrace can hook the function), else their syscall
// tracepoint; IPCWATCH_PROBE_BACKEND=tracepoint forces the tracepoints. The counts are the same
// on both: the guest suite runs the probe suites once per backend (scripts/vm/guest.sh).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <thread>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

// The inode number of this process's network namespace, as the netns label shows it.
std::string ownNetns() {
  char buf[64] = {};
  const ssize_t n = readlink("/proc/self/ns/net", buf, sizeof buf - 1);
  const std::string text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);  // "net:[4026531840]"
  const auto open = text.find('[');
  return open == std::string::npos ? "" : text.substr(open + 1, text.size() - open - 2);
}

TEST(ProbeBackendE2E, UnixSockTakesTrampolinesWhereTheKernelHasThem) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n" + std::string(kCommOnlyYaml));
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
      sampleValue(
          samples, "ipc_unix_connect_errors_total",
          withOwnComm(
              {{"errno", "ENOENT"}, {"netns", ownNetns()}, {"netns_name", ""}, {"path", path}})),
      1)
      << response->body;
}

// fifo_open runs on two trampolines or on its four tracepoints, never on a mix. On the trampolines
// it sees what the tracepoints of open and openat cannot: an openat2(2).
TEST(ProbeBackendE2E, FifoOpenTakesTrampolinesAndThenSeesOpenat2) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  const bool trampolines =
      !tracepointsForced() && ftraceCanHook("fifo_open") && ftraceCanHook("do_filp_open");
  char tmpl[] = "/tmp/ipcwatch-backend-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::unique_ptr<const std::string, void (*)(const std::string*)> cleanup(
      &dir, [](const std::string* path) { std::filesystem::remove_all(*path); });
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n" + std::string(kCommOnlyYaml));
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();

  const std::string by_openat2 = dir + "/openat2";
  const std::string by_openat = dir + "/openat";
  ASSERT_EQ(mkfifo(by_openat2.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(by_openat.c_str(), 0600), 0);
  open_how how{};
  how.flags = O_WRONLY | O_NONBLOCK;
  ASSERT_EQ(syscall(SYS_openat2, AT_FDCWD, by_openat2.c_str(), &how, sizeof how), -1);
  ASSERT_EQ(errno, ENXIO);
  ASSERT_EQ(openat(AT_FDCWD, by_openat.c_str(), O_WRONLY | O_NONBLOCK), -1);
  ASSERT_EQ(errno, ENXIO);

  // The openat is counted on both backends; once it shows, a scrape that starts afterwards sees
  // every count made before it.
  const auto scrape = [&] {
    const auto response = httpRequest(port, "GET", "/metrics");
    return response && response->status == 200 ? parseExposition(response->body)
                                               : std::map<std::string, double>{};
  };
  const std::string metric = "ipc_fifo_open_errors_total";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (findSample(scrape(), metric, withOwnComm({{"errno", "ENXIO"}, {"path", by_openat}})) !=
             1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);  // polling interval
  }
  const auto samples = scrape();
  EXPECT_EQ(findSample(samples, metric, withOwnComm({{"errno", "ENXIO"}, {"path", by_openat}})), 1)
      << agent.log();
  const auto openat2 =
      findSample(samples, metric, withOwnComm({{"errno", "ENXIO"}, {"path", by_openat2}}));
  if (trampolines) {
    EXPECT_EQ(openat2, 1);
  } else {
    EXPECT_FALSE(openat2) << "the tracepoints of open and openat cannot see an openat2";
  }
  for (const char* syscall : {"openat", "open"}) {
    const std::string enter = std::string("fifo_enter_") + syscall;
    const std::string exit = std::string("fifo_exit_") + syscall;
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_backend",
                         {{"probe", enter}, {"backend", trampolines ? "fentry" : "tracepoint"}}),
              1)
        << enter;
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_backend",
                         {{"probe", exit}, {"backend", trampolines ? "fexit" : "tracepoint"}}),
              1)
        << exit;
  }
}

// probes.syscall_tracepoints: false keeps every program off the syscall path: the syscall
// families run on their trampolines where the kernel has them, and are degraded (said in the log)
// where it has not; the BTF tracepoints (SIGPIPE, process exit, io_uring) run either way. No
// count is lost of what still runs: a process's EPIPE writes are exact on the trampolines and its
// SIGPIPEs exact everywhere.
TEST(ProbeBackendE2E, SyscallTracepointsOffKeepsOnlyProgramsOffTheSyscallPath) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\nlabels:\n  comm: 100000\n"
      "probes:\n  syscall_tracepoints: false\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  const std::string comm = uniqueComm("iw-nosyscall-");
  ASSERT_EQ(runAs(comm, [] { return writeToBrokenPipe(3); }), 0);

  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response && response->status == 200);
  const auto samples = parseExposition(response->body);
  // The broken_pipe object's variants attach all together or not at all: EPIPE's and the
  // pipe limits'.
  const bool epipe_trampolines =
      !tracepointsForced() && ftraceCanHook("__x64_sys_write") &&
      ftraceCanHook("__x64_sys_splice") && ftraceCanHook("__x64_sys_sendfile64") &&
      ftraceCanHook("__x64_sys_pipe") && ftraceCanHook("__x64_sys_pipe2") &&
      ftraceCanHook("__x64_sys_fcntl");
  const bool unix_trampolines =
      expectedBackend("__sys_connect") == "fexit" && expectedBackend("__sys_bind") == "fexit";
  const bool fifo_trampolines =
      !tracepointsForced() && ftraceCanHook("fifo_open") && ftraceCanHook("do_filp_open");
  const auto expect = [&](const std::string& program, bool runs, const std::string& backend) {
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", program}}), runs ? 1 : 0)
        << program;
    if (runs) {
      EXPECT_EQ(
          findSample(samples, "ipcwatch_probe_backend", {{"probe", program}, {"backend", backend}}),
          1)
          << program << " on " << backend;
    } else {
      EXPECT_NE(agent.log().find("program " + program +
                                 " degraded: on a syscall tracepoint, "
                                 "which probes.syscall_tracepoints: false rules out"),
                std::string::npos)
          << agent.log();
    }
  };
  for (const char* syscall :
       {"write", "writev", "sendto", "sendmsg", "sendmmsg", "splice", "sendfile"}) {
    expect(std::string("epipe_") + syscall, epipe_trampolines, "fexit");
  }
  for (const char* syscall : {"pipe", "pipe2", "fcntl"}) {
    expect(std::string("pipe_limit_") + syscall, epipe_trampolines, "fexit");
  }
  expect("unix_exit_connect", unix_trampolines, "fexit");
  expect("unix_exit_bind", unix_trampolines, "fexit");
  for (const char* syscall : {"openat", "open"}) {
    expect(std::string("fifo_enter_") + syscall, fifo_trampolines, "fentry");
    expect(std::string("fifo_exit_") + syscall, fifo_trampolines, "fexit");
  }
  expect("sigpipe_generate", true, "tp_btf");
  expect("sigpipe_exit", true, "tp_btf");
  if (kernelAtLeast(5, 19)) {
    expect("epipe_io_uring", true, "tp_btf");
  }

  EXPECT_EQ(sampleValue(samples, "ipc_sigpipe_total", {{"comm", comm}, {"action", "ignored"}}), 3);
  if (epipe_trampolines) {
    EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "pipe"}}), 3);
  } else {
    EXPECT_EQ(findSample(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "pipe"}}),
              std::nullopt);
  }
}

}  // namespace
}  // namespace ipcwatch::testing
