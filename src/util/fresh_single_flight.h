#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

namespace ipcwatch {

// Shares one run of an expensive function among the callers that wait for it, without ever
// handing a caller a result older than its own call: a caller gets the result of a run that
// started after it arrived. Callers arriving while a run is in progress wait for it to end and
// then share the next run, so N concurrent scrapes cost at most two gatherings of the host,
// not N, and every one still sees everything that happened before it asked.
template <typename T>
class FreshSingleFlight {
 public:
  std::shared_ptr<const T> get(const std::function<T()>& run) {
    std::unique_lock lock(mutex_);
    const std::uint64_t wanted = started_ + 1;  // the next run to start is fresh enough
    for (;;) {
      if (finished_ >= wanted) {
        if (failure_) {
          std::rethrow_exception(failure_);
        }
        return last_;
      }
      if (!running_) {
        running_ = true;
        ++started_;
        lock.unlock();
        std::shared_ptr<const T> result;
        std::exception_ptr failure;
        try {
          result = std::make_shared<const T>(run());
        } catch (...) {
          failure = std::current_exception();
        }
        lock.lock();
        last_ = result;
        failure_ = failure;
        finished_ = started_;
        running_ = false;
        cv_.notify_all();
        if (failure) {
          std::rethrow_exception(failure);
        }
        return result;
      }
      ++waiting_;
      cv_.wait(lock);
      --waiting_;
    }
  }

  // Callers waiting for a run to end (for tests).
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t waiting_ = 0;
  bool running_ = false;
  std::uint64_t started_ = 0;
  std::uint64_t finished_ = 0;
  std::shared_ptr<const T> last_;
  std::exception_ptr failure_;
};

}  // namespace ipcwatch
