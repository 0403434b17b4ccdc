#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/config.h"
#include "endpoints/client_identity.h"
#include "inventory/host_snapshot.h"

namespace ipcwatch {
namespace {

// A fake procfs with a few processes: comm, status, cgroup and an exe symlink each.
class FakeProcfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcwatch-procfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    addProcess(100, "httpd", 0, "/usr/sbin/httpd", "0::/system.slice/httpd.service\n");
    addProcess(105, "httpd", 48, "/usr/sbin/httpd", "0::/system.slice/httpd.service\n");
    addProcess(200, "opensips", 999, "/usr/sbin/opensips", "0::/system.slice/opensips.service\n");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A snapshot of the fake procfs, taken after the test has written what it needs.
  HostSnapshot& snapshot() {
    if (!source_) {
      source_ = std::make_unique<HostSnapshotSource>(HostSnapshotOptions{root_}, nullptr);
      snapshot_ = source_->current();
    }
    return *snapshot_;
  }

  void addProcess(int pid, const std::string& comm, int uid, const std::string& exe,
                  const std::string& cgroup) {
    const std::string dir = root_ + "/" + std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/comm") << comm << "\n";
    std::ofstream(dir + "/cgroup") << cgroup;
    std::ofstream(dir + "/status")
        << "Name:\t" << comm << "\nUmask:\t0022\nUid:\t" << uid << "\t" << uid << "\t" << uid
        << "\t" << uid << "\nGid:\t" << uid << "\t" << uid << "\t" << uid << "\t" << uid
        << "\nGroups:\t" << uid << " 61300\n";
    std::filesystem::create_symlink(exe, dir + "/exe");
  }

  std::string root_;
  std::unique_ptr<HostSnapshotSource> source_;
  std::shared_ptr<HostSnapshot> snapshot_;
};

TEST_F(FakeProcfs, FindsServersByEveryKind) {
  EndpointServerConfig by_comm;
  by_comm.process = "opensips";
  EXPECT_EQ(findServerProcess(snapshot(), by_comm), 200u);
  EndpointServerConfig by_exe;
  by_exe.exe = "/usr/sbin/opensips";
  EXPECT_EQ(findServerProcess(snapshot(), by_exe), 200u);
  EndpointServerConfig by_unit;
  by_unit.systemd_unit = "opensips.service";
  EXPECT_EQ(findServerProcess(snapshot(), by_unit), 200u);
  EndpointServerConfig by_pid_file;
  by_pid_file.pid_file = root_ + "/opensips.pid";
  std::ofstream(by_pid_file.pid_file) << "200\n";
  EXPECT_EQ(findServerProcess(snapshot(), by_pid_file), 200u);
  std::ofstream(by_pid_file.pid_file) << "4000\n";  // stale pid file
  EXPECT_EQ(findServerProcess(snapshot(), by_pid_file), 0u);
  EndpointServerConfig none;
  none.process = "kamailio";
  EXPECT_EQ(findServerProcess(snapshot(), none), 0u);
}

TEST_F(FakeProcfs, ClientPrefersAProcessRunningAsTheConfiguredUser) {
  EXPECT_EQ(snapshot().pidsByComm("httpd"), (std::vector<std::uint32_t>{100, 105}));
  const auto worker = resolveClient(snapshot(), "httpd", "48");
  ASSERT_TRUE(worker.resolved);
  EXPECT_EQ(worker.pid, 105u);
  EXPECT_EQ(worker.uid, 48u);
  EXPECT_EQ(worker.groups, (std::vector<std::uint32_t>{48, 61300}));
  EXPECT_EQ(worker.root, root_ + "/105/root");
  // Without a user, the first one.
  EXPECT_EQ(resolveClient(snapshot(), "httpd", "").pid, 100u);
}

TEST_F(FakeProcfs, FallsBackToTheConfiguredUserAndSaysSo) {
  const auto id = resolveClient(snapshot(), "nginx", "61234:61300");
  ASSERT_TRUE(id.resolved);
  EXPECT_EQ(id.pid, 0u);
  EXPECT_EQ(id.uid, 61234u);
  EXPECT_EQ(id.gid, 61300u);
  EXPECT_EQ(id.root, "");
  EXPECT_NE(id.description.find("no process named 'nginx' runs"), std::string::npos)
      << id.description;
  const auto none = resolveClient(snapshot(), "nginx", "");
  EXPECT_FALSE(none.resolved);
  EXPECT_EQ(none.description, "no process named 'nginx' runs and no user is configured");
}

}  // namespace
}  // namespace ipcwatch
