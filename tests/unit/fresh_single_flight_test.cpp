#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "util/fresh_single_flight.h"

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;

// Callers that arrive during a run wait for it and then share one new run.
TEST(Concurrency, FreshSingleFlightSharesTheNextRunAmongWaiters) {
  FreshSingleFlight<int> flight;
  std::atomic<int> runs{0};
  std::promise<void> release_first;
  std::shared_future<void> first_released = release_first.get_future().share();
  std::promise<void> first_started;
  std::thread first([&] {
    const auto result = flight.get([&] {
      first_started.set_value();
      first_released.wait();
      return ++runs;
    });
    EXPECT_EQ(*result, 1);
  });
  first_started.get_future().wait();
  std::vector<std::thread> late;
  std::vector<int> seen(3, 0);
  for (int i = 0; i < 3; ++i) {
    late.emplace_back(
        [&, i] { seen[static_cast<std::size_t>(i)] = *flight.get([&] { return ++runs; }); });
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (flight.waiting() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(flight.waiting(), 3u);
  release_first.set_value();
  first.join();
  for (auto& thread : late) {
    thread.join();
  }
  EXPECT_EQ(runs.load(), 2);                     // one more run for the three, not three
  EXPECT_EQ(seen, (std::vector<int>{2, 2, 2}));  // none got the run that began before it asked
}

// Under contention no caller ever gets a result gathered before it asked.
TEST(Concurrency, FreshSingleFlightNeverServesAnOlderResult) {
  FreshSingleFlight<long> flight;
  std::atomic<long> events{0};
  std::atomic<int> runs{0};
  std::atomic<int> calls{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 6; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const long before = ++events;
        ++calls;
        const auto seen = flight.get([&] {
          ++runs;
          return events.load();
        });
        ASSERT_GE(*seen, before);
      }
    });
  }
  for (auto& caller : callers) {
    caller.join();
  }
  EXPECT_EQ(calls.load(), 1200);
  EXPECT_LE(runs.load(), 1200);
}

TEST(Concurrency, FreshSingleFlightHandsTheFailureToItsSharers) {
  FreshSingleFlight<int> flight;
  EXPECT_THROW(flight.get([]() -> int { throw std::runtime_error("collect failed"); }),
               std::runtime_error);
  EXPECT_EQ(*flight.get([] { return 5; }), 5);  // a failure does not stick
}

}  // namespace
}  // namespace ipcwatch
