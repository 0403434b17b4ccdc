// Workload labels from cgroup ids: the path rules on the names systemd, the container runtimes
// and the kubelet really make; hierarchy detection on fixture mount tables of pure v2, hybrid
// and v1 hosts; the resolver on a plain directory tree standing in for the cgroup file system
// (a cgroup id is its directory's inode number, and so is a plain directory's st_ino).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "inventory/cgroup_hierarchy.h"
#include "inventory/workload.h"

namespace ipcwatch {
namespace {

// Walks whenever an id is not found: what these tests of what a walk finds need.
constexpr std::chrono::milliseconds kNoWalkInterval{0};

const std::string kId = "6e3ba87fd5ceb4c7bd22e923942b478ec01f6c64d45ea61748195761ecc1dfb0";
const std::string kShortId = "6e3ba87fd5ce";
const std::string kUid = "3f8a2c1e-9b4d-4e6f-a1b2-c3d4e5f60718";
// As systemd slice names write it.
const std::string kUidEscaped = "3f8a2c1e_9b4d_4e6f_a1b2_c3d4e5f60718";

Workload unitOnly(std::string unit) {
  return Workload{std::move(unit), "", "", "", ""};
}
Workload containerOnly() {
  return Workload{"", kShortId, "", "", ""};
}
Workload podContainer() {
  return Workload{"", kShortId, kUid, "", ""};
}
Workload podOnly() {
  return Workload{"", "", kUid, "", ""};
}

struct PathCase {
  std::string path;
  Workload expected;
};

TEST(WorkloadFromCgroupPathTest, FollowsTheNamingOfSystemdRuntimesAndTheKubelet) {
  const std::string upper_id = "6E3BA87FD5CEB4C7BD22E923942B478EC01F6C64D45EA61748195761ECC1DFB0";
  const std::string burstable_pod =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidEscaped + ".slice";
  const std::vector<PathCase> cases = {
      {"/system.slice/nginx.service", unitOnly("nginx.service")},
      {"/system.slice/nginx.service/worker", unitOnly("nginx.service")},
      {"/system.slice/nginx.service/", unitOnly("nginx.service")},
      {"/user.slice/user-1000.slice/user@1000.service/init.scope", unitOnly("user@1000.service")},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
       unitOnly("foo.service")},
      {"/user.slice/user-1000.slice/session-3.scope", unitOnly("session-3.scope")},
      {"/init.scope", unitOnly("init.scope")},
      {"/system.slice/docker-" + kId + ".scope", containerOnly()},
      {"/machine.slice/libpod-" + kId + ".scope", containerOnly()},
      {"/machine.slice/libpod-conmon-" + kId + ".scope", Workload{}},
      {"/system.slice/crio-conmon-" + kId + ".scope", Workload{}},
      // Rootless Podman: the user's manager runs the container.
      {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope",
       Workload{"user@1000.service", kShortId, "", "", ""}},
      {burstable_pod + "/cri-containerd-" + kId + ".scope", podContainer()},
      {burstable_pod, podOnly()},
      {"/kubepods.slice/kubepods-pod" + kUidEscaped + ".slice/crio-" + kId + ".scope",
       podContainer()},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidEscaped +
           ".slice/crio-conmon-" + kId + ".scope",
       podOnly()},
      // cgroupfs driver.
      {"/kubepods/burstable/pod" + kUid + "/" + kId, podContainer()},
      {"/kubepods/besteffort/pod" + kUid + "/" + kId + "/", podContainer()},
      {"/kubepods/pod" + kUid + "/" + kId, podContainer()},
      {"/kubepods/" + kId, containerOnly()},
      {"/kubepods/burstable/" + kId, containerOnly()},
      {"/docker/" + kId, containerOnly()},
      {"/docker/" + kId + "/sub", containerOnly()},
      // Nothing to say, or garbage.
      {"/", Workload{}},
      {"", Workload{}},
      {"///", Workload{}},
      {"/system.slice/.service", Workload{}},
      {"/docker/xyz", Workload{}},
      {"/docker/" + kId.substr(0, 63), Workload{}},
      {"/docker/" + upper_id, Workload{}},
      {"/elsewhere/" + kId, Workload{}},
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnotauid.slice", Workload{}},
      // A slice name cannot carry the UID's dashes: systemd would have escaped them.
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUid + ".slice",
       Workload{}},
      {"/kubepods/burstable/pod3F8A2C1E-9B4D-4E6F-A1B2-C3D4E5F60718/" + kId, Workload{}},
      {"/kubepods/burstable/pod3f8a2c1e-9b4d-4e6f-a1b2-c3d4e5f6071/" + kId, Workload{}},
      {"/unrelated/pod" + kUid, Workload{}},
  };
  for (const PathCase& c : cases) {
    EXPECT_EQ(workloadFromCgroupPath(c.path), c.expected) << c.path;
  }
}

// --- detectCgroupHierarchy on fixture procfs trees ---

constexpr const char* kProcCgroups5x =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t5\t1\t1\n"
    "cpu\t3\t64\t1\n"
    "cpuacct\t3\t64\t1\n"
    "blkio\t9\t64\t1\n"
    "memory\t4\t120\t1\n"
    "devices\t8\t64\t1\n"
    "freezer\t10\t1\t1\n"
    "net_cls\t6\t1\t1\n"
    "perf_event\t7\t1\t1\n"
    "net_prio\t6\t1\t1\n"
    "hugetlb\t11\t1\t1\n"
    "pids\t2\t70\t1\n"
    "rdma\t12\t1\t1\n";

constexpr const char* kBaseMounts =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
    "28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n";

constexpr const char* kHybridMounts =
    "25 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "27 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "31 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "32 25 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
    "cgroup rw,memory\n"
    "35 25 0:34 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup "
    "rw,pids\n";

class CgroupHierarchyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcwatch-cgh-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(mkdir((dir_ + "/self").c_str(), 0755), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void writeProc(const std::string& mountinfo, const std::string& cgroups) {
    std::ofstream(dir_ + "/self/mountinfo") << mountinfo;
    std::ofstream(dir_ + "/cgroups") << cgroups;
  }

  std::optional<CgroupHierarchy> detect(std::string_view preference) {
    why_.clear();
    return detectCgroupHierarchy(dir_, preference, &why_);
  }

  std::string dir_;
  std::string why_;
};

TEST_F(CgroupHierarchyTest, PureV2HostUsesTheUnifiedHierarchy) {
  // On a v2-only host every controller is on the default hierarchy: hierarchy column 0.
  writeProc(std::string(kBaseMounts) +
                "26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
                "cgroup2 rw,nsdelegate,memory_recursiveprot\n",
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t90\t1\ncpu\t0\t90\t1\n"
            "memory\t0\t90\t1\npids\t0\t90\t1\n");
  const auto hierarchy = detect("auto");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup");
  EXPECT_EQ(hierarchy->controller, "");
  EXPECT_EQ(hierarchy->describe(), "cgroup2 at /sys/fs/cgroup");
}

TEST_F(CgroupHierarchyTest, HybridHostUsesThePidsController) {
  writeProc(std::string(kBaseMounts) + kHybridMounts, kProcCgroups5x);
  const auto hierarchy = detect("auto");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup/pids");
  EXPECT_EQ(hierarchy->controller, "pids");
  EXPECT_EQ(hierarchy->describe(), "cgroup v1 controller pids at /sys/fs/cgroup/pids");
}

TEST_F(CgroupHierarchyTest, V1HostWithoutPidsUsesMemory) {
  writeProc(std::string(kBaseMounts) +
                "25 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs "
                "ro,mode=755\n"
                "27 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - "
                "cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,"
                "name=systemd\n"
                "31 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime "
                "shared:15 - cgroup cgroup rw,cpu,cpuacct\n"
                "32 25 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - "
                "cgroup cgroup rw,memory\n",
            kProcCgroups5x);
  const auto hierarchy = detect("auto");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup/memory");
  EXPECT_EQ(hierarchy->controller, "memory");
  EXPECT_EQ(hierarchy->describe(), "cgroup v1 controller memory at /sys/fs/cgroup/memory");
}

TEST_F(CgroupHierarchyTest, PreferenceUnifiedOnAHybridHost) {
  writeProc(std::string(kBaseMounts) + kHybridMounts, kProcCgroups5x);
  const auto hierarchy = detect("unified");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(hierarchy->controller, "");
}

TEST_F(CgroupHierarchyTest, PreferenceOfACoMountedController) {
  writeProc(std::string(kBaseMounts) + kHybridMounts, kProcCgroups5x);
  const auto hierarchy = detect("cpu");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(hierarchy->controller, "cpu");
}

TEST_F(CgroupHierarchyTest, PreferredControllerNotMounted) {
  writeProc(std::string(kBaseMounts) + kHybridMounts, kProcCgroups5x);
  EXPECT_FALSE(detect("blkio"));
  EXPECT_NE(why_.find("blkio"), std::string::npos) << why_;
  EXPECT_NE(why_.find("not mounted"), std::string::npos) << why_;
  // A named hierarchy has no controller, so nothing the kernel side could read.
  EXPECT_FALSE(detect("name=systemd"));
}

TEST_F(CgroupHierarchyTest, NothingMounted) {
  writeProc(kBaseMounts, kProcCgroups5x);
  EXPECT_FALSE(detect("auto"));
  EXPECT_FALSE(why_.empty());
  EXPECT_FALSE(detect("unified"));
  EXPECT_NE(why_.find("cgroup2"), std::string::npos) << why_;
}

TEST_F(CgroupHierarchyTest, UnreadableMountinfoNamesTheFile) {
  EXPECT_FALSE(detect("auto"));
  EXPECT_NE(why_.find(dir_ + "/self/mountinfo"), std::string::npos) << why_;
}

TEST_F(CgroupHierarchyTest, MountPointEscapesAreDecoded) {
  writeProc(std::string(kBaseMounts) +
                "35 22 0:34 / /srv/my\\040cgroups/pids rw,relatime - cgroup cgroup rw,pids\n",
            kProcCgroups5x);
  const auto hierarchy = detect("pids");
  ASSERT_TRUE(hierarchy) << why_;
  EXPECT_EQ(hierarchy->root, "/srv/my cgroups/pids");
}

// --- WorkloadResolver on a fake cgroup tree ---

std::uint64_t inodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

void makeDirs(const std::string& path) {
  std::filesystem::create_directories(path);
}

// Sets a directory's mtime to a fixed past second, so the test decides when it changes.
void setMtime(const std::string& path, time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class WorkloadResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcwatch-wl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/cgroup";
    pods_ = dir_ + "/pods";
    nginx_ = root_ + "/system.slice/ipcwatch-test-nginx.service";
    pod_slice_ = root_ + "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                 kUidEscaped + ".slice";
    container_ = pod_slice_ + "/cri-containerd-" + kId + ".scope";
    makeDirs(nginx_);
    makeDirs(container_);
    makeDirs(pods_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string podLogDir() const { return pods_ + "/shop_checkout-7d9f8b6c5-x2x4q_" + kUid; }
  Workload fullPod() const {
    return Workload{"", kShortId, kUid, "shop", "checkout-7d9f8b6c5-x2x4q"};
  }

  std::string dir_, root_, pods_, nginx_, pod_slice_, container_;
};

TEST_F(WorkloadResolverTest, ResolvesUnitsAndPodContainers) {
  makeDirs(podLogDir());
  makeDirs(pods_ + "/not-a-pod-dir");
  makeDirs(pods_ + "/a_b_c_d");
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  EXPECT_EQ(resolver.resolve(inodeOf(nginx_)), unitOnly("ipcwatch-test-nginx.service"));
  EXPECT_EQ(resolver.resolve(inodeOf(container_)), fullPod());
  EXPECT_EQ(resolver.resolve(inodeOf(pod_slice_)),
            (Workload{"", "", kUid, "shop", "checkout-7d9f8b6c5-x2x4q"}));
  EXPECT_EQ(resolver.resolve(inodeOf(root_)), Workload{});
  EXPECT_EQ(resolver.cgroupPath(inodeOf(root_)), "/");
  EXPECT_EQ(resolver.cgroupPath(inodeOf(nginx_)), "/system.slice/ipcwatch-test-nginx.service");
  EXPECT_EQ(resolver.cgroupPath(inodeOf(container_)), container_.substr(root_.size()));
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST_F(WorkloadResolverTest, IdZeroIsNoCgroupAndCostsNoWalk) {
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  EXPECT_EQ(resolver.resolve(0), Workload{});
  EXPECT_EQ(resolver.cgroupPath(0), std::nullopt);
  EXPECT_EQ(resolver.walks(), 0u);
}

TEST_F(WorkloadResolverTest, FindsACgroupMadeAfterTheLastWalk) {
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  EXPECT_EQ(resolver.resolve(inodeOf(nginx_)).unit, "ipcwatch-test-nginx.service");
  const std::string late = root_ + "/system.slice/late.service";
  makeDirs(late);
  EXPECT_EQ(resolver.resolve(inodeOf(late)), unitOnly("late.service"));
  EXPECT_EQ(resolver.walks(), 2u);
  EXPECT_EQ(resolver.resolve(inodeOf(nginx_)).unit, "ipcwatch-test-nginx.service");
  EXPECT_EQ(resolver.walks(), 2u);
}

TEST_F(WorkloadResolverTest, RemovedCgroupKeepsItsWorkload) {
  makeDirs(podLogDir());
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  const std::uint64_t id = inodeOf(container_);
  ASSERT_EQ(resolver.resolve(id), fullPod());
  // Made before the removal, so that it cannot get the freed inode number.
  const std::string late = root_ + "/system.slice/late.service";
  makeDirs(late);
  std::filesystem::remove(container_);
  std::filesystem::remove_all(podLogDir());
  // A later walk (for another id) drops the path; the resolved labels stay.
  EXPECT_EQ(resolver.resolve(inodeOf(late)).unit, "late.service");
  EXPECT_EQ(resolver.cgroupPath(id), std::nullopt);
  EXPECT_EQ(resolver.resolve(id), fullPod());
}

TEST_F(WorkloadResolverTest, OneWalkServesTheQuestionsOfAScrape) {
  // Within the interval after a walk, ids it did not find are gone: no walk per id.
  WorkloadResolver resolver(root_, pods_, "", std::chrono::hours(1));
  EXPECT_EQ(resolver.resolve(inodeOf(nginx_)).unit, "ipcwatch-test-nginx.service");
  EXPECT_EQ(resolver.walks(), 1u);
  for (std::uint64_t gone = 1; gone <= 100; ++gone) {
    EXPECT_EQ(resolver.resolve(~gone), Workload{});
  }
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST_F(WorkloadResolverTest, UnknownIdIsAskedOnceOfTheFileSystem) {
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  const std::uint64_t unknown = 0x7fff'ffff'ffffULL;
  EXPECT_EQ(resolver.resolve(unknown), Workload{});
  EXPECT_EQ(resolver.walks(), 1u);
  EXPECT_EQ(resolver.resolve(unknown), Workload{});
  EXPECT_EQ(resolver.cgroupPath(unknown), std::nullopt);
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST_F(WorkloadResolverTest, SymlinksAndDeepTreesAreNotFollowedOut) {
  const std::string outside = dir_ + "/outside/elsewhere.service";
  makeDirs(outside);
  ASSERT_EQ(symlink((dir_ + "/outside").c_str(), (root_ + "/link").c_str()), 0);
  std::string deep = root_;
  std::vector<std::string> levels;
  for (int depth = 1; depth <= WorkloadResolver::kMaxDepth + 1; ++depth) {
    deep += "/d" + std::to_string(depth);
    levels.push_back(deep);
  }
  makeDirs(deep);
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  EXPECT_EQ(resolver.resolve(inodeOf(outside)), Workload{});
  EXPECT_TRUE(resolver.cgroupPath(inodeOf(levels[WorkloadResolver::kMaxDepth - 1])));
  EXPECT_FALSE(resolver.cgroupPath(inodeOf(levels[WorkloadResolver::kMaxDepth])));
}

TEST_F(WorkloadResolverTest, TenThousandSiblingCgroups) {
  const std::string slice = root_ + "/many.slice";
  makeDirs(slice);
  constexpr int kCount = 10'000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(mkdir((slice + "/c" + std::to_string(i) + ".service").c_str(), 0755), 0) << i;
  }
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  for (const int i : {0, 1, 17, 4'999, 8'191, kCount - 1}) {
    const std::string unit = "c" + std::to_string(i) + ".service";
    EXPECT_EQ(resolver.resolve(inodeOf(slice + "/" + unit)), unitOnly(unit));
    EXPECT_EQ(resolver.cgroupPath(inodeOf(slice + "/" + unit)), "/many.slice/" + unit);
  }
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST_F(WorkloadResolverTest, ConcurrentResolvesAgree) {
  makeDirs(podLogDir());
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  const std::uint64_t nginx = inodeOf(nginx_);
  const std::uint64_t container = inodeOf(container_);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        wrong[t] += resolver.resolve(nginx).unit != "ipcwatch-test-nginx.service";
        wrong[t] += !(resolver.resolve(container) == fullPod());
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST(PodDirectoryTest, MissingPodLogsGiveNoNamesAndNoError) {
  char tmpl[] = "/tmp/ipcwatch-wl-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string scope = dir + "/kubepods/burstable/pod" + kUid + "/" + kId;
  makeDirs(scope);
  WorkloadResolver resolver(dir, dir + "/no-such-pods-dir");
  EXPECT_EQ(resolver.resolve(inodeOf(scope)), podContainer());
  std::filesystem::remove_all(dir);
}

TEST_F(WorkloadResolverTest, PodDirectoryMadeLaterIsFound) {
  setMtime(pods_, 1'000'000'000);
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  const std::uint64_t id = inodeOf(container_);
  EXPECT_EQ(resolver.resolve(id), podContainer());
  makeDirs(podLogDir());  // changes the directory's mtime
  EXPECT_EQ(resolver.resolve(id), fullPod());
  EXPECT_EQ(resolver.walks(), 1u);
}

TEST_F(WorkloadResolverTest, PodDirectoryIsRescannedOnlyWhenItsMtimeChanged) {
  setMtime(pods_, 1'000'000'000);
  WorkloadResolver resolver(root_, pods_, "", kNoWalkInterval);
  const std::uint64_t id = inodeOf(container_);
  EXPECT_EQ(resolver.resolve(id), podContainer());
  makeDirs(podLogDir());
  setMtime(pods_, 1'000'000'000);  // as if unchanged: the index is trusted
  EXPECT_EQ(resolver.resolve(id), podContainer());
  setMtime(pods_, 1'000'000'100);
  EXPECT_EQ(resolver.resolve(id), fullPod());
}

TEST(CgroupPathIn, FindsTheLineOfTheHierarchy) {
  const std::string hybrid =
      "12:pids:/system.slice/nginx.service\n"
      "4:memory:/system.slice/nginx.service\n"
      "2:cpu,cpuacct:/system.slice/nginx.service/worker\n"
      "1:name=systemd:/system.slice/nginx.service\n"
      "0::/system.slice/nginx.service\n";
  EXPECT_EQ(cgroupPathIn(hybrid, "pids"), "/system.slice/nginx.service");
  EXPECT_EQ(cgroupPathIn(hybrid, "cpu"), "/system.slice/nginx.service/worker");
  EXPECT_EQ(cgroupPathIn(hybrid, ""), "/system.slice/nginx.service");
  EXPECT_EQ(cgroupPathIn(hybrid, "blkio"), std::nullopt);
  EXPECT_EQ(cgroupPathIn(hybrid, "systemd"), std::nullopt);  // name=systemd is not a controller
  // A path may hold ':'; the last line need not end in a newline.
  EXPECT_EQ(cgroupPathIn("0::/a:b/c.scope", ""), "/a:b/c.scope");
  EXPECT_EQ(cgroupPathIn("", ""), std::nullopt);
  EXPECT_EQ(cgroupPathIn("garbage\n", "pids"), std::nullopt);
}

TEST(WorkloadResolverPath, ResolvesAPathWithItsPod) {
  char tmpl[] = "/tmp/ipcwatch-wpath-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string uid = "0b9f0c3e-1d2a-4c5b-8e7f-123456789abc";
  ASSERT_EQ(mkdir((dir + "/shop_php-0_" + uid).c_str(), 0755), 0);
  WorkloadResolver resolver(dir + "/none", dir);
  const Workload workload =
      resolver.resolvePath("/kubepods/burstable/pod" + uid + "/" + std::string(64, 'a'));
  EXPECT_EQ(workload.container_id, std::string(12, 'a'));
  EXPECT_EQ(workload.pod_uid, uid);
  EXPECT_EQ(workload.pod_namespace, "shop");
  EXPECT_EQ(workload.pod, "php-0");
  EXPECT_EQ(resolver.walks(), 0u);  // a path needs no walk
  std::filesystem::remove_all(dir);
}

TEST(HostCgroupMount, MovesTheHierarchyBelowTheHostsCgroupRoot) {
  EXPECT_EQ(hostCgroupMount("/sys/fs/cgroup", ""), "/sys/fs/cgroup");
  EXPECT_EQ(hostCgroupMount("/sys/fs/cgroup", "/host/sys/fs/cgroup"), "/host/sys/fs/cgroup");
  EXPECT_EQ(hostCgroupMount("/sys/fs/cgroup/pids", "/host/sys/fs/cgroup"),
            "/host/sys/fs/cgroup/pids");
  EXPECT_EQ(hostCgroupMount("/sys/fs/cgroup/unified", "/host/sys/fs/cgroup"),
            "/host/sys/fs/cgroup/unified");
  // Not under /sys/fs/cgroup (or only by prefix): left as mounted.
  EXPECT_EQ(hostCgroupMount("/host/sys/fs/cgroup/pids", "/host/sys/fs/cgroup"),
            "/host/sys/fs/cgroup/pids");
  EXPECT_EQ(hostCgroupMount("/sys/fs/cgroupx", "/host/sys/fs/cgroup"), "/sys/fs/cgroupx");
}

}  // namespace
}  // namespace ipcwatch
