#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

// Helpers shared by the unit, end-to-end, benchmark and soak programs for producing real IPC
// events from processes of their own.
namespace ipcwatch::testing {

// Runs `body` in a forked child named `comm` (the comm the probes label its events with), waits
// for it and returns its wait status; `body`'s return value is the child's exit code.
int runAs(const std::string& comm, const std::function<int()>& body);

// Ignores SIGPIPE and writes `writes` single bytes to a pipe whose reader is closed. Returns 0
// when every write failed with EPIPE, non-zero otherwise: an exit code for runAs.
int writeToBrokenPipe(int writes);

// Whether a wait status is a normal exit with code 0.
bool exitedCleanly(int status);

// A forked child named `comm` that runs `setup`, reports what it returned (0 for success, or
// e.g. a descriptor number) through a pipe, and then stays alive holding what it opened until
// the test is done with it (destruction or stop() kills and reaps it; it also dies with its
// parent). The constructor returns once the child has reported.
class HeldChild {
 public:
  HeldChild(const std::string& comm, const std::function<int()>& setup);
  ~HeldChild() { stop(); }
  HeldChild(const HeldChild&) = delete;
  HeldChild& operator=(const HeldChild&) = delete;

  void stop();
  pid_t pid() const { return pid_; }
  int result() const { return result_; }  // -1 when the child could not report
  bool ready() const { return pid_ > 0 && result_ == 0; }

 private:
  pid_t pid_ = -1;
  int result_ = -1;
};

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"), -1 when it cannot be read.
long procStatusKiB(pid_t pid, const std::string& field);
// The same summed over `pid` and its live children: the agent and its web process.
long processTreeStatusKiB(pid_t pid, const std::string& field);
// The live children of `pid` (/proc/PID/task/*/children).
std::vector<pid_t> liveChildren(pid_t pid);

}  // namespace ipcwatch::testing
