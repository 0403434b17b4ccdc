#include "http/worker_pool.h"

namespace ipcwatch {

WorkerPool::WorkerPool(std::size_t workers, std::size_t queue) : capacity_(queue) {
  threads_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    threads_.emplace_back([this] { work(); });
  }
}

WorkerPool::~WorkerPool() {
  shutdown();
}

void WorkerPool::enqueue(std::function<void()> fn) {
  std::unique_lock lock(mutex_);
  taken_.wait(lock, [this] { return tasks_.size() < capacity_ || stopping_; });
  tasks_.push_back(std::move(fn));
  queued_.notify_one();
}

void WorkerPool::shutdown() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  taken_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [this] { return !tasks_.empty() || stopping_; });
      if (tasks_.empty()) {
        return;  // stopping, and nothing left to serve
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
      taken_.notify_one();
    }
    task();  // serves the connection and closes its socket
  }
}

}  // namespace ipcwatch
