#include "probes/ring_buffer_poller.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <bpf/libbpf.h>
#include "util/libbpf_error.h"

namespace ipcwatch {
namespace {

// libbpf is C: nothing may unwind through it. A callback that throws ends this consume with an
// error (libbpf has already stepped past the record, so it is not handed over again), and the
// exception is thrown again once libbpf has returned.
int onRecord(void* ctx, void* data, std::size_t size) {
  auto& callback = *static_cast<RingBufferPoller::Callback*>(ctx);
  try {
    callback.on_record(data, size);
    return 0;
  } catch (...) {
    callback.failure = std::current_exception();
    return -ECANCELED;
  }
}

}  // namespace

void RingBufferPoller::RingBufferDeleter::operator()(ring_buffer* rb) const {
  ring_buffer__free(rb);
}

RingBufferPoller::RingBufferPoller(int map_fd, std::string name, OnRecord on_record,
                                   std::function<void()> after_poll, int timeout_ms)
    : name_(std::move(name)),
      callback_{std::move(on_record), nullptr},
      after_poll_(std::move(after_poll)),
      timeout_ms_(timeout_ms) {
  // The callback context points at callback_, which lives as long as the ring buffer.
  ring_.reset(ring_buffer__new(map_fd, onRecord, &callback_, nullptr));
  if (!ring_) {
    throw std::system_error(errno, std::generic_category(), "ring buffer");
  }
}

RingBufferPoller::~RingBufferPoller() {
  thread_.stop();
}

void RingBufferPoller::start() {
  thread_.start(name_, [this](int stop_fd) { run(stop_fd); });
}

// Waits on the ring buffer's epoll fd and the stop fd together, so a stop does not wait out
// the poll timeout; records are consumed without blocking once the epoll fd is ready. A failure
// throws: the thread runs this again after a backoff (see StoppableThread).
void RingBufferPoller::run(int stop_fd) {
  pollfd fds[2] = {{ring_buffer__epoll_fd(ring_.get()), POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, timeout_ms_);
    if (ready < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), name_ + ": poll");
    }
    if (fds[1].revents != 0) {
      return;
    }
    injectedFailurePoint(name_);
    const int n = ring_buffer__consume(ring_.get());
    if (callback_.failure) {
      std::rethrow_exception(std::exchange(callback_.failure, nullptr));
    }
    if (n < 0 && n != -EINTR) {
      throw std::runtime_error(name_ + ": ring buffer read failed: " + libbpfErrorText(-n));
    }
    if (after_poll_) {
      after_poll_();
    }
  }
}

}  // namespace ipcwatch
