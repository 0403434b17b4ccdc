// How the fifo_open collector reads the in-flight opens, against a real BPF hash map (root
// only) whose other entries threads insert and delete all the time, as every open() does: each
// entry that stays is read exactly once per read, and every read ends.
#include <bpf/bpf.h>
#include <linux/types.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "collectors/fifo_open_collector.h"
#include "ipcwatch/bpf/fifo_open.h"

namespace ipcwatch {
namespace {

constexpr __u32 kMapEntries = 16384;  // as bpf/fifo_open.bpf.c sizes `inflight`
constexpr __u32 kBlocked = 16;        // entries that stay (opens blocked for long)
constexpr int kChurners = 2;
constexpr __u32 kKeysPerChurner = 256;

class InflightMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create BPF maps";
    }
    fd_ = bpf_map_create(BPF_MAP_TYPE_HASH, "inflight_test", sizeof(__u32),
                         sizeof(ipcw_inflight_open), kMapEntries, nullptr);
    ASSERT_GE(fd_, 0);
    for (__u32 tid = 1; tid <= kBlocked; ++tid) {
      const ipcw_inflight_open open{tid, 0, 0, 0, tid, 0};  // start_ns tells the entries apart
      ASSERT_EQ(bpf_map_update_elem(fd_, &tid, &open, BPF_ANY), 0);
    }
  }
  void TearDown() override {
    stop_ = true;
    for (auto& thread : churners_) {
      thread.join();
    }
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  // Threads that insert and delete their own keys without pause. Returns once they run.
  void startChurn() {
    std::atomic<int> running = 0;
    for (int c = 0; c < kChurners; ++c) {
      churners_.emplace_back([this, c, &running] {
        const __u32 base = 100000 + static_cast<__u32>(c) * kKeysPerChurner;
        ++running;
        while (!stop_) {
          // Each key lives while the others are inserted, as opens overlap.
          for (__u32 tid = base; tid < base + kKeysPerChurner; ++tid) {
            const ipcw_inflight_open open{1'000'000 + tid, 0, 0, 0, tid, 0};
            bpf_map_update_elem(fd_, &tid, &open, BPF_ANY);
          }
          for (__u32 tid = base; tid < base + kKeysPerChurner; ++tid) {
            bpf_map_delete_elem(fd_, &tid);
          }
        }
      });
    }
    while (running < kChurners) {
      std::this_thread::yield();
    }
  }

  // Every read sees each entry that stays exactly once, and nothing that was never inserted.
  void expectEachBlockedOnce(const std::function<std::vector<ipcw_inflight_open>()>& read) {
    startChurn();
    for (int i = 0; i < 300; ++i) {
      std::map<std::uint64_t, int> times;
      for (const auto& open : read()) {
        ASSERT_TRUE(open.start_ns <= kBlocked || open.start_ns > 1'000'000) << open.start_ns;
        if (open.start_ns <= kBlocked) {
          ++times[open.start_ns];
        }
      }
      ASSERT_EQ(times.size(), kBlocked) << "read " << i;
      for (const auto& [start, n] : times) {
        ASSERT_EQ(n, 1) << "entry " << start << ", read " << i;
      }
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_ = false;
  std::vector<std::thread> churners_;
};

TEST_F(InflightMapTest, BatchReadSeesEachEntryOnce) {
  expectEachBlockedOnce([this] { return readInflightOpens(fd_); });
}

TEST_F(InflightMapTest, KeyWalkSeesEachEntryOnceAndEnds) {
  expectEachBlockedOnce([this] { return readInflightOpensByKey(fd_, 4 * kMapEntries); });
}

TEST_F(InflightMapTest, KeyWalkStopsAtItsBound) {
  EXPECT_EQ(readInflightOpensByKey(fd_, 3).size(), 3u);
  EXPECT_EQ(readInflightOpensByKey(fd_, 4 * kMapEntries).size(), kBlocked);
}

}  // namespace
}  // namespace ipcwatch
