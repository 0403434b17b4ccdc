// End to end: the pipe buffer limits, hit for real by an unprivileged user of the test's own
// with the limits lowered for the test (and restored after), and what the agent says of it:
// the kernel's page count for that user, the limits, and each limit event by the child's comm.
#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kPipeUid = 61250;  // no other process runs as this user
constexpr long kPageSize = 4096;
constexpr int kDefaultPages = 16;

constexpr const char* kConfig = R"(
web:
  listen_address: "127.0.0.1:0"
labels:
  comm: 100000
workload:
  labels: [comm]
)";

std::optional<long> readLimit(const std::string& name) {
  std::ifstream in("/proc/sys/fs/" + name);
  long value = 0;
  if (!(in >> value)) {
    return std::nullopt;
  }
  return value;
}

bool writeLimit(const std::string& name, long value) {
  std::ofstream out("/proc/sys/fs/" + name);
  out << value << "\n";
  out.close();
  return readLimit(name) == value;
}

class PipeLimitsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (BPF probes, the fs.pipe-user-pages sysctls, another uid)";
    }
    soft_ = readLimit("pipe-user-pages-soft");
    hard_ = readLimit("pipe-user-pages-hard");
    ASSERT_TRUE(soft_ && hard_) << "cannot read /proc/sys/fs/pipe-user-pages-*";
    char tmpl[] = "/tmp/ipcwatch-pipes-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
  }
  void TearDown() override {
    restoreLimits();
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }
  void restoreLimits() {
    if (soft_) {
      EXPECT_TRUE(writeLimit("pipe-user-pages-soft", *soft_));
    }
    if (hard_) {
      EXPECT_TRUE(writeLimit("pipe-user-pages-hard", *hard_));
    }
  }

  std::optional<long> soft_;
  std::optional<long> hard_;
  std::string dir_;
};

TEST_F(PipeLimitsE2E, AUserPastTheLimitsGetsSmallPipesThenNoneAndCannotGrowThem) {
  AgentProcess agent(kConfig);
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  auto samples = scrapeSamples(port);
  for (const char* program : {"pipe_limit_pipe", "pipe_limit_pipe2", "pipe_limit_fcntl"}) {
    ASSERT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", program}}), 1)
        << program << "\n"
        << agent.log();
  }
  ASSERT_TRUE(hasFamily(samples, "ipc_pipe_user_pages"))
      << "the host snapshot has no per-user pipe count (not on the BPF task iterator?)\n"
      << agent.log();

  // Two default pipes fit under the soft limit; past it every pipe is small, until the hard
  // limit refuses one.
  constexpr long kSoft = 2 * kDefaultPages;
  constexpr long kHard = 4 * kDefaultPages;
  ASSERT_TRUE(writeLimit("pipe-user-pages-soft", kSoft));
  ASSERT_TRUE(writeLimit("pipe-user-pages-hard", kHard));
  const std::string comm = uniqueComm("pipelim");
  const std::string results = dir_ + "/results";
  auto child = std::make_unique<HeldChild>(comm, [results] {
    if (setgroups(0, nullptr) != 0 || setgid(kPipeUid) != 0 || setuid(kPipeUid) != 0) {
      return 100;
    }
    long pages = 0;
    int reduced = 0;
    int created = 0;
    int first = -1;
    int failure = 0;
    for (int i = 0; i < 200; ++i) {
      int fds[2];
      if (pipe(fds) != 0) {
        failure = errno;
        break;
      }
      const int size = fcntl(fds[1], F_GETPIPE_SZ);
      if (size <= 0) {
        return 101;
      }
      ++created;
      pages += size / kPageSize;
      reduced += size < kDefaultPages * kPageSize ? 1 : 0;
      first = first < 0 ? fds[1] : first;
    }
    // Growing a default pipe past the soft limit: refused.
    const bool resize_refused = fcntl(first, F_SETPIPE_SZ, 1 << 20) == -1 && errno == EPERM;
    std::ofstream(results) << created << " " << pages << " " << reduced << " " << failure << " "
                           << resize_refused << "\n";
    return 0;
  });
  ASSERT_TRUE(child->ready()) << child->result();
  restoreLimits();  // what was charged stays charged; the host gets its limits back at once

  int created = 0;
  long pages = 0;
  int reduced = 0;
  int failure = 0;
  bool resize_refused = false;
  std::ifstream(results) >> created >> pages >> reduced >> failure >> resize_refused;
  ASSERT_EQ(failure, ENFILE) << "pipe() past the hard limit should fail with ENFILE";
  ASSERT_TRUE(resize_refused);
  ASSERT_EQ(created - reduced, 2);  // the two that fit
  ASSERT_GT(reduced, 0);
  ASSERT_LE(pages, kHard);

  const std::string uid = std::to_string(kPipeUid);
  std::map<std::string, double> last;
  const bool counted = scrapeUntilTrue(port, [&](const auto& s) {
    last = s;
    return findSample(s, "ipc_pipe_user_pages", {{"uid", uid}}) == static_cast<double>(pages) &&
           findSample(s, "ipc_pipe_limit_events_total",
                      {{"comm", comm}, {"event", "reduced_buffer"}}) == reduced &&
           findSample(s, "ipc_pipe_limit_events_total",
                      {{"comm", comm}, {"event", "create_enfile"}}) == 1 &&
           findSample(s, "ipc_pipe_limit_events_total",
                      {{"comm", comm}, {"event", "resize_eperm"}}) == 1;
  });
  EXPECT_TRUE(counted) << "pages " << pages << " reduced " << reduced << "; got pages "
                       << findSample(last, "ipc_pipe_user_pages", {{"uid", uid}}).value_or(-1)
                       << ", reduced "
                       << findSample(last, "ipc_pipe_limit_events_total",
                                     {{"comm", comm}, {"event", "reduced_buffer"}})
                              .value_or(-1)
                       << "\n"
                       << agent.log();
  EXPECT_EQ(findSample(last, "ipc_pipe_limit", {{"resource", "user_pages_soft"}}),
            static_cast<double>(*soft_));
  EXPECT_EQ(findSample(last, "ipc_pipe_limit", {{"resource", "user_pages_hard"}}),
            static_cast<double>(*hard_));
  EXPECT_EQ(findSample(last, "ipc_pipe_limit", {{"resource", "max_size_bytes"}}),
            static_cast<double>(readLimit("pipe-max-size").value_or(-1)));

  // The user's pipes closed with its process: the kernel no longer charges it anything.
  child->stop();
  EXPECT_TRUE(scrapeUntilTrue(port, [&](const auto& s) {
    return !findSample(s, "ipc_pipe_user_pages", {{"uid", uid}});
  }));
}

}  // namespace
}  // namespace ipcwatch::testing
