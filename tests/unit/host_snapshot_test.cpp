#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>

#include <gtest/gtest.h>

#include "collectors/pipe_limits_collector.h"
#include "inventory/host_snapshot.h"
#include "metrics/label_caps.h"
#include "util/stuck_call_guard.h"

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;

// Facts given by the test, with a count of how often each was asked for.
class FakeFacts : public HostFactsReader {
 public:
  std::string_view backend() const override { return "fake"; }
  std::vector<ProcessFacts> processes() override {
    ++process_reads;
    return processes_;
  }
  std::vector<OpenFifo> openFifos(std::chrono::steady_clock::time_point) override {
    ++fifo_reads;
    return fifos_;
  }
  std::vector<OpenSocket> openSockets(std::chrono::steady_clock::time_point,
                                      const std::vector<std::uint64_t>& inodes) override {
    ++socket_reads;
    socket_inodes = inodes;
    return sockets_;
  }

  std::vector<ProcessFacts> processes_;
  std::vector<OpenFifo> fifos_;
  std::vector<OpenSocket> sockets_;
  int process_reads = 0;
  int fifo_reads = 0;
  int socket_reads = 0;
  std::vector<std::uint64_t> socket_inodes;  // what the last openSockets asked for
};

// Counts the passes that read FIFOs and sockets together.
class CombinedFacts : public FakeFacts {
 public:
  explicit CombinedFacts(const FakeFacts& facts) : FakeFacts(facts) {}
  std::pair<std::vector<OpenFifo>, std::vector<OpenSocket>> openFifosAndSockets(
      std::chrono::steady_clock::time_point, const std::vector<std::uint64_t>&) override {
    ++*combined_reads;
    return {fifos_, sockets_};
  }
  int* combined_reads = nullptr;
};

class HostSnapshotTest : public ::testing::Test {
 protected:
  HostSnapshotTest() : sockets_("/nonexistent", "/nonexistent") {
    facts_.processes_ = {
        {1, 0, "init", 0, 0, 10, 20, 30, MqueueLimits{256, 10, 8192}, std::nullopt, 0},
        {42, 1, "httpd", 48, 48, 10, 20, 31, MqueueLimits{64, 12, 4096}, std::nullopt, 0},
        {43, 42, "httpd", 0, 0, 10, 21, 31, MqueueLimits{64, 12, 4096}, std::nullopt, 0},
        {50, 1, "opensips", 999, 999, 11, 21, 30, MqueueLimits{256, 10, 8192}, std::nullopt, 0},
    };
    const FileId fifo{7, 1000};
    const FileId other{7, 1001};
    facts_.fifos_ = {{50, fifo, true, false},
                     {50, fifo, true, false},  // two descriptors
                     {42, fifo, false, true},
                     {43, other, true, true}};
  }

  FakeFacts facts_;
  UnixSocketInventoryReader sockets_;
};

TEST_F(HostSnapshotTest, ReadsEachFactOnceAndOnlyWhenAsked) {
  HostSnapshot snapshot({"/nonexistent"}, facts_, sockets_);
  EXPECT_EQ(facts_.process_reads, 0);
  EXPECT_EQ(facts_.fifo_reads, 0);
  EXPECT_EQ(snapshot.pidsByComm("httpd"), (std::vector<std::uint32_t>{42, 43}));
  ASSERT_NE(snapshot.process(50), nullptr);
  EXPECT_EQ(snapshot.process(50)->comm, "opensips");
  EXPECT_EQ(snapshot.process(51), nullptr);
  EXPECT_EQ(snapshot.processes().size(), 4u);
  EXPECT_EQ(snapshot.ipcNamespaces().size(), 2u);
  EXPECT_EQ(facts_.process_reads, 1);
  EXPECT_EQ(facts_.fifo_reads, 0);  // nobody asked for FIFO holders yet
  snapshot.fifoHolders();
  snapshot.fifoHolders();
  EXPECT_EQ(facts_.fifo_reads, 1);
}

TEST_F(HostSnapshotTest, CountsReadersAndWritersPerFifo) {
  HostSnapshot snapshot({"/nonexistent"}, facts_, sockets_);
  const auto& holders = snapshot.fifoHolders();
  ASSERT_EQ(holders.size(), 2u);
  const auto& fifo = holders.at(FileId{7, 1000});
  EXPECT_EQ(fifo.readers, 2u);  // open file descriptions, as the kernel counts readers
  EXPECT_EQ(fifo.writers, 1u);
  EXPECT_EQ(fifo.reader_pids, (std::set<std::uint32_t>{50}));
  EXPECT_EQ(fifo.writer_pids, (std::set<std::uint32_t>{42}));
  const auto& other = holders.at(FileId{7, 1001});
  EXPECT_EQ(other.reader_pids, (std::set<std::uint32_t>{43}));
  EXPECT_EQ(other.writer_pids, (std::set<std::uint32_t>{43}));
}

TEST_F(HostSnapshotTest, SocketHoldersAreReadOnlyWhenAskedAndGroupedByInode) {
  facts_.sockets_ = {{42, 5000}, {43, 5000}, {42, 5000}, {50, 5001}};
  HostSnapshot snapshot({"/nonexistent"}, facts_, sockets_);
  snapshot.fifoHolders();
  EXPECT_EQ(facts_.socket_reads, 0);  // the FIFO walk does not pay for sockets
  EXPECT_EQ(snapshot.socketHolders(5000), (std::vector<std::uint32_t>{42, 43}));
  EXPECT_EQ(snapshot.socketHolders(5001), (std::vector<std::uint32_t>{50}));
  EXPECT_EQ(snapshot.socketHolders(4999), (std::vector<std::uint32_t>{}));
  EXPECT_EQ(facts_.socket_reads, 1);
}

// A scrape after one that asked for socket holders reads FIFO and socket holders in one pass;
// a scrape after one that did not goes back to the FIFO walk alone.
TEST_F(HostSnapshotTest, SocketHoldersJoinTheFifoWalkAfterAScrapeThatAskedForThem) {
  facts_.sockets_ = {{42, 5000}};
  int combined = 0;
  auto owned = std::make_unique<CombinedFacts>(facts_);
  owned->combined_reads = &combined;
  CombinedFacts* facts = owned.get();
  HostSnapshotSource source({"/nonexistent"}, std::move(owned));
  const auto scrape = [&](bool ask_sockets) {
    const auto scope = source.beginScrape();
    const auto snapshot = source.current();
    snapshot->fifoHolders();
    if (ask_sockets) {
      EXPECT_EQ(snapshot->socketHolders(5000), (std::vector<std::uint32_t>{42}));
    }
  };
  scrape(true);  // nothing known yet: a FIFO walk, then a socket walk
  EXPECT_EQ(facts->fifo_reads, 1);
  EXPECT_EQ(facts->socket_reads, 1);
  EXPECT_EQ(combined, 0);
  scrape(true);  // one pass for both
  EXPECT_EQ(combined, 1);
  EXPECT_EQ(facts->fifo_reads, 1);
  EXPECT_EQ(facts->socket_reads, 1);
  scrape(false);  // still one pass (the scrape before asked), and this one did not ask...
  EXPECT_EQ(combined, 2);
  scrape(false);  // ...so the next walks FIFOs alone again
  EXPECT_EQ(combined, 2);
  EXPECT_EQ(facts->fifo_reads, 2);
}

TEST_F(HostSnapshotTest, IpcNamespacesNameTheirLowestPid) {
  HostSnapshot snapshot({"/nonexistent"}, facts_, sockets_);
  const auto& namespaces = snapshot.ipcNamespaces();
  ASSERT_EQ(namespaces.size(), 2u);
  EXPECT_EQ(namespaces[0].inode, 30u);
  EXPECT_EQ(namespaces[0].pid, 1);
  EXPECT_EQ(namespaces[1].inode, 31u);
  EXPECT_EQ(namespaces[1].pid, 42);
  // The backend's mqueue limits travel with each namespace, so no sysctl need be opened.
  EXPECT_EQ(namespaces[0].mqueue_limits, (MqueueLimits{256, 10, 8192}));
  EXPECT_EQ(namespaces[1].mqueue_limits, (MqueueLimits{64, 12, 4096}));
}

TEST_F(HostSnapshotTest, NetNamespacesAreReachedThroughAProcessInThem) {
  HostSnapshot snapshot({"/p"}, facts_, sockets_);
  const auto& namespaces = snapshot.netNamespaces();
  ASSERT_EQ(namespaces.size(), 2u);
  EXPECT_EQ(namespaces[0].inode, 20u);
  EXPECT_EQ(namespaces[0].ns_path, "/p/1/ns/net");
  EXPECT_EQ(namespaces[1].inode, 21u);
  EXPECT_EQ(namespaces[1].ns_path, "/p/43/ns/net");
  EXPECT_EQ(namespaces[1].proc_net_unix, "/p/43/net/unix");
}

TEST_F(HostSnapshotTest, AScrapeSharesOneSnapshot) {
  HostSnapshotSource source({"/nonexistent"}, std::make_unique<FakeFacts>(facts_));
  std::shared_ptr<HostSnapshot> first;
  {
    const auto scope = source.beginScrape();
    first = source.current();
    EXPECT_EQ(source.current().get(), first.get());
  }
  const auto scope = source.beginScrape();
  const auto a = source.current();
  const auto b = source.current();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), first.get());  // the next scrape gathers afresh
  EXPECT_EQ(source.factsBackend(), "fake");
}

TEST(ProcfsProcesses, ReadsCommCredentialsAndParent) {
  char tmpl[] = "/tmp/ipcwatch-procfs-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  const std::string dir = root + "/4242";
  std::filesystem::create_directories(dir + "/ns");
  std::ofstream(dir + "/comm") << "php-fpm8.2\n";
  std::ofstream(dir + "/status") << "Name:\tphp-fpm8.2\nUmask:\t0022\nState:\tS (sleeping)\n"
                                    "Tgid:\t4242\nPPid:\t812\nUid:\t0\t33\t33\t33\n"
                                    "Gid:\t0\t34\t34\t34\nGroups:\t33\n";
  std::ofstream(dir + "/ns/ipc") << "";
  std::filesystem::create_directories(root + "/self");  // not a number: not a process
  std::filesystem::create_directories(root + "/4243");  // exited: no status
  const auto processes = readProcfsProcesses(root);
  std::filesystem::remove_all(root);
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].pid, 4242u);
  EXPECT_EQ(processes[0].ppid, 812u);
  EXPECT_EQ(processes[0].comm, "php-fpm8.2");
  EXPECT_EQ(processes[0].euid, 33u);
  EXPECT_EQ(processes[0].egid, 34u);
  EXPECT_NE(processes[0].ipc_ns, 0u);  // the inode of the fixture file standing in for nsfs
  EXPECT_EQ(processes[0].net_ns, 0u);
  EXPECT_THROW(readProcfsProcesses("/nonexistent/proc"), std::runtime_error);
}

TEST(StuckCallGuard, AbandonsAHungCallAndRefusesMoreUntilItReturns) {
  StuckCallGuard<int> guard;
  using Outcome = StuckCallGuard<int>::Outcome;
  Outcome outcome = Outcome::kDone;
  EXPECT_EQ(guard.run([] { return 7; }, std::chrono::steady_clock::now() + 5s, outcome), 7);
  EXPECT_EQ(outcome, Outcome::kDone);

  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  EXPECT_FALSE(guard.run(
      [released] {
        released.wait();  // stands in for a stat() on a dead mount
        return 1;
      },
      std::chrono::steady_clock::now() + 50ms, outcome));
  EXPECT_EQ(outcome, Outcome::kTimedOut);
  EXPECT_TRUE(guard.stuck());
  std::atomic<int> started{0};
  EXPECT_FALSE(guard.run(
      [&started] {
        ++started;
        return 2;
      },
      std::chrono::steady_clock::now() + 5s, outcome));
  EXPECT_EQ(outcome, Outcome::kStillStuck);
  EXPECT_EQ(started.load(), 0);  // no second thread behind the stuck one

  release->set_value();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (guard.stuck() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(guard.stuck());
  EXPECT_EQ(guard.run([] { return 3; }, std::chrono::steady_clock::now() + 5s, outcome), 3);
  EXPECT_EQ(outcome, Outcome::kDone);
}

// The pipe limits collector over a snapshot whose processes carry the kernel's per-user count:
// each user once, the most first, the rest summed as "other"; the limits from <procfs>/sys/fs.
TEST_F(HostSnapshotTest, PipeUserPagesTopUsersAndLimits) {
  auto processes = facts_.processes_;
  processes[0].pipe_pages = 40;  // root (init)
  processes[1].pipe_pages = 96;  // uid 48 (httpd)...
  processes[1].pipe_uid = 48;
  processes[2].pipe_pages = 96;  // ...and its other process, the same count
  processes[2].pipe_uid = 48;
  processes[3].pipe_pages = 8;
  processes[3].pipe_uid = 999;
  EXPECT_EQ(pipePagesByUser(processes),
            (std::vector<std::pair<std::uint32_t, std::uint64_t>>{{0, 40}, {48, 96}, {999, 8}}));

  const auto procfs =
      std::filesystem::temp_directory_path() / ("ipcwatch-pipe-limits-" + std::to_string(getpid()));
  std::filesystem::create_directories(procfs / "sys/fs");
  std::ofstream(procfs / "sys/fs/pipe-user-pages-soft") << "16384\n";
  std::ofstream(procfs / "sys/fs/pipe-user-pages-hard") << "0\n";
  std::ofstream(procfs / "sys/fs/pipe-max-size") << "1048576\n";
  auto fake = std::make_unique<FakeFacts>(facts_);
  fake->processes_ = processes;
  HostSnapshotSource source({procfs.string()}, std::move(fake));
  LabelCaps caps(100, 100, 1000);
  PipeLimitsCollector collector(procfs.string(), source, 2, nullptr, caps);
  std::vector<MetricFamily> out;
  collector.collect(out);
  std::filesystem::remove_all(procfs);

  std::map<std::string, std::map<std::string, double>> got;  // family -> label value -> value
  for (const auto& family : out) {
    for (const auto& sample : family.samples) {
      ASSERT_EQ(sample.labels.size(), 1u);
      got[family.name][sample.labels[0].second] = sample.value;
    }
  }
  EXPECT_EQ(got["ipc_pipe_limit"],
            (std::map<std::string, double>{
                {"user_pages_soft", 16384}, {"user_pages_hard", 0}, {"max_size_bytes", 1048576}}));
  EXPECT_EQ(got["ipc_pipe_user_pages"],
            (std::map<std::string, double>{{"48", 96}, {"0", 40}, {"other", 8}}));
  EXPECT_EQ(got.count("ipc_pipe_limit_events_total"), 0u);  // no probe
}

// Without the kernel's count (the procfs backend), the family is absent, not zero.
TEST_F(HostSnapshotTest, PipeUserPagesAbsentWithoutTheKernelsCount) {
  HostSnapshotSource source({"/nonexistent"}, std::make_unique<FakeFacts>(facts_));
  LabelCaps caps(100, 100, 1000);
  PipeLimitsCollector collector("/nonexistent", source, 10, nullptr, caps);
  std::vector<MetricFamily> out;
  collector.collect(out);
  EXPECT_TRUE(out.empty());
}

TEST(StuckCallGuard, PassesExceptionsThrough) {
  StuckCallGuard<int> guard;
  StuckCallGuard<int>::Outcome outcome;
  EXPECT_THROW(guard.run([]() -> int { throw std::runtime_error("walk failed"); },
                         std::chrono::steady_clock::now() + 5s, outcome),
               std::runtime_error);
}

}  // namespace
}  // namespace ipcwatch
