// End to end, in-process: the unix_sockets and ipc_files collectors over real sockets, FIFOs and
// network namespaces that the tests create, asserting exact values for those objects only.
#include <fcntl.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "collectors/ipc_files_collector.h"
#include "collectors/unix_socket_collector.h"
#include "config/config.h"
#include "inventory/host_snapshot.h"
#include "inventory/unix_socket_inventory.h"
#include "metrics/scrape_registry.h"
#include "metrics/text_format.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A forked child that creates objects, reports one line to the parent and then stays alive,
// holding them, until the parent releases it (handshakes over pipes, no sleeps).
class HeldChild {
 public:
  // `setup` runs in the child and returns the report; throwing or returning "" fails the child.
  explicit HeldChild(const std::function<std::string()>& setup) {
    int report[2];
    int hold[2];
    if (pipe2(report, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    pid_ = fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      close(report[0]);
      close(hold[1]);
      std::string message;
      try {
        message = setup();
      } catch (...) {
        message.clear();
      }
      if (message.empty() || write(report[1], message.data(), message.size()) < 0) {
        _exit(1);
      }
      close(report[1]);
      char byte;
      while (read(hold[0], &byte, 1) > 0) {
      }
      _exit(0);
    }
    close(report[1]);
    close(hold[0]);
    hold_ = hold[1];
    char buffer[256];
    ssize_t n;
    while ((n = read(report[0], buffer, sizeof buffer)) > 0) {
      message_.append(buffer, static_cast<std::size_t>(n));
    }
    close(report[0]);
  }
  ~HeldChild() { release(); }

  const std::string& message() const { return message_; }
  pid_t pid() const { return pid_; }

  // Lets the child exit and reaps it; returns its wait status.
  int release() {
    if (hold_ >= 0) {
      close(hold_);
      hold_ = -1;
    }
    if (pid_ > 0) {
      waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int hold_ = -1;
  int status_ = -1;
  std::string message_;
};

std::string netnsInode() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st) != 0) {
    throw std::runtime_error("stat ns/net");
  }
  return std::to_string(st.st_ino);
}

sockaddr_un unixAddress(const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("socket path too long");
  }
  std::copy(name.begin(), name.end(), addr.sun_path);
  return addr;
}

// A bound socket (a path, or an abstract name starting with '\0'); listening when backlog >= 0.
int boundSocket(const std::string& name, int backlog, int type = SOCK_STREAM) {
  const int fd = socket(AF_UNIX, type, 0);
  const sockaddr_un addr = unixAddress(name);
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                          (name.front() == '\0' ? 0 : 1));
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      (backlog >= 0 && listen(fd, backlog) != 0)) {
    throw std::runtime_error("cannot bind " + name + ": " + std::strerror(errno));
  }
  return fd;
}

// A series that must be there, with its value: a missing series fails, it is never a zero.
::testing::AssertionResult hasSample(const std::map<std::string, double>& samples,
                                     const std::string& name,
                                     const std::map<std::string, std::string>& labels,
                                     double value) {
  const auto it = samples.find(sampleKey(name, labels));
  if (it == samples.end()) {
    return ::testing::AssertionFailure() << "no series " << sampleKey(name, labels);
  }
  if (it->second != value) {
    return ::testing::AssertionFailure()
           << sampleKey(name, labels) << " is " << it->second << ", expected " << value;
  }
  return ::testing::AssertionSuccess();
}

// Series of `name` (any labels) in a scrape.
std::size_t seriesOf(const std::map<std::string, double>& samples, const std::string& name) {
  std::size_t n = 0;
  for (const auto& [key, value] : samples) {
    n += key.starts_with(name + "{") ? 1 : 0;
  }
  return n;
}

std::uint64_t foldsOf(const LabelCaps& caps, const std::string& metric) {
  for (const auto& [name, folds] : caps.folds()) {
    if (name == metric) {
      return folds;
    }
  }
  return 0;
}

std::string exposition(const std::vector<MetricFamily>& families) {
  std::string text;
  appendExposition(text, families);
  return text;
}

std::map<std::string, double> scrape(Collector& collector) {
  std::vector<MetricFamily> families;
  collector.collect(families);
  return parseExposition(exposition(families));
}

class UnixSocketsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (network namespaces, every process's open files)";
    }
    char tmpl[] = "/tmp/ipcwatch-unix-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    // Others may pass through (mkdtemp makes it 0700): world-writable endpoints must be
    // reachable by them to count.
    ASSERT_EQ(chmod(base_.c_str(), 0755), 0);
    root_ = base_ + "/scan";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    config_.scan.directories = {root_};
  }
  void TearDown() override {
    if (!base_.empty()) {
      fs::remove_all(base_);
    }
  }

  std::map<std::string, double> scrapeUnixSockets() {
    HostSnapshotSource snapshots({config_.paths.procfs}, nullptr);  // a fresh read each time
    UnixSocketCollector collector(snapshots, caps_);
    return scrape(collector);
  }
  std::map<std::string, double> scrapeIpcFiles() {
    const auto snapshots = openHostSnapshots(config_.paths.procfs);
    IpcFilesCollector collector(config_, caps_, *snapshots);
    return scrape(collector);
  }

  std::string base_;
  std::string root_;
  Config config_;
  LabelCaps caps_{1000, 1000, 1000};
};

// The state /proc/PID/net/unix gives the datagram sockets of PID's network namespace
// ("connected" for SS_CONNECTED, else "unconnected"): a socketpair of datagram sockets is
// connected since Linux 5.15 and unconnected before, and the agent must report the kernel's.
std::string datagramStateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/unix");
  std::string line;
  std::getline(in, line);  // the header
  std::string state;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, st;
    if (fields >> num >> refs >> protocol >> flags >> type >> st && type == "0002") {
      state = st == "03" ? "connected" : "unconnected";
    }
  }
  return state;
}

TEST_F(UnixSocketsE2E, ListenerInANewNetnsIsCountedUnderThatNamespace) {
  const std::string path = root_ + "/in-netns.sock";
  const std::string abstract = std::string("\0ipcwatch-e2e\0", 14) + std::to_string(getpid());
  HeldChild child([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string();
    }
    boundSocket(path, 5);
    boundSocket(abstract, 3, SOCK_SEQPACKET);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) {
      return std::string();
    }
    return netnsInode();
  });
  const std::string ns = child.message();
  ASSERT_FALSE(ns.empty()) << "child setup failed";

  const auto samples = scrapeUnixSockets();
  // The namespace is ours: these are all of its sockets.
  EXPECT_EQ(findSample(samples, "ipc_unix_sockets",
                       {{"netns", ns}, {"socket_type", "stream"}, {"state", "listening"}}),
            1);
  EXPECT_EQ(findSample(samples, "ipc_unix_sockets",
                       {{"netns", ns}, {"socket_type", "seqpacket"}, {"state", "listening"}}),
            1);
  const std::string pair_state = datagramStateOf(child.pid());
  ASSERT_FALSE(pair_state.empty()) << "no datagram socket in the child's /proc/PID/net/unix";
  EXPECT_EQ(findSample(samples, "ipc_unix_sockets",
                       {{"netns", ns}, {"socket_type", "dgram"}, {"state", pair_state}}),
            2);
  double total = 0;
  for (const auto& [key, value] : samples) {
    if (key.starts_with("ipc_unix_sockets{netns=\"" + ns + "\"")) {
      total += value;
    }
  }
  EXPECT_EQ(total, 4);
  EXPECT_EQ(findSample(samples, "ipc_netns", {{"name", ""}, {"netns", ns}}), 1);
  EXPECT_EQ(samples.count(sampleKey("ipc_unix_listen_queue", {{"netns", ns}, {"path", path}})), 1u);
  EXPECT_EQ(findSample(samples, "ipc_unix_listen_queue", {{"netns", ns}, {"path", path}}), 0);
  EXPECT_EQ(findSample(samples, "ipc_unix_listen_queue_max", {{"netns", ns}, {"path", path}}), 5);
  // "@ipcwatch-e2e\x00<pid>"; the exposition escapes the backslash once more.
  const std::string shown = "@ipcwatch-e2e\\\\x00" + std::to_string(getpid());
  EXPECT_EQ(findSample(samples, "ipc_unix_listen_queue_max", {{"netns", ns}, {"path", shown}}), 3);
  EXPECT_EQ(
      sampleValue(samples, "ipcwatch_unix_socket_parse_errors_total", {{"source", "unix_diag"}}),
      0);
  EXPECT_EQ(child.release(), 0);
}

TEST_F(UnixSocketsE2E, FullAcceptQueueShowsItsLengthAndBacklog) {
  const std::string path = root_ + "/full.sock";
  HeldChild child([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string();
    }
    boundSocket(path, 1);
    const sockaddr_un addr = unixAddress(path);
    int connected = 0;
    for (int i = 0; i < 64; ++i) {  // never accepted: the queue fills up
      const int client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EAGAIN) {
          return std::string();
        }
        break;
      }
      ++connected;
    }
    return netnsInode() + " " + std::to_string(connected);
  });
  ASSERT_FALSE(child.message().empty()) << "child setup failed";
  const std::string ns = child.message().substr(0, child.message().find(' '));
  const int connected = std::stoi(child.message().substr(child.message().find(' ') + 1));

  const auto samples = scrapeUnixSockets();
  const auto queue_series =
      findSample(samples, "ipc_unix_listen_queue", {{"netns", ns}, {"path", path}});
  const auto max_series =
      findSample(samples, "ipc_unix_listen_queue_max", {{"netns", ns}, {"path", path}});
  ASSERT_TRUE(queue_series && max_series);
  const double queue = *queue_series;
  const double max = *max_series;
  EXPECT_EQ(max, 1);
  EXPECT_EQ(queue, connected);
  // Linux refuses a unix connection only once the queue is longer than the backlog, so a full
  // queue holds backlog + 1 connections.
  EXPECT_EQ(queue, max + 1);
  EXPECT_EQ(child.release(), 0);
}

TEST_F(UnixSocketsE2E, NamedNamespaceIsListedWithItsName) {
  const std::string name = "ipcwatch-e2e-" + std::to_string(getpid());
  const auto [code, output] = runCommand("ip netns add " + name);
  ASSERT_EQ(code, 0) << output;
  struct stat st {};
  const int stat_rc = stat(("/var/run/netns/" + name).c_str(), &st);
  const auto samples = scrapeUnixSockets();
  runCommand("ip netns delete " + name);
  ASSERT_EQ(stat_rc, 0);
  EXPECT_EQ(
      findSample(samples, "ipc_netns", {{"name", name}, {"netns", std::to_string(st.st_ino)}}), 1);
}

// UNIX_DIAG_VFS carries the kernel's internal dev_t: after devFromKernel it must equal what
// stat() says about the socket file, on each kind of filesystem the scan covers.
TEST_F(UnixSocketsE2E, DiagVfsDeviceMatchesStat) {
  for (const std::string& dir : {base_, std::string("/dev/shm")}) {
    const std::string path = dir + "/vfs-" + std::to_string(getpid()) + ".sock";
    const int fd = boundSocket(path, 1);
    struct stat file {};
    struct stat sock {};
    ASSERT_EQ(stat(path.c_str(), &file), 0);
    ASSERT_EQ(fstat(fd, &sock), 0);
    UnixSocketInventoryReader reader("/proc", "/var/run/netns");
    const auto inventory = reader.read(UDIAG_SHOW_VFS);
    ASSERT_FALSE(inventory.from_procfs);
    bool found = false;
    for (const auto& entry : inventory.namespaces) {
      for (const auto& s : entry.sockets) {
        if (s.inode == sock.st_ino) {
          found = true;
          ASSERT_TRUE(s.has_vfs);
          EXPECT_EQ(devFromKernel(s.vfs_dev), file.st_dev) << dir;
          EXPECT_EQ(s.vfs_ino, static_cast<std::uint32_t>(file.st_ino)) << dir;
        }
      }
    }
    EXPECT_TRUE(found) << dir;
    close(fd);
    unlink(path.c_str());
  }
}

// The /proc/<pid>/net/unix fallback, read through a process of the namespace, sees the same
// sockets as sock_diag.
TEST_F(UnixSocketsE2E, ProcNetUnixFallbackReadsEachNamespace) {
  const std::string path = root_ + "/fallback path with spaces.sock";
  HeldChild child([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string();
    }
    boundSocket(path, 4);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) {
      return std::string();
    }
    return netnsInode();
  });
  ASSERT_FALSE(child.message().empty()) << "child setup failed";
  const std::uint64_t ns = std::stoull(child.message());
  for (const auto source : {UnixSocketInventoryReader::Source::kProcfsOnly,
                            UnixSocketInventoryReader::Source::kSockDiag}) {
    UnixSocketInventoryReader reader("/proc", "/var/run/netns", source);
    const auto inventory = reader.read(UDIAG_SHOW_NAME);
    EXPECT_EQ(inventory.from_procfs, source == UnixSocketInventoryReader::Source::kProcfsOnly);
    const NamespaceSockets* mine = nullptr;
    for (const auto& entry : inventory.namespaces) {
      if (entry.ns.inode == ns) {
        mine = &entry;
      }
    }
    ASSERT_NE(mine, nullptr);
    ASSERT_TRUE(mine->ok) << mine->error;
    ASSERT_EQ(mine->sockets.size(), 3u);
    int listeners = 0;
    int seqpackets = 0;
    for (const auto& socket : mine->sockets) {
      if (socket.state == UnixSocketState::kListening) {
        ++listeners;
        EXPECT_EQ(socket.name, path);
        EXPECT_EQ(socket.type, SOCK_STREAM);
      } else if (socket.type == SOCK_SEQPACKET && socket.state == UnixSocketState::kConnected) {
        ++seqpackets;
      }
    }
    EXPECT_EQ(listeners, 1);
    EXPECT_EQ(seqpackets, 2);
  }
  EXPECT_EQ(child.release(), 0);
}

TEST_F(UnixSocketsE2E, StaleSocketFileIsReportedWithItsPath) {
  ASSERT_EQ(mkdir((root_ + "/srv").c_str(), 0755), 0);
  const std::string stale = root_ + "/srv/gone.sock";
  const std::string live = root_ + "/srv/live.sock";
  {
    // A server that exits without unlink().
    HeldChild server([&] {
      boundSocket(stale, 1);
      return std::string("bound");
    });
    ASSERT_EQ(server.message(), "bound");
  }
  // A live listener in another network namespace: its file is not stale.
  HeldChild other_ns([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string();
    }
    boundSocket(live, 1);
    return std::string("bound");
  });
  ASSERT_EQ(other_ns.message(), "bound");

  const auto samples = scrapeIpcFiles();
  EXPECT_EQ(findSample(samples, "ipc_unix_stale_socket_files", {{"dir", root_}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_unix_stale_socket_file_info", {{"path", stale}}), 1);
  EXPECT_EQ(samples.count(sampleKey("ipc_unix_stale_socket_file_info", {{"path", live}})), 0u);
  EXPECT_EQ(findSample(samples, "ipc_fifo_files", {{"dir", root_}}), 0);
  EXPECT_EQ(other_ns.release(), 0);
}

TEST_F(UnixSocketsE2E, FifosWithoutReaders) {
  const std::string lonely = root_ + "/lonely.fifo";
  const std::string served = root_ + "/served.fifo";
  const std::string written = root_ + "/written.fifo";
  for (const auto& path : {lonely, served, written}) {
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  }
  HeldChild reader([&] {
    return open(served.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? std::string("open") : std::string();
  });
  ASSERT_EQ(reader.message(), "open");
  HeldChild writer([&] {
    // A writer can only open with a reader present; the reader then goes away.
    const int r = open(written.c_str(), O_RDONLY | O_NONBLOCK);
    const int w = open(written.c_str(), O_WRONLY | O_NONBLOCK);
    close(r);
    return w >= 0 ? std::string("open") : std::string();
  });
  ASSERT_EQ(writer.message(), "open");

  const auto samples = scrapeIpcFiles();
  EXPECT_EQ(findSample(samples, "ipc_fifo_files", {{"dir", root_}}), 3);
  EXPECT_EQ(findSample(samples, "ipc_fifo_without_reader", {{"path", lonely}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_fifo_without_reader", {{"path", written}}), 1);
  EXPECT_EQ(samples.count(sampleKey("ipc_fifo_without_reader", {{"path", served}})), 0u);
  EXPECT_EQ(writer.release(), 0);
  EXPECT_EQ(reader.release(), 0);
}

// Gauges describe now: their path cap is applied at every scrape, so files that appear once
// earlier files have used up the cap still show by name when those are gone.
TEST_F(UnixSocketsE2E, FileGaugesAreCappedAtEachScrape) {
  LabelCaps caps{1000, 2, 1000};
  const auto snapshots = openHostSnapshots(config_.paths.procfs);
  IpcFilesCollector collector(config_, caps, *snapshots);
  auto create = [&](const std::string& name) {
    const std::string sock = root_ + "/" + name + ".sock";
    close(boundSocket(sock, 1));              // closed at once: a stale file
    ASSERT_EQ(chmod(sock.c_str(), 0600), 0);  // whatever the umask
    const std::string fifo = root_ + "/" + name + ".fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    ASSERT_EQ(chmod(fifo.c_str(), 0666), 0);  // no reader, and world-writable
  };
  for (const char* name : {"c", "a", "b"}) {
    create(name);
  }
  const auto first = scrape(collector);
  // The two first by name keep it; the third is counted in "other".
  for (const char* name : {"a", "b"}) {
    const std::string base = root_ + "/" + name;
    EXPECT_TRUE(hasSample(first, "ipc_unix_stale_socket_file_info", {{"path", base + ".sock"}}, 1));
    EXPECT_TRUE(hasSample(first, "ipc_fifo_without_reader", {{"path", base + ".fifo"}}, 1));
    EXPECT_TRUE(hasSample(first, "ipc_endpoint_world_writable",
                          {{"kind", "fifo"}, {"path", base + ".fifo"}}, 1));
  }
  EXPECT_TRUE(hasSample(first, "ipc_unix_stale_socket_file_info", {{"path", "other"}}, 1));
  EXPECT_TRUE(hasSample(first, "ipc_fifo_without_reader", {{"path", "other"}}, 1));
  EXPECT_TRUE(
      hasSample(first, "ipc_endpoint_world_writable", {{"kind", "fifo"}, {"path", "other"}}, 1));
  EXPECT_EQ(seriesOf(first, "ipc_unix_stale_socket_file_info"), 3u);
  EXPECT_TRUE(hasSample(first, "ipc_unix_stale_socket_files", {{"dir", root_}}, 3));
  for (const char* metric : {"ipc_unix_stale_socket_file_info", "ipc_fifo_without_reader",
                             "ipc_endpoint_world_writable"}) {
    EXPECT_EQ(foldsOf(caps, metric), 1u) << metric;
  }

  // A day later those are gone and a new one appears: it is reported by name.
  for (const auto& entry : fs::directory_iterator(root_)) {
    fs::remove(entry.path());
  }
  create("d");
  const auto second = scrape(collector);
  EXPECT_TRUE(
      hasSample(second, "ipc_unix_stale_socket_file_info", {{"path", root_ + "/d.sock"}}, 1));
  EXPECT_TRUE(hasSample(second, "ipc_fifo_without_reader", {{"path", root_ + "/d.fifo"}}, 1));
  EXPECT_TRUE(hasSample(second, "ipc_endpoint_world_writable",
                        {{"kind", "fifo"}, {"path", root_ + "/d.fifo"}}, 1));
  EXPECT_EQ(seriesOf(second, "ipc_unix_stale_socket_file_info"), 1u);
  EXPECT_EQ(seriesOf(second, "ipc_fifo_without_reader"), 1u);
  EXPECT_EQ(seriesOf(second, "ipc_endpoint_world_writable"), 1u);
  EXPECT_EQ(foldsOf(caps, "ipc_unix_stale_socket_file_info"), 1u);
}

// What a child that holds listeners reports: "<netns inode>"; each listener is (path, backlog,
// connections queued and never accepted).
std::function<std::string()> listenersInANewNetns(
    std::vector<std::tuple<std::string, int, int>> listeners) {
  return [listeners] {
    if (unshare(CLONE_NEWNET) != 0) {
      return std::string();
    }
    for (const auto& [path, backlog, connections] : listeners) {
      boundSocket(path, backlog);
      const sockaddr_un addr = unixAddress(path);
      for (int i = 0; i < connections; ++i) {
        const int client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
          return std::string();
        }
      }
    }
    return netnsInode();
  };
}

// The listen-queue gauges keep, at each scrape, the fullest queues by name; the rest of a
// namespace are shown by the fullest of them, with its own backlog (not sums, which would make
// "queue > backlog" compare totals). The snapshot reads processes from a procfs that shows only
// the test's child, so only its namespace's sockets compete for the cap.
TEST_F(UnixSocketsE2E, ListenQueueGaugesKeepTheFullestQueuesOfEachScrape) {
  const std::string procfs = base_ + "/proc";
  const std::string no_names = base_ + "/netns";
  ASSERT_EQ(mkdir(procfs.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(no_names.c_str(), 0755), 0);
  auto show = [&](pid_t pid) {
    const std::string link = procfs + "/" + std::to_string(pid);
    return symlink(("/proc/" + std::to_string(pid)).c_str(), link.c_str()) == 0;
  };
  LabelCaps caps{1000, 1, 1000};
  HostSnapshotSource snapshots({procfs, no_names}, nullptr);
  UnixSocketCollector collector(snapshots, caps);

  const std::string full = root_ + "/full.sock";
  const std::string busy = root_ + "/busy.sock";
  const std::string idle = root_ + "/idle.sock";
  HeldChild first(listenersInANewNetns({{idle, 10, 1}, {full, 2, 3}, {busy, 5, 2}}));
  const std::string ns1 = first.message();
  ASSERT_FALSE(ns1.empty()) << "child setup failed";
  const pid_t first_pid = first.pid();
  ASSERT_TRUE(show(first_pid));
  const auto samples = scrape(collector);
  EXPECT_TRUE(hasSample(samples, "ipc_unix_listen_queue", {{"netns", ns1}, {"path", full}}, 3));
  EXPECT_TRUE(hasSample(samples, "ipc_unix_listen_queue_max", {{"netns", ns1}, {"path", full}}, 2));
  // "other" is busy.sock, the fuller of the two folded queues: 2 of 5.
  EXPECT_TRUE(hasSample(samples, "ipc_unix_listen_queue", {{"netns", ns1}, {"path", "other"}}, 2));
  EXPECT_TRUE(
      hasSample(samples, "ipc_unix_listen_queue_max", {{"netns", ns1}, {"path", "other"}}, 5));
  EXPECT_EQ(seriesOf(samples, "ipc_unix_listen_queue"), 2u);
  EXPECT_EQ(seriesOf(samples, "ipc_unix_listen_queue_max"), 2u);
  EXPECT_EQ(foldsOf(caps, "ipc_unix_listen_queue"), 2u);
  EXPECT_EQ(first.release(), 0);
  ASSERT_EQ(unlink((procfs + "/" + std::to_string(first_pid)).c_str()), 0);

  // Those listeners are gone; a new one is reported by name.
  const std::string late = root_ + "/late.sock";
  HeldChild second(listenersInANewNetns({{late, 3, 1}}));
  const std::string ns2 = second.message();
  ASSERT_FALSE(ns2.empty()) << "child setup failed";
  ASSERT_TRUE(show(second.pid()));
  const auto later = scrape(collector);
  EXPECT_TRUE(hasSample(later, "ipc_unix_listen_queue", {{"netns", ns2}, {"path", late}}, 1));
  EXPECT_TRUE(hasSample(later, "ipc_unix_listen_queue_max", {{"netns", ns2}, {"path", late}}, 3));
  EXPECT_EQ(seriesOf(later, "ipc_unix_listen_queue"), 1u);
  EXPECT_EQ(foldsOf(caps, "ipc_unix_listen_queue"), 2u);
  EXPECT_EQ(second.release(), 0);
}

TEST_F(UnixSocketsE2E, WorldWritableEndpointsAndUnsafeDirectories) {
  const std::string open_dir = root_ + "/open";
  const std::string sticky_dir = root_ + "/sticky";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(mkdir(sticky_dir.c_str(), 0700), 0);
  ASSERT_EQ(chmod(sticky_dir.c_str(), 01777), 0);
  const std::string careless = root_ + "/umask0.sock";
  const std::string careful = root_ + "/private.sock";
  HeldChild server([&] {
    umask(0);  // the classic mistake: the socket file comes out srwxrwxrwx
    boundSocket(careless, 1);
    umask(077);
    boundSocket(careful, 1);
    return std::string("bound");
  });
  ASSERT_EQ(server.message(), "bound");
  const std::string replaceable = open_dir + "/ctl.fifo";
  const std::string protected_fifo = sticky_dir + "/ctl.fifo";
  ASSERT_EQ(mkfifo(replaceable.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(protected_fifo.c_str(), 0600), 0);

  const auto samples = scrapeIpcFiles();
  EXPECT_EQ(
      findSample(samples, "ipc_endpoint_world_writable", {{"kind", "socket"}, {"path", careless}}),
      1);
  EXPECT_EQ(samples.count(
                sampleKey("ipc_endpoint_world_writable", {{"kind", "socket"}, {"path", careful}})),
            0u);
  EXPECT_EQ(
      findSample(samples, "ipc_endpoint_in_unsafe_dir", {{"kind", "fifo"}, {"path", replaceable}}),
      1);
  EXPECT_EQ(samples.count(sampleKey("ipc_endpoint_in_unsafe_dir",
                                    {{"kind", "fifo"}, {"path", protected_fifo}})),
            0u);
  EXPECT_EQ(samples.count(sampleKey("ipc_endpoint_world_writable",
                                    {{"kind", "fifo"}, {"path", replaceable}})),
            0u);
  EXPECT_EQ(findSample(samples, "ipc_unix_stale_socket_files", {{"dir", root_}}), 0);
  EXPECT_EQ(server.release(), 0);
}

// Mode o+w is not enough: a user outside the endpoint's owner and group must be able to get
// to it. Behind a service's private 0710 directory (owner root, group the endpoint's) no one
// else can; through a 0711 one, or a 0710 one of another group, someone can.
TEST_F(UnixSocketsE2E, WorldWritableOnlyWhereOtherUsersCanReachIt) {
  constexpr gid_t kService = 61235;
  constexpr gid_t kOtherGroup = 61236;
  struct Door {
    std::string dir;
    mode_t mode;
    gid_t group;
    bool others_reach;
  };
  const std::vector<Door> doors = {
      {root_ + "/private", 0710, kService, false},
      {root_ + "/private/inner", 0755, kService, false},  // behind the private door
      {root_ + "/search-only", 0711, kService, true},
      {root_ + "/other-group", 0710, kOtherGroup, true},  // its members may not be the service's
  };
  for (const auto& door : doors) {
    ASSERT_EQ(mkdir(door.dir.c_str(), 0700), 0);
    ASSERT_EQ(chown(door.dir.c_str(), 0, door.group), 0);
    ASSERT_EQ(chmod(door.dir.c_str(), door.mode), 0);
    const std::string sock = door.dir + "/ctl.sock";
    const std::string fifo = door.dir + "/ctl.fifo";
    close(boundSocket(sock, 1));
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    for (const auto& endpoint : {sock, fifo}) {
      ASSERT_EQ(chown(endpoint.c_str(), 0, kService), 0);
      ASSERT_EQ(chmod(endpoint.c_str(), 0666), 0);
    }
  }

  const auto samples = scrapeIpcFiles();
  for (const auto& door : doors) {
    for (const auto& [kind, name] : {std::pair{"socket", "/ctl.sock"}, {"fifo", "/ctl.fifo"}}) {
      const std::map<std::string, std::string> labels = {{"kind", kind}, {"path", door.dir + name}};
      if (door.others_reach) {
        EXPECT_TRUE(hasSample(samples, "ipc_endpoint_world_writable", labels, 1));
      } else {
        EXPECT_EQ(samples.count(sampleKey("ipc_endpoint_world_writable", labels)), 0u)
            << door.dir << name;
      }
    }
  }
  EXPECT_EQ(seriesOf(samples, "ipc_endpoint_world_writable"), 4u);
}

// A directory every user may write to (0777, no sticky bit) lets anyone replace an endpoint in
// it — unless a directory above it shuts other users out.
TEST_F(UnixSocketsE2E, UnsafeDirectoryOnlyWhereOtherUsersCanReachIt) {
  constexpr gid_t kService = 61235;
  const std::string reachable = root_ + "/open";
  const std::string door = root_ + "/private";
  const std::string hidden = door + "/open";
  for (const auto& [dir, mode] : {std::pair{reachable, 0777}, {door, 0710}, {hidden, 0777}}) {
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(chown(dir.c_str(), 0, kService), 0);
    ASSERT_EQ(chmod(dir.c_str(), static_cast<mode_t>(mode)), 0);
  }
  for (const auto& dir : {reachable, hidden}) {
    const std::string fifo = dir + "/ctl.fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    ASSERT_EQ(chown(fifo.c_str(), 0, kService), 0);
    ASSERT_EQ(chmod(fifo.c_str(), 0660), 0);
  }
  const auto samples = scrapeIpcFiles();
  EXPECT_TRUE(hasSample(samples, "ipc_endpoint_in_unsafe_dir",
                        {{"kind", "fifo"}, {"path", reachable + "/ctl.fifo"}}, 1));
  EXPECT_EQ(samples.count(sampleKey("ipc_endpoint_in_unsafe_dir",
                                    {{"kind", "fifo"}, {"path", hidden + "/ctl.fifo"}})),
            0u)
      << "behind a 0710 directory no other user can replace it";
  EXPECT_EQ(seriesOf(samples, "ipc_endpoint_in_unsafe_dir"), 1u);
}

TEST_F(UnixSocketsE2E, ExhaustedTimeBudgetFailsTheCollectorInsteadOfStalling) {
  // Enough entries that walking them takes far longer than the 1 ms budget (on tmpfs, where
  // creating them is quick).
  char tmpl[] = "/dev/shm/ipcwatch-budget-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string tree = tmpl;
  struct Cleanup {
    std::string path;
    ~Cleanup() { fs::remove_all(path); }
  } cleanup{tree};
  config_.scan.directories = {tree};
  for (int d = 0; d < 20; ++d) {
    const std::string dir = tree + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 1000; ++f) {
      ASSERT_EQ(mkfifo((dir + "/f" + std::to_string(f)).c_str(), 0600), 0);
    }
  }
  config_.scan.time_budget_seconds = 0.001;
  ScrapeRegistry registry;
  const auto snapshots = openHostSnapshots(config_.paths.procfs);
  registry.add(std::make_unique<IpcFilesCollector>(config_, caps_, *snapshots));
  const auto start = std::chrono::steady_clock::now();
  const auto samples = parseExposition(exposition(registry.collect()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "ipc_files"}}), 0);
  EXPECT_EQ(samples.count(sampleKey("ipc_fifo_files", {{"dir", tree}})), 0u);
}

TEST_F(UnixSocketsE2E, TenThousandSocketsScrapeWellUnderASecond) {
  constexpr int kPairs = 5000;
  HeldChild child([&] {
    const rlimit limit{kPairs * 2 + 100, kPairs * 2 + 100};
    if (unshare(CLONE_NEWNET) != 0 || setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return std::string();
    }
    for (int i = 0; i < kPairs; ++i) {
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        return std::string();
      }
    }
    return netnsInode();
  });
  const std::string ns = child.message();
  ASSERT_FALSE(ns.empty()) << "child setup failed";
  const auto start = std::chrono::steady_clock::now();
  const auto samples = scrapeUnixSockets();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(findSample(samples, "ipc_unix_sockets",
                       {{"netns", ns}, {"socket_type", "stream"}, {"state", "connected"}}),
            2 * kPairs);
  EXPECT_LT(took.count(), 0.5) << took.count() << " s";
  EXPECT_EQ(child.release(), 0);
}

// The real binary: the collectors are in the table, enabled by default, and their exposition
// passes promtool.
TEST_F(UnixSocketsE2E, AgentExportsTheCollectorsAndPassesPromtool) {
  const std::string stale = root_ + "/agent-stale.sock";
  {
    HeldChild server([&] {
      boundSocket(stale, 1);
      return std::string("bound");
    });
    ASSERT_EQ(server.message(), "bound");
  }
  ASSERT_EQ(mkfifo((root_ + "/agent.fifo").c_str(), 0666), 0);
  ASSERT_EQ(chmod((root_ + "/agent.fifo").c_str(), 0666), 0);
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "probes:\n  broken_pipe:\n    enabled: false\n  sigpipe:\n    enabled: false\n"
      "scan:\n  directories: [" +
      root_ + "]\n  max_depth: 2\n");
  const int port = agent.waitForPort(10s);
  ASSERT_GT(port, 0) << agent.log();
  const auto metrics = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  const auto samples = parseExposition(metrics->body);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "unix_sockets"}}), 1);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "ipc_files"}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_unix_stale_socket_file_info", {{"path", stale}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_fifo_without_reader", {{"path", root_ + "/agent.fifo"}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_world_writable",
                       {{"kind", "fifo"}, {"path", root_ + "/agent.fifo"}}),
            1);
  EXPECT_EQ(findSample(samples, "ipc_netns", {{"name", ""}, {"netns", netnsInode()}}), 1);

  const std::string file = base_ + "/metrics.prom";
  std::ofstream(file) << metrics->body;
  const auto [code, output] = runCommand("promtool check metrics < " + file);
  EXPECT_EQ(code, 0) << output;
}

}  // namespace
// Every collector of one scrape reads the same snapshot, so the host's unix sockets are dumped
// once per scrape, and the next scrape reads them again.
TEST(HostSnapshotSourceTest, OneSocketReadPerScrape) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root (setns into every network namespace)";
  }
  HostSnapshotSource source({"/proc"}, nullptr);
  const UnixSocketInventory* first = nullptr;
  {
    const auto scope = source.beginScrape();
    first = &source.current()->unixSockets();
    EXPECT_EQ(&source.current()->unixSockets(), first);
    EXPECT_FALSE(first->namespaces.empty());
  }
  const auto scope = source.beginScrape();
  const auto later = source.current();
  EXPECT_NE(later.get(), nullptr);
  EXPECT_EQ(&source.current()->unixSockets(), &later->unixSockets());
  // Outside a scrape every caller gets a snapshot of its own.
  HostSnapshotSource idle({"/proc"}, nullptr);
  const auto one = idle.current();
  const auto other = idle.current();
  EXPECT_NE(one.get(), other.get());
}

}  // namespace ipcwatch::testing
