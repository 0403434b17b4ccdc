// The directory walk of the ipc_files collector, on real temporary trees (no root needed).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <set>
#include <utility>

#include <gtest/gtest.h>

#include "inventory/endpoint_scan.h"
#include "inventory/fifo_holders.h"

namespace ipcwatch {
namespace {

namespace fs = std::filesystem;

constexpr auto kNoDeadline = std::chrono::steady_clock::time_point::max();

class EndpointScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcwatch-scan-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  void mkdirs(const std::string& relative, mode_t mode = 0755) {
    ASSERT_EQ(mkdir((root_ + "/" + relative).c_str(), mode), 0) << relative;
    ASSERT_EQ(chmod((root_ + "/" + relative).c_str(), mode), 0);  // past the umask
  }
  void fifo(const std::string& relative, mode_t mode = 0600) {
    ASSERT_EQ(mkfifo((root_ + "/" + relative).c_str(), mode), 0) << relative;
    ASSERT_EQ(chmod((root_ + "/" + relative).c_str(), mode), 0);
  }
  // A socket file whose socket is closed at once (a stale file).
  void socketFile(const std::string& relative) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = root_ + "/" + relative;
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::copy(path.begin(), path.end(), addr.sun_path);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
    close(fd);
  }
  std::vector<std::string> foundPaths(const EndpointScan& scan) {
    std::vector<std::string> paths;
    for (const auto& e : scan.endpoints) {
      paths.push_back(e.path.substr(root_.size()));
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }
  const FoundEndpoint& find(const EndpointScan& scan, const std::string& relative) {
    for (const auto& e : scan.endpoints) {
      if (e.path == root_ + "/" + relative) {
        return e;
      }
    }
    throw std::runtime_error("not found: " + relative);
  }

  std::string root_;
};

TEST_F(EndpointScanTest, FindsFifosAndSocketsWithKindsModesAndDirectorySafety) {
  // Other users may reach the scanned tree (mkdtemp makes it 0700, which would hide "open").
  ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
  mkdirs("safe");
  mkdirs("open", 0777);
  mkdirs("sticky", 01777);
  fifo("safe/f");
  fifo("open/f", 0666);
  socketFile("sticky/s");
  ASSERT_EQ(close(open((root_ + "/regular").c_str(), O_CREAT | O_WRONLY, 0600)), 0);

  const auto scan = scanForEndpoints({{root_}, 4, kNoDeadline});
  EXPECT_FALSE(scan.out_of_time);
  EXPECT_EQ(scan.roots_scanned, std::vector<std::string>{root_});
  EXPECT_EQ(foundPaths(scan), (std::vector<std::string>{"/open/f", "/safe/f", "/sticky/s"}));
  const auto& safe = find(scan, "safe/f");
  EXPECT_EQ(safe.kind, EndpointKind::kFifo);
  EXPECT_EQ(safe.root, root_);
  EXPECT_FALSE(safe.in_unsafe_dir);
  EXPECT_EQ(safe.mode & 07777, 0600u);
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/safe/f").c_str(), &st), 0);
  EXPECT_EQ(safe.id, (FileId{st.st_dev, st.st_ino}));
  EXPECT_TRUE(find(scan, "open/f").in_unsafe_dir);
  EXPECT_EQ(find(scan, "open/f").mode & 07777, 0666u);
  EXPECT_EQ(find(scan, "sticky/s").kind, EndpointKind::kSocket);
  EXPECT_FALSE(find(scan, "sticky/s").in_unsafe_dir);
}

TEST_F(EndpointScanTest, ReachableByOthersOnlyThroughDirectoriesTheyMaySearch) {
  ASSERT_EQ(chmod(root_.c_str(), 0755), 0);  // mkdtemp makes it 0700
  mkdirs("open");
  mkdirs("private", 0710);  // the files' owner and group only
  mkdirs("private/inner");  // open, behind the private door
  mkdirs("search_only", 0711);
  for (const char* dir : {"open", "private", "private/inner", "search_only"}) {
    fifo(std::string(dir) + "/f", 0666);
  }
  const auto scan = scanForEndpoints({{root_}, 4, kNoDeadline});
  EXPECT_TRUE(find(scan, "open/f").reachable_by_others);
  EXPECT_FALSE(find(scan, "private/f").reachable_by_others);
  EXPECT_FALSE(find(scan, "private/inner/f").reachable_by_others);
  EXPECT_TRUE(find(scan, "search_only/f").reachable_by_others);
}

TEST_F(EndpointScanTest, AClosedDirectoryAboveTheRootClosesEverythingBelowIt) {
  mkdirs("svc");
  fifo("svc/f", 0666);
  ASSERT_EQ(chmod(root_.c_str(), 0700), 0);
  EXPECT_FALSE(
      find(scanForEndpoints({{root_ + "/svc"}, 4, kNoDeadline}), "svc/f").reachable_by_others);
  ASSERT_EQ(chmod(root_.c_str(), 0711), 0);
  EXPECT_TRUE(
      find(scanForEndpoints({{root_ + "/svc"}, 4, kNoDeadline}), "svc/f").reachable_by_others);
  // A second hard link could sit anywhere: the file counts as reachable.
  ASSERT_EQ(chmod(root_.c_str(), 0700), 0);
  ASSERT_EQ(link((root_ + "/svc/f").c_str(), (root_ + "/svc/g").c_str()), 0);
  EXPECT_TRUE(
      find(scanForEndpoints({{root_ + "/svc"}, 4, kNoDeadline}), "svc/f").reachable_by_others);
}

TEST(OthersCanReach, ADirectoryClosesWhenOnlyRootTheOwnerAndTheGroupMaySearchIt) {
  constexpr uid_t kOwner = 1000;
  constexpr gid_t kGroup = 2000;
  auto reach = [&](DirectoryAccess dir) {
    const DirectoryAccess slash{0, 0, S_IFDIR | 0755, false};
    return othersCanReach({slash, dir}, kOwner, kGroup);
  };
  EXPECT_TRUE(reach({0, 0, S_IFDIR | 0755, false}));
  EXPECT_TRUE(reach({0, kGroup, S_IFDIR | 0711, false}));        // others may search
  EXPECT_FALSE(reach({0, kGroup, S_IFDIR | 0710, false}));       // root and the group
  EXPECT_FALSE(reach({kOwner, kGroup, S_IFDIR | 0750, false}));  // the owner and the group
  EXPECT_FALSE(reach({kOwner, 0, S_IFDIR | 0700, false}));       // the owner alone
  EXPECT_TRUE(reach({4242, kGroup, S_IFDIR | 0700, false}));     // another user owns it
  EXPECT_FALSE(reach({4242, kGroup, S_IFDIR | 0070, false}));    // ... but may not search it
  EXPECT_TRUE(reach({0, 3000, S_IFDIR | 0710, false}));          // another group's members
  EXPECT_TRUE(reach({0, kGroup, S_IFDIR | 0710, true}));         // an ACL may name others
  EXPECT_FALSE(reach({0, kGroup, S_IFDIR | 0700, true}));        // ... not with mask ---
  EXPECT_FALSE(othersCanReach({{0, 0, S_IFDIR | 0700, false}, {0, 0, S_IFDIR | 0777, false}},
                              kOwner, kGroup));  // a closed door above an open directory
  EXPECT_TRUE(othersCanReach({}, kOwner, kGroup));
}

TEST_F(EndpointScanTest, NeverFollowsSymlinks) {
  mkdirs("real");
  fifo("real/f");
  mkdirs("walk");
  // A planted symlink to a directory and one to a FIFO: neither is reported through the link.
  ASSERT_EQ(symlink((root_ + "/real").c_str(), (root_ + "/walk/dirlink").c_str()), 0);
  ASSERT_EQ(symlink((root_ + "/real/f").c_str(), (root_ + "/walk/fifolink").c_str()), 0);
  const auto scan = scanForEndpoints({{root_ + "/walk"}, 4, kNoDeadline});
  EXPECT_TRUE(scan.endpoints.empty()) << scan.endpoints.front().path;
}

TEST_F(EndpointScanTest, DepthLimit) {
  mkdirs("a");
  mkdirs("a/b");
  fifo("top");
  fifo("a/one");
  fifo("a/b/two");
  EXPECT_EQ(foundPaths(scanForEndpoints({{root_}, 0, kNoDeadline})),
            std::vector<std::string>{"/top"});
  EXPECT_EQ(foundPaths(scanForEndpoints({{root_}, 1, kNoDeadline})),
            (std::vector<std::string>{"/a/one", "/top"}));
  EXPECT_EQ(foundPaths(scanForEndpoints({{root_}, 2, kNoDeadline})),
            (std::vector<std::string>{"/a/b/two", "/a/one", "/top"}));
}

TEST_F(EndpointScanTest, OverlappingRootsAreWalkedOnceAndMissingRootsSkipped) {
  mkdirs("sub");
  fifo("sub/f");
  ASSERT_EQ(symlink((root_ + "/sub").c_str(), (root_ + "/alias").c_str()), 0);
  const auto scan = scanForEndpoints(
      {{root_ + "/", root_ + "/sub", root_ + "/alias", root_ + "/missing"}, 4, kNoDeadline});
  EXPECT_EQ(scan.roots_scanned, std::vector<std::string>{root_ + "/"});
  ASSERT_EQ(scan.endpoints.size(), 1u);
  EXPECT_EQ(scan.endpoints[0].path, root_ + "/sub/f");  // no "//" from the trailing slash
}

TEST_F(EndpointScanTest, PassedDeadlineStopsTheScan) {
  fifo("f");
  const auto scan =
      scanForEndpoints({{root_}, 4, std::chrono::steady_clock::now() - std::chrono::seconds(1)});
  EXPECT_TRUE(scan.out_of_time);
}

TEST(FdinfoParser, Flags) {
  EXPECT_EQ(parseFdinfoFlags("pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t1\n"), 0100002u);
  EXPECT_EQ(parseFdinfoFlags("pos:\t0\nflags:\t00\n"), 0u);
  EXPECT_EQ(parseFdinfoFlags("pos:\t0\n"), std::nullopt);
  EXPECT_EQ(parseFdinfoFlags("flags:\tzz\n"), std::nullopt);
  EXPECT_EQ(parseFdinfoFlags(""), std::nullopt);
}

TEST_F(EndpointScanTest, FifoHoldersTellReadersFromWriters) {
  fifo("f");
  const std::string path = root_ + "/f";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const FileId id{st.st_dev, st.st_ino};
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(30);

  EXPECT_TRUE(findFifoHolders("/proc", {id}, far).holders.empty());
  const int reader = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  const int writer = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(writer, 0);
  const int both = open(path.c_str(), O_RDWR);
  ASSERT_GE(both, 0);
  const auto scan = findFifoHolders("/proc", {id}, far);
  ASSERT_EQ(scan.holders.count(id), 1u);
  EXPECT_EQ(scan.holders.at(id).readers, 2u);
  EXPECT_EQ(scan.holders.at(id).writers, 2u);
  // One entry per descriptor, with its direction: what the host snapshot's procfs backend
  // hands on, as the BPF one does.
  std::multiset<std::pair<bool, bool>> directions;
  for (const auto& d : scan.descriptors) {
    EXPECT_EQ(d.pid, static_cast<std::uint32_t>(getpid()));
    EXPECT_EQ(d.id, id);
    directions.insert({d.read, d.write});
  }
  EXPECT_EQ(directions,
            (std::multiset<std::pair<bool, bool>>{{true, false}, {false, true}, {true, true}}));
  close(reader);
  close(writer);
  close(both);
}

}  // namespace
}  // namespace ipcwatch
