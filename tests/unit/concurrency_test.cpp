// The state that the agent's threads share (audit sources, ring-buffer pollers and HTTP
// workers write; scrapes read), exercised from several threads at once. The exact totals are
// asserted; `make test` also runs this suite under ThreadSanitizer (build-tsan).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "audit/denial_store.h"
#include "metrics/label_cap.h"
#include "metrics/parse_errors.h"
#include "metrics/scrape_registry.h"

namespace ipcwatch {
namespace {

// spdlog's registry is created on first use, inside libspdlog, which is not built with
// ThreadSanitizer: when the first use is two of a test's threads logging at once, TSan cannot
// see the function-static guard that orders them and reports a race. The agent creates it in
// main() (setupLogging) before any thread; so do these tests, on the main thread.
const auto* const kLoggingReady = ::testing::AddGlobalTestEnvironment([] {
  struct LoggingFirst : ::testing::Environment {
    void SetUp() override { spdlog::default_logger(); }
  };
  return new LoggingFirst;
}());

constexpr int kEvents = 400;

AuditRecord kernelAvc(int serial) {
  return parseAuditLine("type=AVC msg=audit(1700000000.000:" + std::to_string(serial) +
                        "): avc:  denied  { write } for  pid=" + std::to_string(serial) +
                        " comm=\"httpd\" scontext=system_u:system_r:httpd_t:s0 "
                        "tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file permissive=0")
      .at(0);
}

TEST(Concurrency, DenialStoreCountsEachDenialOnceAcrossSourceThreads) {
  LabelCaps caps(100, 100, 100);
  DenialStore store(caps, 20);
  store.declareSource("netlink");
  store.declareSource("audit_log");
  store.declareSource(DenialStore::kTracepointSource);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  // netlink and audit.log see the same events; the tracepoint sees other processes' denials.
  for (const char* source : {"netlink", "audit_log"}) {
    threads.emplace_back([&store, source] {
      for (int i = 1; i <= kEvents; ++i) {
        store.add(source, kernelAvc(i));
      }
    });
  }
  threads.emplace_back([&store] {
    for (int i = 1; i <= kEvents; ++i) {
      AvcMessage avc = kernelAvc(i).avc;
      avc.pid = 100000 + i;
      store.addTracepointDenial(avc, 1700000000, 0, std::chrono::steady_clock::now());
    }
  });
  std::thread reader([&] {
    while (!done) {
      const auto snapshot = store.snapshot();
      ASSERT_LE(snapshot.recent.size(), 20u);
    }
  });
  for (auto& t : threads) {
    t.join();
  }
  done = true;
  reader.join();
  store.expireTracepointDenials(std::chrono::steady_clock::now() + DenialStore::kMatchWindow);
  const auto s = store.snapshot();
  const DenialStore::DenialKey key{"fifo_file", "write", "httpd_t", "user_tmp_t", "0", "kernel"};
  EXPECT_EQ(s.denials.at(key), 2u * kEvents);
  EXPECT_EQ((s.records.at({"netlink", "AVC"})), static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ((s.records.at({"audit_log", "AVC"})), static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ((s.records.at({"tracepoint", "AVC"})), static_cast<std::uint64_t>(kEvents));
}

TEST(Concurrency, LabelCapAdmitsTheSameValuesForEveryThread) {
  LabelCap cap(100, 1000);
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&cap, &seen, t] {
      for (int i = 0; i < 1000; ++i) {
        // Each thread walks all the values in its own order (steps coprime with 1000).
        constexpr int kSteps[] = {1, 3, 7, 9};
        const int v = (i * kSteps[t] + t * 37) % 1000;
        seen[t].push_back(std::to_string(v) + "=" + cap.admit("value" + std::to_string(v)));
      }
      std::sort(seen[t].begin(), seen[t].end());
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(cap.admittedCount(), 100u);
  for (int t = 1; t < kThreads; ++t) {
    EXPECT_EQ(seen[t], seen[0]) << "admission is permanent: every thread sees the same answer";
  }
  EXPECT_EQ(cap.folds(), 900u);
}

TEST(Concurrency, ParseErrorsCountEveryRecordFromEveryThread) {
  ParseErrors errors;
  errors.declare("sysv_ipc");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&errors] {
      for (int i = 0; i < kEvents; ++i) {
        errors.record("sysv_ipc", "shm", "bad line");
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::uint64_t total = 0;
  for (const auto& [name, count] : errors.counts()) {
    total += count;
  }
  EXPECT_EQ(total, 4u * kEvents);
}

class CountingCollector : public Collector {
 public:
  explicit CountingCollector(std::atomic<int>& calls) : calls_(calls) {}
  std::string_view name() const override { return "counting"; }
  void collect(std::vector<MetricFamily>& out) override {
    MetricFamily family;
    family.name = "test_calls_total";
    family.type = MetricType::Counter;
    Sample sample;
    sample.value = ++calls_;
    family.samples.push_back(sample);
    out.push_back(std::move(family));
  }

 private:
  std::atomic<int>& calls_;
};

TEST(Concurrency, ConcurrentScrapesAreCompleteAndMonotonic) {
  std::atomic<int> calls{0};
  ScrapeRegistry registry;
  registry.add(std::make_unique<CountingCollector>(calls));
  constexpr int kThreads = 8;
  constexpr int kScrapes = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      double last = 0;
      for (int i = 0; i < kScrapes; ++i) {
        bool found = false;
        for (const auto& family : registry.collect()) {
          if (family.name == "test_calls_total") {
            found = true;
            const double value = family.samples.at(0).value;
            failures += value <= last ? 1 : 0;  // every scrape sees a later count
            last = value;
          }
        }
        failures += found ? 0 : 1;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(calls, kThreads * kScrapes);
}

}  // namespace
}  // namespace ipcwatch
