// SeriesTable writes exactly what FamilyBuilder and the text format write for the same samples,
// scrape after scrape, while keeping its series between scrapes.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics/family.h"
#include "metrics/series_table.h"
#include "metrics/text_format.h"

namespace ipcwatch {
namespace {

struct Add {
  LabelSet labels;
  double value;
};

std::string viaFamilyBuilder(const std::vector<Add>& adds, const std::string& help = "X.") {
  FamilyBuilder builder("ipc_x_total", help, MetricType::Counter);
  for (const auto& add : adds) {
    builder.add(add.labels, add.value);
  }
  std::string text;
  if (!builder.empty()) {
    appendExposition(text, {builder.build()});
  }
  return text;
}

std::string viaSeriesTable(SeriesTable& table, const std::vector<Add>& adds) {
  table.beginScrape();
  for (const auto& add : adds) {
    table.add(table.slot(add.labels), add.value);
  }
  std::string text;
  if (!table.empty()) {
    appendExposition(text, {table.build()});
  }
  return text;
}

TEST(SeriesTable, WritesWhatFamilyBuilderWrites) {
  const std::vector<Add> adds = {
      {{{"comm", "zsh"}, {"kind", "pipe"}}, 3},
      {{{"comm", "a\"b\\c\nd"}, {"kind", "fifo"}}, 1},
      {{{"comm", "bash"}, {"kind", "pipe"}}, 2},
      {{{"comm", "a"}, {"kind", "pipe"}}, 0.5},
      {{{"comm", "a b"}, {"kind", "pipe"}}, 1e21},  // "a" < "a b" as label sets, not as text
      {{{"comm", "a"}, {"kind", "fifo"}}, 4},
      {{{"comm", "zsh"}, {"kind", "pipe"}}, 4},  // summed into the first
      {{{"comm", "\xc3\xa9t\xc3\xa9"}, {"kind", "tcp"}}, 7},
  };
  SeriesTable table("ipc_x_total", "X \\ and\nnewline.", MetricType::Counter);
  const std::string expected = viaFamilyBuilder(adds, "X \\ and\nnewline.");
  EXPECT_EQ(viaSeriesTable(table, adds), expected);
  EXPECT_EQ(expected,
            "# HELP ipc_x_total X \\\\ and\\nnewline.\n"
            "# TYPE ipc_x_total counter\n"
            "ipc_x_total{comm=\"a\",kind=\"fifo\"} 4\n"
            "ipc_x_total{comm=\"a\",kind=\"pipe\"} 0.5\n"
            "ipc_x_total{comm=\"a b\",kind=\"pipe\"} 1e+21\n"
            "ipc_x_total{comm=\"a\\\"b\\\\c\\nd\",kind=\"fifo\"} 1\n"
            "ipc_x_total{comm=\"bash\",kind=\"pipe\"} 2\n"
            "ipc_x_total{comm=\"zsh\",kind=\"pipe\"} 7\n"
            "ipc_x_total{comm=\"\xc3\xa9t\xc3\xa9\",kind=\"tcp\"} 7\n");
  EXPECT_EQ(table.size(), 7u);
}

TEST(SeriesTable, EachScrapeWritesOnlyItsOwnSeriesAndValues) {
  SeriesTable table("ipc_x_total", "X.", MetricType::Counter);
  const std::vector<Add> first = {{{{"comm", "b"}}, 1}, {{{"comm", "d"}}, 2}};
  const std::vector<Add> second = {
      {{{"comm", "c"}}, 5}, {{{"comm", "d"}}, 3}, {{{"comm", "a"}}, 1}, {{{"comm", "c"}}, 1}};
  const std::vector<Add> third = {{{{"comm", "b"}}, 9}};
  EXPECT_EQ(viaSeriesTable(table, first), viaFamilyBuilder(first));
  EXPECT_EQ(viaSeriesTable(table, second), viaFamilyBuilder(second));
  EXPECT_EQ(viaSeriesTable(table, third),
            "# HELP ipc_x_total X.\n# TYPE ipc_x_total counter\nipc_x_total{comm=\"b\"} 9\n");
  EXPECT_EQ(viaSeriesTable(table, {}), "");
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.size(), 4u);
}

TEST(SeriesTable, SetReplacesAndEmptyLabelSetHasNoBraces) {
  SeriesTable table("ipc_g", "", MetricType::Gauge);
  table.beginScrape();
  const auto slot = table.slot({});
  table.set(slot, 2);
  table.set(slot, 5);
  std::string text;
  appendExposition(text, {table.build()});
  EXPECT_EQ(text, "# TYPE ipc_g gauge\nipc_g 5\n");
}

// Many scrapes of random label sets, some new each time: the order kept by merging new series
// in is the order FamilyBuilder sorts.
TEST(SeriesTable, MergedOrderMatchesSortedOrderOverManyScrapes) {
  std::mt19937 random(7);
  SeriesTable table("ipc_x_total", "X.", MetricType::Counter);
  const std::vector<std::string> kinds = {"pipe", "fifo", "unix_stream"};
  for (int scrape = 0; scrape < 20; ++scrape) {
    std::vector<Add> adds;
    const int count = static_cast<int>(random() % 200);
    for (int i = 0; i < count; ++i) {
      std::string comm(1 + random() % 6, 'a');
      for (char& c : comm) {
        c = static_cast<char>("ab \"\\\n"[random() % 6]);
      }
      adds.push_back({{{"comm", comm}, {"kind", kinds[random() % kinds.size()]}},
                      static_cast<double>(random() % 1000)});
    }
    ASSERT_EQ(viaSeriesTable(table, adds), viaFamilyBuilder(adds)) << "scrape " << scrape;
  }
}

}  // namespace
}  // namespace ipcwatch
