#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace ipcwatch {

// Runs a call that can hang in the kernel (a stat() through /proc/PID/fd/N of a file on a dead
// NFS or FUSE mount) on a worker thread, and waits for it only until a deadline. A call still
// running then is abandoned: the caller goes on, and the worker ends on its own whenever the
// kernel lets it. While an abandoned call is still stuck, later calls fail at once instead of
// stacking up threads behind the same mount, as node_exporter's stuckMountWatcher does. So one
// stuck mount costs one scrape's budget, not the agent.
template <typename T>
class StuckCallGuard {
 public:
  enum class Outcome { kDone, kTimedOut, kStillStuck };

  // Returns the call's result, or nullopt with `outcome` saying why there is none. Exceptions
  // thrown by `call` reach the caller.
  std::optional<T> run(std::function<T()> call, std::chrono::steady_clock::time_point deadline,
                       Outcome& outcome) {
    std::lock_guard lock(mutex_);
    if (abandoned_ && !abandoned_->finished()) {
      outcome = Outcome::kStillStuck;
      return std::nullopt;
    }
    abandoned_.reset();
    auto state = std::make_shared<State>();
    std::thread([state, call = std::move(call)] {
      std::optional<T> result;
      std::exception_ptr failure;
      try {
        result = call();
      } catch (...) {
        failure = std::current_exception();
      }
      std::lock_guard state_lock(state->mutex);
      state->result = std::move(result);
      state->failure = failure;
      state->done = true;
      state->cv.notify_all();
    }).detach();
    std::unique_lock state_lock(state->mutex);
    if (!state->cv.wait_until(state_lock, deadline, [&] { return state->done; })) {
      abandoned_ = state;
      outcome = Outcome::kTimedOut;
      return std::nullopt;
    }
    outcome = Outcome::kDone;
    if (state->failure) {
      std::rethrow_exception(state->failure);
    }
    return std::move(state->result);
  }

  // Whether an abandoned call has not returned yet.
  bool stuck() const {
    std::lock_guard lock(mutex_);
    return abandoned_ && !abandoned_->finished();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<T> result;
    std::exception_ptr failure;
    bool done = false;
    bool finished() {
      std::lock_guard lock(mutex);
      return done;
    }
  };

  mutable std::mutex mutex_;
  std::shared_ptr<State> abandoned_;
};

}  // namespace ipcwatch
