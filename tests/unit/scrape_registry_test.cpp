#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "collectors/self_collector.h"
#include "http/http_server.h"
#include "metrics/family.h"
#include "metrics/scrape_registry.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FixedCollector : public Collector {
 public:
  std::string_view name() const override { return "fixed"; }
  void collect(std::vector<MetricFamily>& out) override {
    FamilyBuilder family("ipc_test_things", "Things.", MetricType::Gauge);
    family.set({{"kind", "a"}}, 3);
    out.push_back(family.build());
  }
};

class ThrowingCollector : public Collector {
 public:
  std::string_view name() const override { return "broken"; }
  void collect(std::vector<MetricFamily>& out) override {
    FamilyBuilder family("ipc_partial", "Partial output.", MetricType::Gauge);
    family.set({}, 1);
    out.push_back(family.build());
    throw std::runtime_error("cannot read /proc/nothing");
  }
};

class NonStdThrowingCollector : public Collector {
 public:
  std::string_view name() const override { return "weird"; }
  void collect(std::vector<MetricFamily>&) override { throw 42; }
};

class FakeProbe : public Probe {
 public:
  std::vector<ProgramStatus> programs() const override {
    return {{"prog_ok", true, "", "tp_btf"},
            {"prog_degraded", false, "attach: No such file or directory", ""}};
  }
};

TEST(ScrapeRegistry, FailingCollectorsReportZeroAndDropPartialOutput) {
  ScrapeRegistry registry;
  registry.add(std::make_unique<FixedCollector>());
  registry.add(std::make_unique<ThrowingCollector>());
  registry.add(std::make_unique<NonStdThrowingCollector>());
  const std::string text = renderMetrics(registry);
  EXPECT_THAT(text, HasSubstr("ipc_test_things{kind=\"a\"} 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("ipc_partial")));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_success{collector=\"fixed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_success{collector=\"broken\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_success{collector=\"weird\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_duration_seconds{collector=\"broken\"} "));
}

TEST(ScrapeRegistry, LogsAFailureStreakOnceAndTheRecovery) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::info);
  class Flaky : public Collector {
   public:
    std::string_view name() const override { return "flaky"; }
    void collect(std::vector<MetricFamily>&) override {
      if (fail) {
        throw std::runtime_error("no table");
      }
    }
    bool fail = true;
  };
  auto flaky = std::make_unique<Flaky>();
  Flaky* handle = flaky.get();
  ScrapeRegistry registry;
  registry.add(std::move(flaky));
  registry.collect();
  registry.collect();
  registry.collect();
  handle->fail = false;
  registry.collect();
  const auto lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("collector flaky failed: no table"));
  EXPECT_THAT(lines[1], HasSubstr("collector flaky recovered"));
}

TEST(FamilyBuilder, SumsSamplesWithEqualLabels) {
  FamilyBuilder family("ipc_x_total", "X.", MetricType::Counter);
  family.add({{"comm", "other"}}, 2);
  family.add({{"comm", "other"}}, 5);
  family.add({{"comm", "bash"}}, 1);
  const auto built = family.build();
  ASSERT_EQ(built.samples.size(), 2u);
  EXPECT_EQ(built.samples[0].labels[0].second, "bash");
  EXPECT_EQ(built.samples[0].value, 1);
  EXPECT_EQ(built.samples[1].labels[0].second, "other");
  EXPECT_EQ(built.samples[1].value, 7);
}

TEST(SelfCollector, ExposesBuildInfoProbeStateAndOverflow) {
  FakeProbe probe;
  LabelCaps caps(1, 1, 10);
  caps.comm("ipc_epipe_total").admit("a");
  caps.comm("ipc_epipe_total").admit("b");
  ScrapeRegistry registry;
  registry.add(std::make_unique<SelfCollector>(BuildInfo{"1.2.3", "abc", "1.1", "6.1.0"},
                                               std::vector<const Probe*>{&probe}, caps));
  const std::string text = renderMetrics(registry);
  EXPECT_THAT(text, HasSubstr("# TYPE ipcwatch_build_info gauge\n"
                              "ipcwatch_build_info{kernel_release=\"6.1.0\",libbpf_version=\"1.1\","
                              "revision=\"abc\",version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_probe_attached{probe=\"prog_degraded\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_probe_attached{probe=\"prog_ok\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ipcwatch_probe_backend gauge\n"
                              "ipcwatch_probe_backend{backend=\"tp_btf\",probe=\"prog_ok\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("ipcwatch_probe_backend{backend=\"\",probe=\"prog_degraded\"}")));
  EXPECT_THAT(text, HasSubstr("# TYPE ipcwatch_label_overflow_total counter\n"
                              "ipcwatch_label_overflow_total{metric=\"ipc_epipe_total\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_success{collector=\"self\"} 1\n"));
}

TEST(Exposition, EscapesHostileLabelValues) {
  FamilyBuilder family("ipc_x_total", "X.", MetricType::Counter);
  family.add({{"comm", "a\"b\\c\nd"}}, 1);
  ScrapeRegistry registry;
  class One : public Collector {
   public:
    explicit One(MetricFamily f) : f_(std::move(f)) {}
    std::string_view name() const override { return "one"; }
    void collect(std::vector<MetricFamily>& out) override { out.push_back(f_); }
    MetricFamily f_;
  };
  registry.add(std::make_unique<One>(family.build()));
  EXPECT_THAT(renderMetrics(registry), HasSubstr("ipc_x_total{comm=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace ipcwatch
