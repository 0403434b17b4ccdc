#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include "util/unique_fd.h"

namespace ipcwatch {

// How a background thread lives with failure: it has no caller to throw to, and an exception
// leaving it would end the agent in std::terminate.
struct RestartPolicy {
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{30000};
  // A body that ran this long before it failed starts again after first_backoff.
  std::chrono::milliseconds stable_run{60000};
};

// A background thread that waits in poll() on its own descriptors and on a stop eventfd, so a
// stop request wakes it at once instead of after a timeout. The thread gives up the start-up
// capabilities before its body runs (it only reads what it was handed). Destruction stops and
// joins it; members the body uses must be declared before the StoppableThread so that they
// outlive it.
//
// A body that throws (a map read that fails, bad_alloc) is caught: the first failure of the
// thread is logged at error (later ones at debug), every one is counted in
// backgroundThreadRestarts(), and the body is run again after a backoff that doubles from
// first_backoff up to max_backoff. A stop request ends the backoff at once.
class StoppableThread {
 public:
  // Throws std::system_error when the eventfd cannot be created.
  explicit StoppableThread(RestartPolicy policy = {});
  ~StoppableThread() { stop(); }
  StoppableThread(const StoppableThread&) = delete;
  StoppableThread& operator=(const StoppableThread&) = delete;

  // Runs `body(stop_fd)` on a new thread named `name` in the log (and, with every character
  // other than [a-z0-9_] as '_', in the thread label of ipcwatch_background_thread_restarts_total).
  // The body returns once stop_fd is readable (POLLIN), and throws on a failure it cannot
  // handle itself: it is then run again. It must be ready to run again from the state its
  // failure left behind.
  void start(std::string name, std::function<void(int stop_fd)> body);
  // Signals the thread and waits for it; safe to call more than once.
  void stop();

 private:
  void run(const std::string& name, const std::function<void(int stop_fd)>& body) const;

  const RestartPolicy policy_;
  UniqueFd stop_fd_;
  std::thread thread_;
};

// How many times each background thread's body failed and was started again, by the thread's
// label; a thread is listed (with 0) from its start. Process-wide: these threads are.
std::map<std::string, std::uint64_t> backgroundThreadRestarts();

// The label of a thread named `name` (see StoppableThread::start).
std::string backgroundThreadLabel(std::string_view name);

// Test seam: with IPCWATCH_TEST_FAIL_THREAD=<label>[:<count>] in the environment, the body of
// the background thread with that label throws at its next <count> (default 1) calls of this
// function, as a failing map read would. Bodies call it once per wake-up. Without the variable
// it costs a load and a comparison.
void injectedFailurePoint(std::string_view thread_name);

}  // namespace ipcwatch
