#include <gtest/gtest.h>

#include "cli/args.h"

namespace ipcwatch {
namespace {

std::variant<Args, ArgsError> parse(const std::vector<std::string>& argv) {
  return parseArgs(argv);
}

std::string errorOf(const std::vector<std::string>& argv) {
  const auto parsed = parse(argv);
  return std::holds_alternative<ArgsError>(parsed) ? std::get<ArgsError>(parsed).message : "";
}

TEST(DiagnoseArgs, PathAsUserWithAccessAndJson) {
  const auto parsed =
      parse({"diagnose", "/tmp/opensips_fifo", "--as", "apache", "--access", "write", "--json"});
  ASSERT_TRUE(std::holds_alternative<Args>(parsed));
  const auto& args = std::get<Args>(parsed);
  EXPECT_EQ(args.command, Command::kDiagnose);
  EXPECT_EQ(args.diagnose_path, "/tmp/opensips_fifo");
  EXPECT_EQ(args.diagnose_user, "apache");
  EXPECT_EQ(args.diagnose_access, "write");
  EXPECT_TRUE(args.json);
}

TEST(DiagnoseArgs, EndpointWithConfig) {
  const auto parsed = parse({"diagnose", "--endpoint=opensips_mi", "--config", "/etc/i.yml"});
  ASSERT_TRUE(std::holds_alternative<Args>(parsed));
  const auto& args = std::get<Args>(parsed);
  EXPECT_EQ(args.diagnose_endpoint, "opensips_mi");
  EXPECT_EQ(args.config_path, "/etc/i.yml");
  EXPECT_FALSE(args.diagnose_path);
}

TEST(DiagnoseArgs, UsageErrors) {
  EXPECT_EQ(errorOf({"diagnose"}), "diagnose needs either a PATH or --endpoint NAME");
  EXPECT_EQ(errorOf({"diagnose", "/p"}), "diagnose PATH needs --as USER or --as-pid PID");
  EXPECT_EQ(errorOf({"diagnose", "/p", "--as", "a", "--as-pid", "1"}),
            "diagnose: --as and --as-pid exclude each other");
  EXPECT_EQ(errorOf({"diagnose", "--endpoint", "e", "--as", "a"}),
            "diagnose --endpoint takes the client and access from the configuration");
  EXPECT_EQ(errorOf({"diagnose", "/p", "--as"}), "--as needs a value");
  // Diagnose flags mean nothing to the agent.
  EXPECT_EQ(errorOf({"--as", "apache"}), "unknown argument '--as'");
  EXPECT_EQ(errorOf({"--json"}), "unknown argument '--json'");
}

}  // namespace
}  // namespace ipcwatch
