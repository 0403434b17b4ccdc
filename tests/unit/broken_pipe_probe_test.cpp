// The probe against the real kernel (root only): degraded programs do not take the others down,
// and the collectors read exact counts for this process.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "child_process.h"
#include "collectors/broken_pipe_collector.h"
#include "http/http_server.h"
#include "metrics/scrape_registry.h"
#include "probes/broken_pipe_probe.h"

namespace ipcwatch {
namespace {

using ipcwatch::testing::exitedCleanly;
using ipcwatch::testing::runAs;
using ipcwatch::testing::writeToBrokenPipe;

using ::testing::HasSubstr;

class BrokenPipeProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
    }
  }
};

TEST_F(BrokenPipeProbeTest, UnknownProgramIsDegradedOthersAttach) {
  BrokenPipeProbeOptions options;
  options.syscalls = {"write", "no_such_syscall"};
  options.sigpipe = false;
  options.pipe_limits = false;
  BrokenPipeProbe probe(options);
  ASSERT_TRUE(probe.loaded());
  const auto programs = probe.programs();
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_EQ(programs[0].name, "epipe_write");
  EXPECT_TRUE(programs[0].attached) << programs[0].error;
  EXPECT_EQ(programs[1].name, "epipe_no_such_syscall");
  EXPECT_FALSE(programs[1].attached);
  EXPECT_EQ(programs[1].error, "program not found in BPF object");
}

TEST_F(BrokenPipeProbeTest, OnlyEnabledProgramsAreListed) {
  BrokenPipeProbeOptions options;
  options.epipe = false;
  options.pipe_limits = false;
  BrokenPipeProbe probe(options);
  const auto programs = probe.programs();
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_EQ(programs[0].name, "sigpipe_generate");
  EXPECT_EQ(programs[1].name, "sigpipe_exit");
  EXPECT_TRUE(programs[0].attached && programs[1].attached);
  options.sigpipe = false;
  options.pipe_limits = true;
  BrokenPipeProbe limits(options);
  const auto pipe_programs = limits.programs();
  ASSERT_EQ(pipe_programs.size(), 3u);
  EXPECT_EQ(pipe_programs[0].name, "pipe_limit_pipe");
  EXPECT_EQ(pipe_programs[1].name, "pipe_limit_pipe2");
  EXPECT_EQ(pipe_programs[2].name, "pipe_limit_fcntl");
  for (const auto& program : pipe_programs) {
    EXPECT_TRUE(program.attached) << program.name << ": " << program.error;
  }
}

TEST_F(BrokenPipeProbeTest, CollectorsReportExactCountsForOwnChild) {
  BrokenPipeProbeOptions options;
  options.syscalls = {"write"};
  BrokenPipeProbe probe(options);
  ASSERT_TRUE(probe.loaded());
  // Other processes on the host may hit EPIPE too: the cap is large enough to admit them all,
  // and the assertions look only at the comm of our own child.
  LabelCaps caps(100000, 100000, 10);
  ScrapeRegistry registry;
  registry.add(std::make_unique<BrokenPipeCollector>(probe, caps));
  registry.add(std::make_unique<SigpipeCollector>(probe, caps));

  const std::string comm = "iw-unit-" + std::to_string(getpid() % 100000);
  ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(5); })));

  const std::string text = renderMetrics(registry);
  EXPECT_THAT(text, HasSubstr("ipc_epipe_total{comm=\"" + comm + "\",kind=\"pipe\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("ipc_sigpipe_total{action=\"ignored\",comm=\"" + comm + "\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_collector_success{collector=\"broken_pipe\"} 1\n"));
}

}  // namespace
}  // namespace ipcwatch
