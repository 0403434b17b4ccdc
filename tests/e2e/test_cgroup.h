#pragma once

#include <string>
#include <vector>

namespace ipcwatch::testing {

// The mount points of the hierarchies the agent may record: every cgroup2 mount and the cgroup
// v1 pids controller, whole hierarchies only (mountinfo root "/").
std::vector<std::string> cgroupMounts();

// A cgroup at the same relative path in every hierarchy of cgroupMounts(), removed (deepest
// first, only what it created) when it goes; its processes must have exited by then.
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& relative);
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  ~TestCgroup() { remove(); }

  // Why the cgroup could not be made; "" when it was.
  const std::string& error() const { return error_; }
  const std::vector<std::string>& leaves() const { return leaves_; }
  void remove();

 private:
  std::vector<std::string> created_;
  std::vector<std::string> leaves_;
  std::string error_;
};

// Moves the calling process into every leaf (writing 0 to cgroup.procs moves the writer).
bool enterSelf(const std::vector<std::string>& leaves);

// n random lowercase hex digits.
std::string randomHex(std::size_t n);

// A random pod uid (8-4-4-4-12 hex digits).
std::string randomPodUid();

}  // namespace ipcwatch::testing
