#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include <gtest/gtest.h>

#include "util/privileges.h"

namespace ipcwatch {
namespace {

// Runs fn in a forked child (capabilities changed there stay there); returns its exit code.
int inChild(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(Privileges, RootKeepsExactlyTheListedSet) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: only then are there capabilities to drop";
  }
  EXPECT_EQ(inChild([] {
              if (!dropCapabilities(keptCapabilities()).empty()) {
                return 1;
              }
              return currentCapabilities() ==
                             "cap_dac_read_search,cap_setgid,cap_setuid,cap_sys_chroot,"
                             "cap_sys_ptrace,cap_sys_admin=ep"
                         ? 0
                         : 2;
            }),
            0);
}

TEST(Privileges, AProcessWithoutCapabilitiesIsLeftAsItIs) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to become another user first";
  }
  EXPECT_EQ(inChild([] {
              if (setgid(65534) != 0 || setuid(65534) != 0) {
                return 1;
              }
              if (!dropCapabilities(keptCapabilities()).empty()) {
                return 2;
              }
              return currentCapabilities() == "=" ? 0 : 3;
            }),
            0);
}

TEST(Privileges, UnknownNamesAreRefused) {
  EXPECT_EQ(dropCapabilities({"cap_no_such_thing"}), "unknown capability cap_no_such_thing");
}

}  // namespace
}  // namespace ipcwatch
