// End to end: blocked FIFO opens, FIFO open errors and failed unix connect()/bind(), from real
// syscalls of the test's own processes, scraped from the real binary.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <memory>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using Samples = std::map<std::string, double>;

std::string makeTempDir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return "";
  }
  return tmpl;
}

std::string inodeOfNamespace(pid_t pid, const char* type) {
  const std::string link = "/proc/" + std::to_string(pid) + "/ns/" + type;
  char buf[64] = {};
  const ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) {
    return "";
  }
  const std::string text(buf, static_cast<std::size_t>(n));  // "net:[4026531840]"
  const auto open = text.find('[');
  return text.substr(open + 1, text.size() - open - 2);
}

sockaddr_un unixAddress(const std::string& name, socklen_t& len) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (!name.empty() && name[0] == '@') {
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  } else {
    std::memcpy(addr.sun_path, name.data(), name.size());
    len = static_cast<socklen_t>(sizeof(addr));
  }
  return addr;
}

int connectErrno(const std::string& name) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  socklen_t len = 0;
  const sockaddr_un addr = unixAddress(name, len);
  const int r = connect(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = r == 0 ? 0 : errno;
  close(fd);
  return err;
}

int bindErrno(const std::string& name) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  socklen_t len = 0;
  const sockaddr_un addr = unixAddress(name, len);
  const int r = bind(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = r == 0 ? 0 : errno;
  close(fd);
  return err;
}

// A child blocked in open(path, flags) until a peer opens the FIFO; killed and reaped if the
// test ends first.
class BlockedOpen {
 public:
  BlockedOpen(const std::string& path, int flags) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(path.c_str(), flags);
      _exit(fd >= 0 ? 0 : 1);
    }
  }
  BlockedOpen(const BlockedOpen&) = delete;
  BlockedOpen& operator=(const BlockedOpen&) = delete;
  ~BlockedOpen() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for the open to return; true when it succeeded.
  bool reap() {
    int status = 0;
    const bool reaped = pid_ > 0 && waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_ = -1;
};

// A directory that stands for procfs and shows only the processes added to it (links to their
// /proc entries): an agent reading it resolves only those processes' opens, whatever else on
// the host is blocked on a FIFO.
class ProcessesOnlyProcfs {
 public:
  explicit ProcessesOnlyProcfs(std::string dir) : dir_(std::move(dir)) {
    if (mkdir(dir_.c_str(), 0755) != 0) {
      throw std::runtime_error("mkdir " + dir_ + ": " + std::strerror(errno));
    }
  }
  const std::string& path() const { return dir_; }
  bool add(pid_t pid) const {
    const std::string name = std::to_string(pid);
    return symlink(("/proc/" + name).c_str(), (dir_ + "/" + name).c_str()) == 0;
  }

 private:
  std::string dir_;
};

class FifoUnixE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
    }
    dir_ = makeTempDir("ipcwatch-fifo-e2e");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    agent_.reset();
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  void startAgent(const std::string& extra_yaml) {
    agent_ = std::make_unique<AgentProcess>(
        "web:\n  listen_address: \"127.0.0.1:0\"\nprobes:\n  fifo_open:\n"
        "    blocked_threshold_seconds: 0.2\n" +
        std::string(kCommOnlyYaml) + extra_yaml);
    port_ = agent_->waitForPort(30s);
    ASSERT_NE(port_, 0) << agent_->log();
    ASSERT_TRUE(waitFor([](const Samples& s) {
      for (const char* p : {"fifo_enter_openat", "fifo_exit_openat", "unix_exit_connect",
                            "unix_exit_bind"}) {
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

  std::string dir_;
  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

TEST_F(FifoUnixE2E, BlockedReaderIsWaitingThenCountedAsBlocked) {
  startAgent("");
  const std::string fifo = dir_ + "/opensips_fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const auto before = scrape();
  const std::map<std::string, std::string> read_labels = {{"mode", "read"}, {"path", fifo}};

  const pid_t reader = fork();
  if (reader == 0) {
    const int fd = open(fifo.c_str(), O_RDONLY);  // blocks: no writer yet
    _exit(fd >= 0 ? 0 : 1);
  }
  double first_wait = 0;
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    first_wait = findSample(s, "ipc_fifo_open_oldest_wait_seconds", read_labels).value_or(0);
    return findSample(s, "ipc_fifo_open_waiting", read_labels).value_or(0) == 1 && first_wait > 0;
  })) << agent_->log();
  // Still blocked at a later scrape, with a longer wait, and past the 0.2 s threshold.
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_waiting", read_labels).value_or(0) == 1 &&
           findSample(s, "ipc_fifo_open_oldest_wait_seconds", read_labels).value_or(0) > first_wait &&
           findSample(s, "ipc_fifo_open_oldest_wait_seconds", read_labels).value_or(0) > 0.25;
  }));
  // Not blocked yet: no series for the path (the family may not exist at all yet).
  EXPECT_EQ(findSample(before, "ipc_fifo_open_blocked_total", withOwnComm(read_labels)),
            std::nullopt);

  const int writer = open(fifo.c_str(), O_WRONLY);  // releases the reader
  ASSERT_GE(writer, 0);
  int status = 0;
  ASSERT_EQ(waitpid(reader, &status, 0), reader);
  close(writer);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_blocked_total", withOwnComm(read_labels)).value_or(0) == 1;
  })) << agent_->log();
  const auto after = scrape();
  // A gauge describes now: once nothing waits on the FIFO its series is gone.
  EXPECT_EQ(findSample(after, "ipc_fifo_open_waiting", read_labels), std::nullopt);
  EXPECT_EQ(sampleValue(after, "ipc_fifo_open_blocked_total",
                        withOwnComm({{"mode", "write"}, {"path", fifo}})),
            0);
  // The histogram has the observation in a bucket above 0.128 s; other processes of the host
  // do not block on FIFOs for that long during the test.
  auto slow = [](const Samples& s) {
    return sampleValue(s, "ipc_fifo_open_wait_seconds_bucket", {{"mode", "read"}, {"le", "+Inf"}}) -
           sampleValue(s, "ipc_fifo_open_wait_seconds_bucket", {{"mode", "read"}, {"le", "0.128"}});
  };
  EXPECT_EQ(slow(after) - slow(before), 1);
  EXPECT_GE(sampleValue(after, "ipc_fifo_open_wait_seconds_sum", {{"mode", "read"}}) -
                sampleValue(before, "ipc_fifo_open_wait_seconds_sum", {{"mode", "read"}}),
            0.25);
}

// Gauges describe now: the path cap of the waiting gauges is applied at each scrape. The FIFO
// waited on longest keeps its name, the others are summed in "other", and a FIFO blocked on
// after the earlier ones were released is reported by name.
TEST_F(FifoUnixE2E, WaitingGaugesAreCappedAtEachScrape) {
  const ProcessesOnlyProcfs procfs(dir_ + "/proc");
  startAgent("paths:\n  procfs: " + procfs.path() + "\nlabels:\n  path: 1\n");
  const std::string first_fifo = dir_ + "/first_fifo";
  const std::string second_fifo = dir_ + "/second_fifo";
  const std::string late_fifo = dir_ + "/late_fifo";
  for (const auto& fifo : {first_fifo, second_fifo, late_fifo}) {
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  }
  const std::map<std::string, std::string> first = {{"mode", "read"}, {"path", first_fifo}};
  const std::map<std::string, std::string> other = {{"mode", "read"}, {"path", "other"}};
  const std::map<std::string, std::string> overflow = {{"metric", "ipc_fifo_open_waiting"}};

  BlockedOpen first_reader(first_fifo, O_RDONLY);
  ASSERT_TRUE(procfs.add(first_reader.pid()));
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_waiting", first).value_or(0) == 1;
  })) << agent_->log();
  BlockedOpen second_reader(second_fifo, O_RDONLY);
  ASSERT_TRUE(procfs.add(second_reader.pid()));
  Samples s;
  ASSERT_TRUE(waitFor([&](const Samples& scraped) {
    s = scraped;
    return findSample(s, "ipc_fifo_open_waiting", other).value_or(0) == 1 &&
           findSample(s, "ipc_fifo_open_waiting", first).value_or(0) == 1;
  })) << agent_->log();
  EXPECT_EQ(s.count(sampleKey("ipc_fifo_open_waiting", {{"mode", "read"}, {"path", second_fifo}})),
            0u);
  ASSERT_EQ(s.count(sampleKey("ipc_fifo_open_oldest_wait_seconds", other)), 1u);
  EXPECT_GT(findSample(s, "ipc_fifo_open_oldest_wait_seconds", first),
            findSample(s, "ipc_fifo_open_oldest_wait_seconds", other));
  EXPECT_GT(findSample(s, "ipc_fifo_open_oldest_wait_seconds", other), 0);
  ASSERT_EQ(s.count(sampleKey("ipcwatch_label_overflow_total", overflow)), 1u);
  EXPECT_EQ(sampleValue(s, "ipcwatch_label_overflow_total", overflow), 1);

  // Both released (a writer opens each FIFO); then a new open blocks: it shows by name.
  const std::pair<const std::string*, BlockedOpen*> readers[] = {{&first_fifo, &first_reader},
                                                                 {&second_fifo, &second_reader}};
  for (const auto& [path, blocked] : readers) {
    const int writer = open(path->c_str(), O_WRONLY | O_NONBLOCK);
    ASSERT_GE(writer, 0) << *path;
    ASSERT_TRUE(blocked->reap()) << *path;
    close(writer);
  }
  BlockedOpen late_reader(late_fifo, O_RDONLY);
  ASSERT_TRUE(procfs.add(late_reader.pid()));
  ASSERT_TRUE(waitFor([&](const Samples& scraped) {
    s = scraped;
    return findSample(s, "ipc_fifo_open_waiting", {{"mode", "read"}, {"path", late_fifo}}).value_or(0) == 1;
  })) << agent_->log();
  EXPECT_EQ(s.count(sampleKey("ipc_fifo_open_waiting", other)), 0u);
  EXPECT_EQ(s.count(sampleKey("ipc_fifo_open_waiting", first)), 0u);
  EXPECT_EQ(sampleValue(s, "ipcwatch_label_overflow_total", overflow), 1);
}

// Every open() adds an entry to the kernel's in-flight map, and its return deletes it. Under
// heavy open() traffic from other processes (new threads all the time, spread over the map's
// buckets), every scrape must still see the one blocked reader exactly once, and finish.
TEST_F(FifoUnixE2E, BlockedReaderIsCountedOnceUnderOpenChurn) {
  startAgent("");
  const std::string fifo = dir_ + "/churned_fifo";
  const std::string file = dir_ + "/churn_file";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(close(open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  const std::map<std::string, std::string> labels = {{"mode", "read"}, {"path", fifo}};
  BlockedOpen reader(fifo, O_RDONLY);
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_waiting", labels).value_or(0) == 1;
  })) << agent_->log();

  // Each churner forks short-lived openers (fresh thread ids) and counts their opens.
  constexpr int kChurners = 4;
  constexpr int kOpensPerChild = 2000;
  struct SharedCounters {  // written by the churners, read here
    std::size_t size = sizeof(std::atomic<std::uint64_t>) * kChurners;
    void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ~SharedCounters() {
      if (memory != MAP_FAILED) {
        munmap(memory, size);
      }
    }
  } counters;
  ASSERT_NE(counters.memory, MAP_FAILED);
  auto* opens = static_cast<std::atomic<std::uint64_t>*>(counters.memory);
  struct Churners {
    std::vector<pid_t> pids;
    ~Churners() {
      for (const pid_t pid : pids) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } churners;
  for (int i = 0; i < kChurners; ++i) {
    new (&opens[i]) std::atomic<std::uint64_t>(0);
    const pid_t pid = fork();
    if (pid == 0) {
      for (;;) {
        const pid_t opener = fork();
        if (opener == 0) {
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          for (int n = 0; n < kOpensPerChild; ++n) {
            close(open(file.c_str(), O_RDONLY));
          }
          _exit(0);
        }
        waitpid(opener, nullptr, 0);
        opens[i] += kOpensPerChild;
      }
    }
    ASSERT_GT(pid, 0);
    churners.pids.push_back(pid);
  }
  auto total = [&] {
    std::uint64_t sum = 0;
    for (int i = 0; i < kChurners; ++i) {
      sum += opens[i].load();
    }
    return sum;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (total() < 10 * kOpensPerChild * kChurners && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);  // polling interval
  }
  const std::uint64_t before = total();
  ASSERT_GE(before, 10u * kOpensPerChild * kChurners) << "the churners did not get going";

  for (int i = 0; i < 40; ++i) {
    const auto response = httpRequest(port_, "GET", "/metrics");
    ASSERT_TRUE(response && response->status == 200) << "scrape " << i << " did not complete";
    const auto samples = parseExposition(response->body);
    const std::string key = sampleKey("ipc_fifo_open_waiting", labels);
    ASSERT_EQ(samples.count(key), 1u) << "scrape " << i;
    ASSERT_EQ(samples.at(key), 1) << "scrape " << i;
  }
  EXPECT_GT(total(), before) << "the opens did not run during the scrapes";

  const int writer = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(writer, 0);
  EXPECT_TRUE(reader.reap());
  close(writer);
}

TEST_F(FifoUnixE2E, NonBlockingWriterWithoutReaderIsEnxio) {
  startAgent("");
  const std::string fifo = dir_ + "/no_reader";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(open(fifo.c_str(), O_WRONLY | O_NONBLOCK), -1);
    ASSERT_EQ(errno, ENXIO);
  }
  // ENXIO on something that is not a FIFO (a socket file) is not a FIFO error.
  const std::string sock = dir_ + "/not_a_fifo";
  const int s = socket(AF_UNIX, SOCK_STREAM, 0);
  socklen_t len = 0;
  const sockaddr_un addr = unixAddress(sock, len);
  ASSERT_EQ(bind(s, reinterpret_cast<const sockaddr*>(&addr), len), 0);
  ASSERT_EQ(open(sock.c_str(), O_WRONLY), -1);
  ASSERT_EQ(errno, ENXIO);
  close(s);

  ASSERT_TRUE(waitFor([&](const Samples& samples) {
    return findSample(samples, "ipc_fifo_open_errors_total",
                      withOwnComm({{"errno", "ENXIO"}, {"path", fifo}}))
               .value_or(0) == 3;
  })) << agent_->log();
  EXPECT_EQ(sampleValue(scrape(), "ipc_fifo_open_errors_total",
                        withOwnComm({{"errno", "ENXIO"}, {"path", sock}})),
            0);
}

TEST_F(FifoUnixE2E, PermissionDeniedOnAFifoIsCounted) {
  startAgent("");
  const std::string fifo = dir_ + "/root_only_fifo";
  const std::string file = dir_ + "/root_only_file";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const int fd = open(file.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(2);
    }
    const bool fifo_denied = open(fifo.c_str(), O_WRONLY | O_NONBLOCK) == -1 && errno == EACCES;
    const bool file_denied = open(file.c_str(), O_WRONLY) == -1 && errno == EACCES;
    _exit(fifo_denied && file_denied ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_errors_total",
                      withOwnComm({{"errno", "EACCES"}, {"path", fifo}}))
               .value_or(0) == 1;
  })) << agent_->log();
  // A regular file denied the same way is not a FIFO error.
  EXPECT_EQ(sampleValue(scrape(), "ipc_fifo_open_errors_total",
                        withOwnComm({{"errno", "EACCES"}, {"path", file}})),
            0);
}

TEST_F(FifoUnixE2E, WatchedPathsCountEveryErrno) {
  const std::string watched = dir_ + "/watched/";
  ASSERT_EQ(mkdir(watched.c_str(), 0755), 0);
  startAgent("watch_paths: [" + watched + "]\n");
  const std::string missing = watched + "opensips_fifo";
  const std::string unwatched = dir_ + "/unwatched_fifo";
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(open(missing.c_str(), O_WRONLY), -1);
    ASSERT_EQ(errno, ENOENT);
    ASSERT_EQ(open(unwatched.c_str(), O_WRONLY), -1);
  }
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return findSample(s, "ipc_fifo_open_errors_total",
                      withOwnComm({{"errno", "ENOENT"}, {"path", missing}}))
               .value_or(0) == 2;
  })) << agent_->log();
  EXPECT_EQ(sampleValue(scrape(), "ipc_fifo_open_errors_total",
                        withOwnComm({{"errno", "ENOENT"}, {"path", unwatched}})),
            0);
}

TEST_F(FifoUnixE2E, StaleSocketFileRefusesConnectAndBind) {
  startAgent("");
  const std::string path = dir_ + "/mi.sock";
  const pid_t server = fork();
  if (server == 0) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t len = 0;
    const sockaddr_un addr = unixAddress(path, len);
    // Exits without unlink(): the socket file stays behind, stale.
    _exit(bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0 && listen(fd, 4) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(server, &status, 0), server);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(connectErrno(path), ECONNREFUSED);
  }
  ASSERT_EQ(bindErrno(path), EADDRINUSE);
  ASSERT_EQ(connectErrno(dir_ + "/missing.sock"), ENOENT);

  const std::string netns = inodeOfNamespace(getpid(), "net");
  auto labels = [&](const std::string& p, const char* err) {
    return withOwnComm({{"errno", err}, {"netns", netns}, {"netns_name", ""}, {"path", p}});
  };
  const auto s = scrape();
  EXPECT_EQ(sampleValue(s, "ipc_unix_connect_errors_total", labels(path, "ECONNREFUSED")), 3);
  EXPECT_EQ(sampleValue(s, "ipc_unix_bind_errors_total", labels(path, "EADDRINUSE")), 1);
  EXPECT_EQ(sampleValue(s, "ipc_unix_connect_errors_total", labels(dir_ + "/missing.sock", "ENOENT")),
            1);
}

TEST_F(FifoUnixE2E, AbstractNameIsLabelledWithItsNamespace) {
  startAgent("");
  const std::string name = "@" + uniqueComm("ipcw-abs-");
  ASSERT_EQ(connectErrno(name), ECONNREFUSED);  // in our own namespace

  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWNET) != 0) {
      _exit(2);
    }
    const int first = connectErrno(name);
    const int second = connectErrno(name);
    char byte = (first == ECONNREFUSED && second == ECONNREFUSED) ? 'y' : 'n';
    (void)!write(ready[1], &byte, 1);
    (void)!read(done[0], &byte, 1);  // stay alive until the parent read our namespace
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  const std::string child_netns = inodeOfNamespace(child, "net");
  const std::string own_netns = inodeOfNamespace(getpid(), "net");
  ASSERT_NE(child_netns, own_netns);
  (void)!write(done[1], &byte, 1);
  waitpid(child, nullptr, 0);

  const auto s = scrape();
  auto value = [&](const std::string& netns) {
    return sampleValue(
        s, "ipc_unix_connect_errors_total",
        withOwnComm(
            {{"errno", "ECONNREFUSED"}, {"netns", netns}, {"netns_name", ""}, {"path", name}}));
  };
  EXPECT_EQ(value(own_netns), 1);
  EXPECT_EQ(value(child_netns), 2);
}

TEST_F(FifoUnixE2E, NamedNamespaceCarriesItsName) {
  startAgent("");
  const std::string netns = uniqueComm("ipcw-ns-");
  const auto [added, out] = runCommand("ip netns add " + netns);
  ASSERT_EQ(added, 0) << out;
  const std::string name = "@" + uniqueComm("ipcw-named-");
  const pid_t child = fork();
  if (child == 0) {
    const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      _exit(2);
    }
    _exit(connectErrno(name) == ECONNREFUSED ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  struct stat st {};
  ASSERT_EQ(stat(("/run/netns/" + netns).c_str(), &st), 0);
  const std::string inode = std::to_string(st.st_ino);
  const auto s = scrape();
  runCommand("ip netns delete " + netns);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(sampleValue(s, "ipc_unix_connect_errors_total",
                        withOwnComm({{"errno", "ECONNREFUSED"},
                                     {"netns", inode},
                                     {"netns_name", netns},
                                     {"path", name}})),
            1);
}

TEST_F(FifoUnixE2E, DistinctPathsPastTheCapFoldIntoOther) {
  startAgent("labels:\n  path: 50\n");
  constexpr int kPaths = 1000;
  for (int i = 0; i < kPaths; ++i) {
    const std::string fifo = dir_ + "/f" + std::to_string(i);
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    ASSERT_EQ(open(fifo.c_str(), O_WRONLY | O_NONBLOCK), -1);
  }
  const std::string metric = "ipc_fifo_open_errors_total";
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    double total = 0;
    for (const auto& [key, v] : s) {
      if (key.rfind(metric + "{", 0) == 0) {
        total += v;
      }
    }
    return total >= kPaths;
  })) << agent_->log();
  const auto s = scrape();
  int series = 0;
  for (const auto& [key, v] : s) {
    series += key.rfind(metric + "{", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(series, 51);  // 50 admitted paths + "other"
  EXPECT_EQ(sampleValue(s, metric, withOwnComm({{"errno", "ENXIO"}, {"path", "other"}})),
            kPaths - 50);
  EXPECT_EQ(sampleValue(s, "ipcwatch_label_overflow_total", {{"metric", metric}}), kPaths - 50);
}

// The kernel keeps a count per name (1 024 names here, the least it is sized for): names folded
// into "other" leave it at each scrape, so more distinct names than it holds are all counted,
// exactly, none lost, and a folded name that fails again counts again.
TEST_F(FifoUnixE2E, NamesPastTheCapNeverFillTheKernelsCountsMap) {
  startAgent("labels:\n  path: 2\n");
  const std::string metric = "ipc_fifo_open_errors_total";
  const auto total = [&](const Samples& s) {
    double sum = 0;
    for (const auto& [key, v] : s) {
      sum += key.rfind(metric + "{", 0) == 0 ? v : 0;
    }
    return sum;
  };
  constexpr int kRounds = 5;
  constexpr int kPerRound = 300;  // 1 500 names in all
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPerRound; ++i) {
      const std::string fifo = dir_ + "/r" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
      ASSERT_EQ(open(fifo.c_str(), O_WRONLY | O_NONBLOCK), -1);
    }
    const double expected = (round + 1) * kPerRound;
    ASSERT_TRUE(waitFor([&](const Samples& s) { return total(s) == expected; }))
        << "round " << round << ": " << total(scrape()) << " of " << expected << "\n"
        << agent_->log();
  }
  const std::string folded = dir_ + "/r4-7";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(open(folded.c_str(), O_WRONLY | O_NONBLOCK), -1);
    ASSERT_EQ(errno, ENXIO);
  }
  constexpr double kOther = kRounds * kPerRound - 2 + 3;
  ASSERT_TRUE(waitFor([&](const Samples& s) {
    return sampleValue(s, metric, withOwnComm({{"errno", "ENXIO"}, {"path", "other"}})) == kOther;
  })) << agent_->log();
  const auto s = scrape();
  EXPECT_EQ(total(s), kRounds * kPerRound + 3);
  EXPECT_EQ(findSample(s, "ipcwatch_events_lost_total", {{"probe", "fifo_open"}}), 0);
}

TEST_F(FifoUnixE2E, DisabledFamiliesAttachNothing) {
  agent_ = std::make_unique<AgentProcess>(
      "web:\n  listen_address: \"127.0.0.1:0\"\nprobes:\n  fifo_open:\n    enabled: false\n"
      "  unix_sock:\n    enabled: false\n");
  port_ = agent_->waitForPort(30s);
  ASSERT_NE(port_, 0) << agent_->log();
  ASSERT_TRUE(waitFor([](const Samples& s) {
    return findSample(s, "ipcwatch_probe_attached", {{"probe", "epipe_write"}}) == 1;
  }));
  const auto s = scrape();
  for (const auto& [key, v] : s) {
    EXPECT_EQ(key.find("probe=\"fifo_"), std::string::npos) << key;
    EXPECT_EQ(key.find("probe=\"unix_"), std::string::npos) << key;
  }
  // No program of the disabled families is loaded by this agent process: the programs it holds
  // are the prog_ids in its fdinfo, their names come from bpftool.
  std::set<std::string> ids;
  const std::string fdinfo = "/proc/" + std::to_string(agent_->pid()) + "/fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("prog_id:", 0) == 0) {
        ids.insert(line.substr(line.find_first_not_of(" \t", 8)));
      }
    }
  }
  int ours = 0;
  for (const auto& id : ids) {
    const auto [code, json] = runCommand("bpftool -j prog show id " + id);
    ASSERT_EQ(code, 0) << json;
    EXPECT_EQ(json.find("\"name\":\"fifo_"), std::string::npos) << json;
    EXPECT_EQ(json.find("\"name\":\"unix_exit"), std::string::npos) << json;
    ++ours;
  }
  // The broken_pipe, pipe limit and sigpipe programs, the SELinux tracepoint's, and the host
  // inventory's two iterators, which no probe setting switches off. The seven EPIPE programs
  // of the syscalls and the three pipe limit ones are loaded twice where their fexit variants
  // attach (the tracepoint programs are the fallback until then); the io_uring one is loaded
  // where the kernel's tracepoint passes the request.
  bool trampolines = !tracepointsForced();
  for (const char* function :
       {"__x64_sys_write", "__x64_sys_writev", "__x64_sys_sendto", "__x64_sys_sendmsg",
        "__x64_sys_sendmmsg", "__x64_sys_splice", "__x64_sys_sendfile64", "__x64_sys_pipe",
        "__x64_sys_pipe2", "__x64_sys_fcntl"}) {
    trampolines = trampolines && ftraceCanHook(function);
  }
  EXPECT_EQ(ours, (7 + 3) * (trampolines ? 2 : 1) + (kernelAtLeast(5, 19) ? 1 : 0) + 2 + 1 + 2);
}

}  // namespace
}  // namespace ipcwatch::testing
