// The metric table (docs/metrics.md) is the contract with dashboards and alerts: every family the
// agent exports must be documented there, with the same type.
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "documented_metrics.h"

#ifndef IPCWATCH_SOURCE_DIR
#error "IPCWATCH_SOURCE_DIR must name the source tree"
#endif

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

TEST(DocumentedMetrics, EveryExportedFamilyIsInTheMetricTable) {
  const auto documented = documentedMetricTypes(IPCWATCH_SOURCE_DIR);
  ASSERT_GT(documented.size(), 10u) << "docs/metrics.md metric table not found";
  // Runs as root (probes attached) and not (collectors only); either way nothing may be missing.
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n");
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response);
  std::istringstream lines(response->body);
  std::string line;
  int families = 0;
  static const std::regex kType(R"(^# TYPE (\S+) (\S+)$)");
  while (std::getline(lines, line)) {
    std::smatch match;
    if (!std::regex_match(line, match, kType)) {
      continue;
    }
    ++families;
    const auto it = documented.find(match[1]);
    ASSERT_NE(it, documented.end())
        << match[1] << " is exported but not in the table of docs/metrics.md";
    EXPECT_EQ(it->second, match[2]) << match[1];
  }
  EXPECT_GT(families, 5);
}

}  // namespace
}  // namespace ipcwatch::testing
