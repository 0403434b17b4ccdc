// End to end: the real ipcwatch binary, real syscalls, exact counter deltas for our own comm.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <liburing.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kConfig = R"(
web:
  listen_address: "127.0.0.1:0"
labels:
  comm: 100000
workload:
  labels: [comm]
)";

// The EPIPE programs of the syscalls and the x86-64 entry points their fexit variants hook.
const std::pair<const char*, const char*> kSyscallPrograms[] = {
    {"epipe_write", "__x64_sys_write"},        {"epipe_writev", "__x64_sys_writev"},
    {"epipe_sendto", "__x64_sys_sendto"},      {"epipe_sendmsg", "__x64_sys_sendmsg"},
    {"epipe_sendmmsg", "__x64_sys_sendmmsg"},  {"epipe_splice", "__x64_sys_splice"},
    {"epipe_sendfile", "__x64_sys_sendfile64"}};

// io_uring_complete hands its programs the request since 5.19; before, epipe_io_uring is
// degraded (the agent says why).
bool ioUringProgramRuns() {
  return kernelAtLeast(5, 19);
}

// Every program of the family that attaches on this kernel.
std::vector<std::string> attachedPrograms() {
  std::vector<std::string> names;
  for (const auto& [program, function] : kSyscallPrograms) {
    names.emplace_back(program);
  }
  if (ioUringProgramRuns()) {
    names.emplace_back("epipe_io_uring");
  }
  names.emplace_back("sigpipe_generate");
  names.emplace_back("sigpipe_exit");
  return names;
}

// Child-side helpers: return false (and the child exits non-zero) when the kernel did not
// answer as the test expects, so a wrong setup cannot pass as "no events".
bool expectEpipe(ssize_t ret) {
  return ret == -1 && errno == EPIPE;
}

bool writesToBrokenPipe(int writes, int writevs, int splices) {
  int fds[2];
  if (pipe(fds) != 0) {
    return false;
  }
  close(fds[0]);
  char byte = 'x';
  for (int i = 0; i < writes; ++i) {
    if (!expectEpipe(write(fds[1], &byte, 1)))
      return false;
  }
  iovec iov{&byte, 1};
  for (int i = 0; i < writevs; ++i) {
    if (!expectEpipe(writev(fds[1], &iov, 1)))
      return false;
  }
  int src[2];
  if (pipe(src) != 0) {
    return false;
  }
  for (int i = 0; i < splices; ++i) {
    if (write(src[1], &byte, 1) != 1)
      return false;
    if (!expectEpipe(splice(src[0], nullptr, fds[1], nullptr, 1, 0)))
      return false;
    if (read(src[0], &byte, 1) != 1)
      return false;  // drain what splice left behind
  }
  close(src[0]);
  close(src[1]);
  close(fds[1]);
  return true;
}

bool writesToBrokenFifo(const std::string& path, int writes) {
  if (mkfifo(path.c_str(), 0600) != 0) {
    return false;
  }
  // A non-blocking reader lets the writer open without waiting; closing it leaves no reader.
  const int reader = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  const int writer = open(path.c_str(), O_WRONLY);
  unlink(path.c_str());
  if (reader < 0 || writer < 0) {
    return false;
  }
  close(reader);
  char byte = 'x';
  for (int i = 0; i < writes; ++i) {
    if (!expectEpipe(write(writer, &byte, 1)))
      return false;
  }
  close(writer);
  return true;
}

bool sendsOnUnixSocket(int type, int sends, int sendmsgs, int sendmmsgs) {
  int sv[2];
  if (socketpair(AF_UNIX, type, 0, sv) != 0) {
    return false;
  }
  close(sv[1]);
  char byte = 'x';
  for (int i = 0; i < sends; ++i) {
    if (!expectEpipe(send(sv[0], &byte, 1, MSG_NOSIGNAL)))
      return false;
  }
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  for (int i = 0; i < sendmsgs; ++i) {
    if (!expectEpipe(sendmsg(sv[0], &msg, MSG_NOSIGNAL)))
      return false;
  }
  mmsghdr mmsg{};
  mmsg.msg_hdr = msg;
  for (int i = 0; i < sendmmsgs; ++i) {
    if (!expectEpipe(sendmmsg(sv[0], &mmsg, 1, MSG_NOSIGNAL)))
      return false;
  }
  close(sv[0]);
  return true;
}

// sendfile() of a regular file's bytes into a pipe whose reader is gone.
bool sendfilesToBrokenPipe(int sendfiles) {
  char path[] = "/tmp/ipcwatch-sendfile-XXXXXX";
  const int in = mkstemp(path);
  if (in < 0) {
    return false;
  }
  unlink(path);
  int fds[2];
  if (write(in, "x", 1) != 1 || pipe(fds) != 0) {
    return false;
  }
  close(fds[0]);
  for (int i = 0; i < sendfiles; ++i) {
    off_t offset = 0;
    if (!expectEpipe(sendfile(fds[1], in, &offset, 1)))
      return false;
  }
  close(fds[1]);
  close(in);
  return true;
}

// io_uring writes to a pipe and sends on a unix stream socket whose peers are gone: no write or
// send syscall is made, each request completes with -EPIPE.
bool ioUringWritesToBrokenPeers(int writes, int sends) {
  io_uring ring{};
  if (io_uring_queue_init(8, &ring, 0) != 0) {
    return false;
  }
  int fds[2];
  int sv[2];
  if (pipe(fds) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return false;
  }
  close(fds[0]);
  close(sv[1]);
  char byte = 'x';
  bool ok = true;
  for (int i = 0; ok && i < writes + sends; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {
      ok = false;
      break;
    }
    if (i < writes) {
      io_uring_prep_write(sqe, fds[1], &byte, 1, 0);
    } else {
      io_uring_prep_send(sqe, sv[0], &byte, 1, MSG_NOSIGNAL);
    }
    io_uring_cqe* cqe = nullptr;
    ok = io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0 &&
         cqe->res == -EPIPE;
    if (cqe != nullptr) {
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  io_uring_queue_exit(&ring);
  close(fds[1]);
  close(sv[0]);
  return ok;
}

// send() after shutdown(SHUT_WR) fails with EPIPE at once, with no timing involved.
bool sendsOnShutdownTcp(int sendtos) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return false;
  }
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      shutdown(client, SHUT_WR) != 0) {
    return false;
  }
  char byte = 'x';
  for (int i = 0; i < sendtos; ++i) {
    if (!expectEpipe(sendto(client, &byte, 1, MSG_NOSIGNAL, nullptr, 0)))
      return false;
  }
  close(client);
  close(listener);
  return true;
}

class BrokenPipeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      return;
    }
    agent_ = std::make_unique<AgentProcess>(kConfig);
    port_ = agent_->waitForPort(30s);
  }
  static void TearDownTestSuite() { agent_.reset(); }

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
    }
    ASSERT_NE(port_, 0) << "agent did not start:\n" << agent_->log();
    ASSERT_TRUE(waitForAllProbes()) << "probes not attached:\n" << agent_->log();
  }

  std::map<std::string, double> scrape() {
    auto response = httpRequest(port_, "GET", "/metrics");
    EXPECT_TRUE(response.has_value());
    EXPECT_EQ(response ? response->status : 0, 200);
    return response ? parseExposition(response->body) : std::map<std::string, double>{};
  }

  bool waitForAllProbes() {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < end) {
      const auto samples = scrape();
      bool all = true;
      for (const auto& program : attachedPrograms()) {
        all = all && findSample(samples, "ipcwatch_probe_attached", {{"probe", program}}) == 1;
      }
      if (all) {
        return true;
      }
      std::this_thread::sleep_for(100ms);  // polling interval
    }
    return false;
  }

  static std::unique_ptr<AgentProcess> agent_;
  static int port_;
};

std::unique_ptr<AgentProcess> BrokenPipeE2E::agent_;
int BrokenPipeE2E::port_ = 0;

// Each program says how it is attached: the EPIPE programs of the syscalls all on fexit where
// the kernel can hook every entry point they need (else all on the syscall exit tracepoints), the
// io_uring and SIGPIPE ones on BTF-typed raw tracepoints (io_uring_complete, signal_generate,
// sched_process_exit).
TEST_F(BrokenPipeE2E, EachProgramReportsItsBackend) {
  const auto samples = scrape();
  bool trampolines = !tracepointsForced();
  for (const auto& [program, function] : kSyscallPrograms) {
    trampolines = trampolines && ftraceCanHook(function);
  }
  for (const auto& program : attachedPrograms()) {
    const bool syscall = program != "epipe_io_uring" && program.starts_with("epipe_");
    const std::string backend = !syscall ? "tp_btf" : trampolines ? "fexit" : "tracepoint";
    EXPECT_EQ(
        findSample(samples, "ipcwatch_probe_backend", {{"probe", program}, {"backend", backend}}),
        1)
        << program << " on " << backend;
  }
  if (!ioUringProgramRuns()) {
    EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", "epipe_io_uring"}}), 0);
    EXPECT_NE(agent_->log().find("does not pass the request"), std::string::npos) << agent_->log();
  }
}

// sendfile(2) is a syscall of its own, on either backend.
TEST_F(BrokenPipeE2E, CountsSendfileEpipe) {
  const std::string comm = uniqueComm("iw-sendfile-");
  const int status = runAs(comm, [&] {
    signal(SIGPIPE, SIG_IGN);
    return sendfilesToBrokenPipe(3) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  const auto samples = scrape();
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "pipe"}}), 3);
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "other"}}), 0);
}

// io_uring requests make no write or send syscall: what no syscall probe sees, counted on the
// request's completion, for the task that submitted it.
TEST_F(BrokenPipeE2E, CountsIoUringEpipe) {
  if (!ioUringProgramRuns()) {
    GTEST_SKIP() << "io_uring_complete passes the request since 5.19; this kernel is older";
  }
  const std::string comm = uniqueComm("iw-uring-");
  const int status = runAs(comm, [&] {
    signal(SIGPIPE, SIG_IGN);
    return ioUringWritesToBrokenPeers(4, 5) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  const auto samples = scrape();
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "pipe"}}), 4);
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "unix_stream"}}), 5);
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", "other"}}), 0);
}

TEST_F(BrokenPipeE2E, CountsEpipeByKindForOwnComm) {
  const std::string comm = uniqueComm("iw-epipe-");
  char dir[] = "/tmp/ipcwatch-fifo-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/fifo";

  const int status = runAs(comm, [&] {
    signal(SIGPIPE, SIG_IGN);
    if (!writesToBrokenPipe(3, 4, 5))
      return 10;
    if (!writesToBrokenFifo(fifo, 6))
      return 11;
    if (!sendsOnUnixSocket(SOCK_STREAM, 7, 8, 0))
      return 12;
    if (!sendsOnUnixSocket(SOCK_SEQPACKET, 0, 0, 9))
      return 13;
    if (!sendsOnShutdownTcp(10))
      return 14;
    return 0;
  });
  rmdir(dir);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  const auto samples = scrape();
  auto epipe = [&](const char* kind) {
    return sampleValue(samples, "ipc_epipe_total", {{"comm", comm}, {"kind", kind}});
  };
  EXPECT_EQ(epipe("pipe"), 3 + 4 + 5);
  EXPECT_EQ(epipe("fifo"), 6);
  EXPECT_EQ(epipe("unix_stream"), 7 + 8);
  EXPECT_EQ(epipe("unix_seqpacket"), 9);
  EXPECT_EQ(epipe("tcp"), 10);
  EXPECT_EQ(epipe("other"), 0);
  // Pipes and FIFOs raise SIGPIPE on every EPIPE; the sockets were told MSG_NOSIGNAL.
  EXPECT_EQ(sampleValue(samples, "ipc_sigpipe_total", {{"comm", comm}, {"action", "ignored"}}),
            3 + 4 + 5 + 6);
  for (const char* action : {"default", "handled", "blocked"}) {
    EXPECT_EQ(sampleValue(samples, "ipc_sigpipe_total", {{"comm", comm}, {"action", action}}), 0)
        << action;
  }
  // A comm's series appears at its first SIGPIPE death (the family may not exist yet at all).
  EXPECT_EQ(findSample(samples, "ipc_sigpipe_deaths_total", {{"comm", comm}}), std::nullopt);
}

void onSigpipe(int) {}

TEST_F(BrokenPipeE2E, ClassifiesWhatBecameOfEachSigpipe) {
  const std::string dies = uniqueComm("iw-dies-");
  const std::string handles = uniqueComm("iw-handles-");
  const std::string blocks = uniqueComm("iw-blocks-");
  const std::string ignores = uniqueComm("iw-ignores-");

  const int died = runAs(dies, [] { return writesToBrokenPipe(1, 0, 0) ? 0 : 10; });
  ASSERT_TRUE(WIFSIGNALED(died) && WTERMSIG(died) == SIGPIPE) << "status " << died;

  const int handled = runAs(handles, [] {
    struct sigaction sa {};
    sa.sa_handler = onSigpipe;
    sigaction(SIGPIPE, &sa, nullptr);
    return writesToBrokenPipe(2, 0, 0) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(handled) && WEXITSTATUS(handled) == 0) << "status " << handled;

  const int blocked = runAs(blocks, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    return writesToBrokenPipe(3, 0, 0) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(blocked) && WEXITSTATUS(blocked) == 0) << "status " << blocked;

  const int ignored = runAs(ignores, [] {
    signal(SIGPIPE, SIG_IGN);
    return writesToBrokenPipe(4, 0, 0) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(ignored) && WEXITSTATUS(ignored) == 0) << "status " << ignored;

  const auto samples = scrape();
  auto sigpipe = [&](const std::string& comm, const char* action) {
    return sampleValue(samples, "ipc_sigpipe_total", {{"comm", comm}, {"action", action}});
  };
  EXPECT_EQ(sigpipe(dies, "default"), 1);
  EXPECT_EQ(sigpipe(handles, "handled"), 2);
  EXPECT_EQ(sigpipe(blocks, "blocked"), 3);
  EXPECT_EQ(sigpipe(ignores, "ignored"), 4);
  EXPECT_EQ(sampleValue(samples, "ipc_sigpipe_deaths_total", {{"comm", dies}}), 1);
  for (const auto& survivor : {handles, blocks, ignores}) {
    EXPECT_EQ(sampleValue(samples, "ipc_sigpipe_deaths_total", {{"comm", survivor}}), 0)
        << survivor;
  }
  // The write that killed the process still returned EPIPE in the kernel.
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", dies}, {"kind", "pipe"}}), 1);
  EXPECT_EQ(sampleValue(samples, "ipc_epipe_total", {{"comm", blocks}, {"kind", "pipe"}}), 3);
}

TEST_F(BrokenPipeE2E, ServesLandingPageHealthAndValidExposition) {
  const auto landing = httpRequest(port_, "GET", "/");
  ASSERT_TRUE(landing);
  EXPECT_EQ(landing->status, 200);
  EXPECT_NE(landing->body.find("href=\"metrics\""), std::string::npos);

  const auto health = httpRequest(port_, "GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  const auto missing = httpRequest(port_, "GET", "/no-such-page");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  const auto metrics = httpRequest(port_, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->headers.find("text/plain; version=0.0.4"), std::string::npos);
  const auto samples = parseExposition(metrics->body);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "broken_pipe"}}), 1);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "sigpipe"}}), 1);

  char path[] = "/tmp/ipcwatch-metrics-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, metrics->body.data(), metrics->body.size()),
            static_cast<ssize_t>(metrics->body.size()));
  close(fd);
  const auto [code, output] = runCommand(std::string("promtool check metrics < ") + path);
  unlink(path);
  EXPECT_EQ(code, 0) << output;
}

// comm is chosen by the process itself: quotes, backslashes, newlines and bytes that are not
// UTF-8 must come out as one escaped, valid label value.
TEST_F(BrokenPipeE2E, HostileCommIsEscapedInTheExposition) {
  const std::string prefix = uniqueComm("iwh");  // 9 bytes
  const std::string comm = prefix + "\"\\\n\xff";
  const int status = runAs(comm, [] {
    signal(SIGPIPE, SIG_IGN);
    return writesToBrokenPipe(2, 0, 0) ? 0 : 10;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  const auto metrics = httpRequest(port_, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  // sanitised to  PREFIX"\\x0a\xff  and then escaped by the exposition format.
  const std::string expected =
      "ipc_epipe_total{comm=\"" + prefix + "\\\"\\\\\\\\x0a\\\\xff\",kind=\"pipe\"} 2\n";
  EXPECT_NE(metrics->body.find(expected), std::string::npos) << expected;
}

TEST_F(BrokenPipeE2E, StopsCleanlyOnSigterm) {
  AgentProcess second(kConfig);
  ASSERT_NE(second.waitForPort(30s), 0) << second.log();
  const auto status = second.stop(5s);
  ASSERT_TRUE(status.has_value()) << "agent did not stop within 5 s";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << second.log();
}

}  // namespace
}  // namespace ipcwatch::testing
