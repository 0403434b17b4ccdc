#include "util/stoppable_thread.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

#include "util/privileges.h"

namespace ipcwatch {
namespace {

std::mutex& restartsMutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, std::uint64_t>& restarts() {
  static std::map<std::string, std::uint64_t> counts;
  return counts;
}

// IPCWATCH_TEST_FAIL_THREAD, read once: the label and how many failures are left to inject.
struct InjectedFailures {
  std::string label;
  std::atomic<int> left{0};

  InjectedFailures() {
    const char* value = std::getenv("IPCWATCH_TEST_FAIL_THREAD");
    if (value == nullptr || *value == '\0') {
      return;
    }
    const std::string_view text(value);
    const std::size_t colon = text.find(':');
    label = std::string(text.substr(0, colon));
    left = colon == std::string_view::npos ? 1 : std::atoi(value + colon + 1);
  }
};

InjectedFailures& injectedFailures() {
  static InjectedFailures failures;
  return failures;
}

// Waits for `timeout` or a stop request; true when stopping.
bool waitForStop(int stop_fd, std::chrono::milliseconds timeout) {
  pollfd stop{stop_fd, POLLIN, 0};
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    const int ready = ::poll(&stop, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready > 0) {
      return true;
    }
    if (ready == 0 || (ready < 0 && errno != EINTR)) {
      return false;
    }
  }
}

}  // namespace

std::string backgroundThreadLabel(std::string_view name) {
  std::string label(name);
  for (char& c : label) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      c = '_';
    }
  }
  return label;
}

std::map<std::string, std::uint64_t> backgroundThreadRestarts() {
  std::lock_guard lock(restartsMutex());
  return restarts();
}

void injectedFailurePoint(std::string_view thread_name) {
  InjectedFailures& failures = injectedFailures();
  if (failures.label.empty() || failures.left.load(std::memory_order_relaxed) <= 0 ||
      backgroundThreadLabel(thread_name) != failures.label) {
    return;
  }
  if (failures.left.fetch_sub(1) > 0) {
    throw std::runtime_error("failure injected by IPCWATCH_TEST_FAIL_THREAD");
  }
}

StoppableThread::StoppableThread(RestartPolicy policy)
    : policy_(policy), stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!stop_fd_.valid()) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
}

void StoppableThread::start(std::string name, std::function<void(int stop_fd)> body) {
  {
    std::lock_guard lock(restartsMutex());
    restarts().try_emplace(backgroundThreadLabel(name), 0);
  }
  thread_ = std::thread([this, name = std::move(name), body = std::move(body)] {
    dropThreadCapabilities(name.c_str());
    run(name, body);
  });
}

void StoppableThread::run(const std::string& name,
                          const std::function<void(int stop_fd)>& body) const {
  const int stop_fd = stop_fd_.get();
  const std::string label = backgroundThreadLabel(name);
  auto backoff = policy_.first_backoff;
  bool logged = false;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    std::string what;
    try {
      body(stop_fd);
      return;  // it saw the stop request
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "a non-standard exception";
    }
    if (std::chrono::steady_clock::now() - started >= policy_.stable_run) {
      backoff = policy_.first_backoff;
    }
    {
      std::lock_guard lock(restartsMutex());
      ++restarts()[label];
    }
    if (!logged) {
      spdlog::error(
          "{} thread failed: {}; starting it again in {} ms, and after each further failure "
          "(logged at debug level, counted in ipcwatch_background_thread_restarts_total)",
          name, what, backoff.count());
      logged = true;
    } else {
      spdlog::debug("{} thread failed: {}; starting it again in {} ms", name, what,
                    backoff.count());
    }
    if (waitForStop(stop_fd, backoff)) {
      return;
    }
    backoff = std::min(backoff * 2, policy_.max_backoff);
  }
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
