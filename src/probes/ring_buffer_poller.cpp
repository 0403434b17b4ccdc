#include "probes/ring_buffer_poller.h"

#include <cerrno>
#include <system_error>

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "util/privileges.h"
#include "probes/program_set.h"

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
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RingBufferPoller::start() { thread_ = std::thread([this] { run(); }); }

void RingBufferPoller::run() {
  dropThreadCapabilities(name_.c_str());
  while (!stop_) {
    const int n = ring_buffer__poll(ring_.get(), timeout_ms_);
    if (n < 0 && n != -EINTR) {
      spdlog::error("{}: ring buffer poll failed: {}", name_, libbpfErrorText(-n));
      return;
    }
    if (after_poll_) {
      after_poll_();
    }
  }
}

}  // namespace ipcwatch
