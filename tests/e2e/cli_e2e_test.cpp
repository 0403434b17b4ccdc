// The binary's command line as a user meets it: exit codes and messages (no root needed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string writeTemp(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/ipcwatch-cli-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, VersionAndHelp) {
  const auto [version_code, version] = runCommand(std::string(IPCWATCH_BINARY) + " --version");
  EXPECT_EQ(version_code, 0);
  EXPECT_THAT(version, HasSubstr("ipcwatch 0.1.0 (revision "));
  const auto [help_code, help] = runCommand(std::string(IPCWATCH_BINARY) + " --help");
  EXPECT_EQ(help_code, 0);
  EXPECT_THAT(help, HasSubstr("ipcwatch check-config FILE"));
}

TEST(Cli, UnknownFlagIsAUsageError) {
  const auto [code, output] = runCommand(std::string(IPCWATCH_BINARY) + " --no-such-flag");
  EXPECT_EQ(code, 2);
  EXPECT_THAT(output, HasSubstr("ipcwatch: unknown argument '--no-such-flag'"));
  EXPECT_THAT(output, HasSubstr("Usage:"));
}

TEST(Cli, CheckConfigAcceptsAValidFile) {
  const std::string path = writeTemp("good.yaml", "log:\n  level: debug\n");
  const auto [code, output] = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + path);
  unlink(path.c_str());
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr(path + ": configuration is valid"));
}

TEST(Cli, CheckConfigNamesFileLineAndKey) {
  const std::string path = writeTemp("bad.yaml", "log:\n  level: loud\nprobes:\n  brokenpipe: {}\n");
  const auto [code, output] = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + path);
  unlink(path.c_str());
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr(path + ":2:10: log.level"));
  EXPECT_THAT(output, HasSubstr(path + ":4:3: probes.brokenpipe"));
}

TEST(Cli, AgentRefusesABadConfigBeforeStarting) {
  const std::string path = writeTemp("bad-agent.yaml", "labels:\n  comm: 0\n");
  const auto [code, output] = runCommand(std::string(IPCWATCH_BINARY) + " --config " + path);
  unlink(path.c_str());
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr(path + ":2:9: labels.comm"));
  EXPECT_THAT(output, ::testing::Not(HasSubstr("serving metrics")));
}

TEST(Cli, MissingConfigFileIsReported) {
  const auto [code, output] =
      runCommand(std::string(IPCWATCH_BINARY) + " --config /nonexistent/ipcwatch.yml");
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr("/nonexistent/ipcwatch.yml: cannot read"));
}

TEST(Cli, BadListenAddressFlagIsReported) {
  const auto [code, output] =
      runCommand(std::string(IPCWATCH_BINARY) + " --web.listen-address 9863");
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr("--web.listen-address: '9863' is not HOST:PORT"));
}

// The web process binds the port; its failure is the agent's, with the reason, before anything
// is served.
TEST(Cli, APortInUseStopsTheStartWithTheReason) {
  const int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string port = std::to_string(ntohs(address.sin_port));
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:" + port + "\"\n");
  const auto status = agent.waitForExit(30s);
  close(taken);
  ASSERT_TRUE(status.has_value()) << agent.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  EXPECT_THAT(agent.log(), HasSubstr("cannot listen on 127.0.0.1:" + port +
                                     ": Address already in use"));
  EXPECT_THAT(agent.log(), ::testing::Not(HasSubstr("serving metrics")));
}

TEST(Cli, JsonLogsAreOneObjectPerLine) {
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n", {"--log.format", "json"});
  ASSERT_NE(agent.waitForPort(30s), 0) << agent.log();
  ASSERT_TRUE(agent.stop(5s).has_value());
  std::istringstream lines(agent.log());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_THAT(line, HasSubstr("\"level\":\""));
  }
  EXPECT_GE(count, 2);  // at least "starting" and "serving metrics"
}

}  // namespace
}  // namespace ipcwatch::testing
