// ProcessView reaches a path the way the process does: inside its root and mount namespace,
// so an absolute symlink of a container (/var/run -> /run) leads to the container's /run, not
// the agent's. A forked child plays the container: its own mount namespace, a tmpfs on its
// /run that only it has, chroot()ed into a scratch tree whose /var/run is a symlink to /run.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "child_process.h"
#include "probes/proc_paths.h"

namespace ipcwatch {
namespace {

class ProcessViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (a mount namespace, chroot, another process's root)";
    }
    char tmpl[] = "/tmp/ipcwatch-pv-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string root = dir_ + "/root";
    for (const char* sub : {"", "/run", "/var", "/var/lib"}) {
      ASSERT_EQ(mkdir((root + sub).c_str(), 0755), 0) << sub;
    }
    ASSERT_EQ(symlink("/run", (root + "/var/run").c_str()), 0);
    name_ = "ipcwatch-pv-" + std::to_string(getpid()) + ".fifo";
    // The child reports the descriptor of its /var (a dfd for relative paths) as its result.
    const std::string name = name_;
    child_ = std::make_unique<testing::HeldChild>("pvclient", [root, name] {
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0 ||
          mount("tmpfs", (root + "/run").c_str(), "tmpfs", 0, "mode=0755") != 0 ||
          chroot(root.c_str()) != 0 || chdir("/var/lib") != 0 ||
          mkfifo(("/run/" + name).c_str(), 0600) != 0) {
        return -errno;
      }
      return open("/var", O_RDONLY | O_DIRECTORY);
    });
    ASSERT_GT(child_->result(), 0) << "child setup failed: " << -child_->result();
    var_fd_ = child_->result();
  }

  void TearDown() override {
    child_.reset();
    if (!host_file_.empty()) {
      unlink(host_file_.c_str());
    }
    if (!dir_.empty()) {
      unlink((dir_ + "/root/var/run").c_str());
      for (const char* sub : {"/root/var/lib", "/root/var", "/root/run", "/root", ""}) {
        rmdir((dir_ + sub).c_str());
      }
    }
  }

  // lstat() of `path` as the child sees it; the errno when it fails.
  int lstatAs(int dfd, const std::string& path, struct stat& st) const {
    const ProcessView view("/proc", static_cast<std::uint32_t>(child_->pid()));
    return view.lstat(dfd, path, st) == 0 ? 0 : errno;
  }

  std::string dir_;
  std::string name_;
  std::string host_file_;
  std::unique_ptr<testing::HeldChild> child_;
  int var_fd_ = -1;
};

TEST_F(ProcessViewTest, AbsoluteSymlinkResolvesInTheProcesssRoot) {
  struct stat st {};
  ASSERT_EQ(lstatAs(AT_FDCWD, "/var/run/" + name_, st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(lstatAs(AT_FDCWD, "/run/" + name_, st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // The last component is not followed: /var/run is the symlink itself.
  ASSERT_EQ(lstatAs(AT_FDCWD, "/var/run", st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(ProcessViewTest, AFileOnlyAtTheAgentsRunIsNotFound) {
  host_file_ = "/run/ipcwatch-pv-host-" + std::to_string(getpid()) + ".fifo";
  ASSERT_EQ(mkfifo(host_file_.c_str(), 0600), 0);
  struct stat st {};
  EXPECT_EQ(lstatAs(AT_FDCWD, "/var/run/" + host_file_.substr(5), st), ENOENT);
  EXPECT_EQ(lstatAs(AT_FDCWD, host_file_, st), ENOENT);
}

TEST_F(ProcessViewTest, RelativePathsStayInTheProcesssRoot) {
  struct stat st {};
  // From its cwd (/var/lib), up and through the absolute symlink.
  ASSERT_EQ(lstatAs(AT_FDCWD, "../run/" + name_, st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // ".." above its root stays at its root, as for the process itself.
  ASSERT_EQ(lstatAs(AT_FDCWD, "../../../../run/" + name_, st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // Relative to one of its descriptors (its /var).
  ASSERT_EQ(lstatAs(var_fd_, "run/" + name_, st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // A relative path that never leaves the directory.
  ASSERT_EQ(lstatAs(var_fd_, "lib", st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(lstatAs(var_fd_, "run/missing", st), ENOENT);
}

}  // namespace
}  // namespace ipcwatch
