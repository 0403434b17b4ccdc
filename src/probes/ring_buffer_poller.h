#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include "util/stoppable_thread.h"

struct ring_buffer;

namespace ipcwatch {

// Drains one BPF ring buffer on a thread of its own: `on_record` for every record, then
// `after_poll` after every wait (at least every `timeout_ms`, also when nothing came). The
// thread gives up the start-up capabilities first; destruction stops and joins it, then frees
// the ring buffer. What the callbacks throw, and a failing poll or read, restart the thread's
// loop after a backoff (StoppableThread); a record whose callback threw is not handed over again.
class RingBufferPoller {
 public:
  using OnRecord = std::function<void(const void* data, std::size_t size)>;

  // `name` is the thread's name in the log. Throws std::system_error when libbpf cannot set
  // the ring buffer up.
  RingBufferPoller(int map_fd, std::string name, OnRecord on_record,
                   std::function<void()> after_poll = {}, int timeout_ms = 100);
  ~RingBufferPoller();
  RingBufferPoller(const RingBufferPoller&) = delete;
  RingBufferPoller& operator=(const RingBufferPoller&) = delete;

  // Starts the thread (once the programs that fill the buffer are attached).
  void start();

  // The record callback and what it threw, for libbpf's C callback (not for users).
  struct Callback {
    OnRecord on_record;
    std::exception_ptr failure;
  };

 private:
  struct RingBufferDeleter {
    void operator()(ring_buffer* rb) const;
  };

  void run(int stop_fd);

  const std::string name_;
  Callback callback_;
  const std::function<void()> after_poll_;
  const int timeout_ms_;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring_;
  StoppableThread thread_;  // after the ring buffer: stops before it is freed
};

}  // namespace ipcwatch
