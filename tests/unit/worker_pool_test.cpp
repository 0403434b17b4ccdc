#include "http/worker_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;

// A latch the test opens to let blocked tasks finish.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      const std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(WorkerPoolTest, RunsAsManyTasksAtOnceAsItHasWorkers) {
  WorkerPool pool(2, 4);
  Gate gate;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i) {
    pool.enqueue([&] {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      gate.wait();
      --running;
      ++done;
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (running.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(running.load(), 2);
  gate.open();
  pool.shutdown();  // serves what is queued, then joins
  EXPECT_EQ(done.load(), 6);
  EXPECT_EQ(peak.load(), 2);
}

TEST(WorkerPoolTest, EnqueueWaitsWhileTheQueueIsFull) {
  WorkerPool pool(1, 1);
  Gate gate;
  std::promise<void> started;
  pool.enqueue([&] {
    started.set_value();
    gate.wait();
  });
  started.get_future().wait();  // the one worker is busy
  pool.enqueue([] {});          // fills the queue
  auto third = std::async(std::launch::async, [&] { pool.enqueue([] {}); });
  EXPECT_EQ(third.wait_for(300ms), std::future_status::timeout) << "enqueued past the limit";
  gate.open();
  EXPECT_EQ(third.wait_for(5s), std::future_status::ready);
  pool.shutdown();
}

}  // namespace
}  // namespace ipcwatch
