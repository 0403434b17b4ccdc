#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "util/unique_fd.h"

namespace ipcwatch {

// A background thread that waits in poll() on its own descriptors and on a stop eventfd, so a
// stop request wakes it at once instead of after a timeout. The thread gives up the start-up
// capabilities before its body runs (it only reads what it was handed). Destruction stops and
// joins it; members the body uses must be declared before the StoppableThread so that they
// outlive it.
class StoppableThread {
 public:
  // Throws std::system_error when the eventfd cannot be created.
  StoppableThread();
  ~StoppableThread() { stop(); }
  StoppableThread(const StoppableThread&) = delete;
  StoppableThread& operator=(const StoppableThread&) = delete;

  // Runs `body(stop_fd)` on a new thread named `name` in the log. The body returns once
  // stop_fd is readable (POLLIN).
  void start(std::string name, std::function<void(int stop_fd)> body);
  // Signals the thread and waits for it; safe to call more than once.
  void stop();

 private:
  UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace ipcwatch
