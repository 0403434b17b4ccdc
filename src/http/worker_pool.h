#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace ipcwatch {

// The connections the HTTP server serves at once: `workers` threads, each serving one
// connection at a time, and at most `queue` accepted connections waiting for a thread. When
// the queue is full, enqueue() blocks the accepting thread, so further clients wait in the
// kernel's listen backlog instead of costing the agent memory and file descriptors.
class WorkerPool : public httplib::TaskQueue {
 public:
  WorkerPool(std::size_t workers, std::size_t queue);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void enqueue(std::function<void()> fn) override;
  // Serves what is queued, then joins the threads.
  void shutdown() override;

 private:
  void work();

  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable queued_;  // a task arrived, or shutdown
  std::condition_variable taken_;   // room in the queue
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ipcwatch
