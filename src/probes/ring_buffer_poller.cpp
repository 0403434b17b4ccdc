#include "probes/ring_buffer_poller.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "util/libbpf_error.h"

namespace ipcwatch {
namespace {

int onRecord(void* ctx, void* data, std::size_t size) {
  (*static_cast<const RingBufferPoller::OnRecord*>(ctx))(data, size);
  return 0;
}

}  // namespace

void RingBufferPoller::RingBufferDeleter::operator()(ring_buffer* rb) const {
  ring_buffer__free(rb);
}

RingBufferPoller::RingBufferPoller(int map_fd, std::string name, OnRecord on_record,
                                   std::function<void()> after_poll, int timeout_ms)
    : name_(std::move(name)),
      on_record_(std::move(on_record)),
      after_poll_(std::move(after_poll)),
      timeout_ms_(timeout_ms) {
  // The callback context points at on_record_, which lives as long as the ring buffer.
  ring_.reset(ring_buffer__new(map_fd, onRecord, const_cast<OnRecord*>(&on_record_), nullptr));
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
// the poll timeout; records are consumed without blocking once the epoll fd is ready.
void RingBufferPoller::run(int stop_fd) {
  pollfd fds[2] = {{ring_buffer__epoll_fd(ring_.get()), POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, timeout_ms_);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("{}: poll failed: {}", name_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    const int n = ring_buffer__consume(ring_.get());
    if (n < 0 && n != -EINTR) {
      spdlog::error("{}: ring buffer read failed: {}", name_, libbpfErrorText(-n));
      return;
    }
    if (after_poll_) {
      after_poll_();
    }
  }
}

}  // namespace ipcwatch
