#include <poll.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "util/stoppable_thread.h"

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::uint64_t restartsOf(const std::string& label) {
  const auto all = backgroundThreadRestarts();
  const auto it = all.find(label);
  return it == all.end() ? ~std::uint64_t{0} : it->second;
}

// Polls `done` for up to 5 s.
bool eventually(const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(1ms);  // polling interval
  }
  return true;
}

// A body that throws (bad_alloc, then a runtime_error) is run again after each failure, each
// failure counted; only the first is logged at error. Before, the exception reached
// std::terminate.
TEST(StoppableThread, AFailingBodyIsCountedLoggedOnceAndRunAgain) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::info);
  std::atomic<int> runs{0};
  std::atomic<bool> waiting{false};
  {
    StoppableThread thread(RestartPolicy{1ms, 4ms, 60s});
    EXPECT_EQ(restartsOf("test_flaky_source"), ~std::uint64_t{0});
    thread.start("test flaky-source", [&](int stop_fd) {
      const int run = ++runs;
      if (run == 1) {
        throw std::bad_alloc();
      }
      if (run == 2) {
        throw std::runtime_error("map read failed");
      }
      waiting = true;
      pollfd stop{stop_fd, POLLIN, 0};
      while (::poll(&stop, 1, -1) <= 0) {
      }
    });
    ASSERT_TRUE(eventually([&] { return waiting.load(); }));
    EXPECT_EQ(runs, 3);
    EXPECT_EQ(restartsOf("test_flaky_source"), 2u);
  }  // stops and joins
  const auto lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("test flaky-source thread failed: std::bad_alloc"));
  EXPECT_THAT(lines[0], HasSubstr("ipcwatch_background_thread_restarts_total"));
}

// A thread listed from its start, with 0.
TEST(StoppableThread, ListedWithZeroRestartsFromItsStart) {
  StoppableThread thread;
  thread.start("test steady", [](int stop_fd) {
    pollfd stop{stop_fd, POLLIN, 0};
    while (::poll(&stop, 1, -1) <= 0) {
    }
  });
  EXPECT_EQ(restartsOf("test_steady"), 0u);
}

// The backoff before a restart ends at once when a stop is asked for.
TEST(StoppableThread, StopEndsTheBackoff) {
  StoppableThread thread(RestartPolicy{60s, 60s, 60s});
  thread.start("test always failing", [](int) { throw std::runtime_error("always"); });
  ASSERT_TRUE(eventually([] { return restartsOf("test_always_failing") == 1; }));
  const auto start = std::chrono::steady_clock::now();
  thread.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(restartsOf("test_always_failing"), 1u);
}

// The backoff doubles from first_backoff up to max_backoff: the waits announced after each
// failure (the first at error, the others at debug) are 10, 20, 40, 40 ms.
TEST(StoppableThread, BackoffDoublesUpToItsBound) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::debug);
  std::atomic<int> runs{0};
  {
    StoppableThread thread(RestartPolicy{10ms, 40ms, 60s});
    thread.start("test backoff", [&](int stop_fd) {
      if (++runs <= 4) {
        throw std::runtime_error("again");
      }
      pollfd stop{stop_fd, POLLIN, 0};
      while (::poll(&stop, 1, -1) <= 0) {
      }
    });
    ASSERT_TRUE(eventually([&] { return runs == 5; }));
  }
  const auto lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  spdlog::set_level(spdlog::level::info);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0],
              HasSubstr("[error] test backoff thread failed: again; starting it again in 10 ms"));
  EXPECT_THAT(lines[1],
              HasSubstr("[debug] test backoff thread failed: again; starting it again in 20 ms"));
  EXPECT_THAT(lines[2], HasSubstr("starting it again in 40 ms"));
  EXPECT_THAT(lines[3], HasSubstr("starting it again in 40 ms"));
  EXPECT_EQ(restartsOf("test_backoff"), 4u);
}

}  // namespace
}  // namespace ipcwatch
