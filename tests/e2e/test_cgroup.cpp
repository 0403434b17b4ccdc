// Cgroups for end-to-end tests of who failed: the test's processes fail in cgroups named as
// systemd and the kubelet name theirs, in every hierarchy the agent may record.
#include "test_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace ipcwatch::testing {

std::vector<std::string> cgroupMounts() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> mounts;
  std::string line;
  while (std::getline(in, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream left(line.substr(0, dash));
    std::istringstream right(line.substr(dash + 3));
    std::string id, parent, dev, root, point, fstype, source, options;
    left >> id >> parent >> dev >> root >> point;
    right >> fstype >> source >> options;
    const bool pids =
        fstype == "cgroup" && ("," + options + ",").find(",pids,") != std::string::npos;
    if (root == "/" && (fstype == "cgroup2" || pids)) {
      mounts.push_back(point);
    }
  }
  return mounts;
}

TestCgroup::TestCgroup(const std::string& relative) {
  for (const auto& mount : cgroupMounts()) {
    std::string path = mount;
    std::istringstream parts(relative);
    std::string part;
    while (std::getline(parts, part, '/')) {
      path += "/" + part;
      if (mkdir(path.c_str(), 0755) == 0) {
        created_.push_back(path);
      } else if (errno != EEXIST) {
        error_ = "mkdir " + path + ": " + std::strerror(errno);
        return;
      }
    }
    leaves_.push_back(path);
  }
  if (leaves_.empty()) {
    error_ = "no cgroup2 or cgroup v1 pids hierarchy is mounted";
  }
}

void TestCgroup::remove() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    rmdir(it->c_str());
  }
  created_.clear();
}

bool enterSelf(const std::vector<std::string>& leaves) {
  for (const auto& leaf : leaves) {
    const int fd = open((leaf + "/cgroup.procs").c_str(), O_WRONLY);
    if (fd < 0) {
      return false;
    }
    const bool ok = write(fd, "0", 1) == 1;
    close(fd);
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string randomHex(std::size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[rng() % 16];
  }
  return out;
}

std::string randomPodUid() {
  return randomHex(8) + "-" + randomHex(4) + "-" + randomHex(4) + "-" + randomHex(4) + "-" +
         randomHex(12);
}

}  // namespace ipcwatch::testing
