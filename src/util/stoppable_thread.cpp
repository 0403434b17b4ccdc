#include "util/stoppable_thread.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <system_error>

#include <spdlog/spdlog.h>

#include "util/privileges.h"

namespace ipcwatch {

StoppableThread::StoppableThread() : stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!stop_fd_.valid()) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
}

void StoppableThread::start(std::string name, std::function<void(int stop_fd)> body) {
  thread_ = std::thread([name = std::move(name), body = std::move(body), fd = stop_fd_.get()] {
    dropThreadCapabilities(name.c_str());
    body(fd);
  });
}

void StoppableThread::stop() {
  if (!thread_.joinable()) {
    return;
  }
  const std::uint64_t one = 1;
  if (::write(stop_fd_.get(), &one, sizeof one) != sizeof one) {
    spdlog::error("cannot signal a background thread to stop; waiting for it");
  }
  thread_.join();
}

}  // namespace ipcwatch
