#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/collector_table.h"
#include "config/config.h"
#include "reload_plan.h"

namespace ipcwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ReloadPlanTest : public ::testing::Test {
 protected:
  void SetUp() override { setKnownCollectors(collectorNames()); }
  void TearDown() override { setKnownCollectors({}); }
};

TEST_F(ReloadPlanTest, RuntimeSettingsApply) {
  const Config running = parseConfig("log:\n  level: info\n", "a.yaml");
  const Config loaded = parseConfig(
      "log:\n  level: debug\ncollectors:\n  sysv_ipc: false\nscan:\n  max_depth: 2\n", "b.yaml");
  std::vector<std::string> not_applied;
  const Config next = reloadableConfig(running, loaded, not_applied);
  EXPECT_THAT(not_applied, IsEmpty());
  EXPECT_EQ(next.log.level, "debug");
  EXPECT_FALSE(collectorEnabled(next, "sysv_ipc"));
  EXPECT_EQ(next.scan.max_depth, 2u);
  EXPECT_EQ(next.source, "b.yaml");
}

TEST_F(ReloadPlanTest, RestartOnlySettingsKeepTheirRunningValues) {
  const Config running = parseConfig("web:\n  listen_address: \":9000\"\n", "a.yaml");
  const Config loaded = parseConfig(
      "web:\n  listen_address: \":9001\"\nprobes:\n  fifo_open:\n    enabled: false\n"
      "labels:\n  comm: 5\ncollectors:\n  selinux: false\n  sysv_ipc: false\n",
      "b.yaml");
  std::vector<std::string> not_applied;
  const Config next = reloadableConfig(running, loaded, not_applied);
  EXPECT_THAT(not_applied,
              ElementsAre("web changed: not applied, restart ipcwatch to apply",
                          "probes changed: not applied, restart ipcwatch to apply",
                          "labels changed: not applied, restart ipcwatch to apply",
                          "collectors.selinux changed: not applied, restart ipcwatch to apply"));
  EXPECT_EQ(next.web.listen_address, ":9000");
  EXPECT_TRUE(next.probes.fifo_open.enabled);
  EXPECT_EQ(next.labels.comm, running.labels.comm);
  EXPECT_TRUE(collectorEnabled(next, "selinux"));
  EXPECT_FALSE(collectorEnabled(next, "sysv_ipc"));
}

TEST_F(ReloadPlanTest, SameConfigurationIsANoOp) {
  const Config running = parseConfig(embeddedDefaultConfig(), "<embedded default>");
  std::vector<std::string> not_applied;
  reloadableConfig(running, running, not_applied);
  EXPECT_THAT(not_applied, IsEmpty());
}

}  // namespace
}  // namespace ipcwatch
