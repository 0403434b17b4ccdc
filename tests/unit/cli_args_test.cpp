#include <gtest/gtest.h>

#include "cli/args.h"
#include "config/listen_address.h"
#include "log/logging.h"

namespace ipcwatch {
namespace {

Args parseOk(const std::vector<std::string>& argv) {
  auto parsed = parseArgs(argv);
  EXPECT_TRUE(std::holds_alternative<Args>(parsed));
  return std::holds_alternative<Args>(parsed) ? std::get<Args>(parsed) : Args{};
}

std::string parseError(const std::vector<std::string>& argv) {
  auto parsed = parseArgs(argv);
  EXPECT_TRUE(std::holds_alternative<ArgsError>(parsed));
  return std::holds_alternative<ArgsError>(parsed) ? std::get<ArgsError>(parsed).message : "";
}

TEST(ParseArgs, NoArgumentsRunsWithEmbeddedDefault) {
  const Args args = parseOk({});
  EXPECT_EQ(args.command, Command::kRun);
  EXPECT_FALSE(args.config_path);
  EXPECT_FALSE(args.listen_address);
}

TEST(ParseArgs, FlagsTakeSeparateOrEqualsValues) {
  const Args args = parseOk({"--config", "/etc/ipcwatch.yml", "--web.listen-address=:9999",
                             "--log.level", "debug", "--log.format=json"});
  EXPECT_EQ(args.command, Command::kRun);
  EXPECT_EQ(args.config_path, "/etc/ipcwatch.yml");
  EXPECT_EQ(args.listen_address, ":9999");
  EXPECT_EQ(args.log_level, "debug");
  EXPECT_EQ(args.log_format, "json");
}

TEST(ParseArgs, WebConfigFileFlag) {
  EXPECT_EQ(parseOk({"--web.config.file=/etc/ipcwatch/web.yml"}).web_config_file,
            "/etc/ipcwatch/web.yml");
  const Args check = parseOk({"check-config", "a.yml", "--web.config.file", "w.yml"});
  EXPECT_EQ(check.command, Command::kCheckConfig);
  EXPECT_EQ(check.web_config_file, "w.yml");
  EXPECT_EQ(parseError({"--web.config.file"}), "--web.config.file needs a value");
  EXPECT_FALSE(parseOk({}).web_config_file);
}

TEST(ParseArgs, Commands) {
  EXPECT_EQ(parseOk({"--version"}).command, Command::kVersion);
  EXPECT_EQ(parseOk({"--help"}).command, Command::kHelp);
  const Args check = parseOk({"check-config", "a.yml"});
  EXPECT_EQ(check.command, Command::kCheckConfig);
  EXPECT_EQ(check.config_path, "a.yml");
}

TEST(ParseArgs, EndpointsTakesItsFiltersAndJson) {
  const Args args = parseOk({"endpoints", "--type", "fifo", "--path=/run/", "--pid", "42",
                             "--context", "*:httpd_t:*", "--json"});
  EXPECT_EQ(args.command, Command::kEndpoints);
  EXPECT_EQ(args.endpoints_type, "fifo");
  EXPECT_EQ(args.endpoints_path, "/run/");
  EXPECT_EQ(args.endpoints_pid, "42");
  EXPECT_EQ(args.endpoints_context, "*:httpd_t:*");
  EXPECT_TRUE(args.json);
  EXPECT_EQ(parseError({"endpoints", "--path"}), "--path needs a value");
  EXPECT_EQ(parseError({"endpoints", "--as", "apache"}), "unknown argument '--as'");
  EXPECT_EQ(parseError({"diagnose", "/x", "--as", "a", "--pid", "4"}), "unknown argument '--pid'");
  EXPECT_EQ(parseError({"--type", "fifo"}), "unknown argument '--type'");
}

TEST(ParseArgs, RejectsBadInput) {
  EXPECT_EQ(parseError({"--bogus"}), "unknown argument '--bogus'");
  EXPECT_EQ(parseError({"--config"}), "--config needs a value");
  EXPECT_EQ(parseError({"--log.level="}), "--log.level needs a non-empty value");
  EXPECT_EQ(parseError({"check-config"}), "check-config needs a FILE");
}

TEST(ListenAddress, ParsesTheThreeForms) {
  auto any = parseListenAddress(":9863");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "");
  EXPECT_EQ(any->port, 9863);
  EXPECT_EQ(bindHost(*any), "0.0.0.0");

  auto v4 = parseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->port, 0);
  EXPECT_EQ(bindHost(*v4), "127.0.0.1");

  auto v6 = parseListenAddress("[::1]:9863");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(bindHost(*v6), "::1");

  auto named = parseListenAddress("localhost:80");
  ASSERT_TRUE(named);
  EXPECT_EQ(bindHost(*named), "127.0.0.1");
}

TEST(ListenAddress, RejectsMalformed) {
  for (const char* bad : {"9863", ":", ":65536", ":-1", ":12a", "::1:80", "[::1]", "[]:80",
                          "[nothex]:80", "host:"}) {
    EXPECT_FALSE(parseListenAddress(bad)) << bad;
  }
}

TEST(Logging, LevelsAndJsonEscaping) {
  EXPECT_EQ(parseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(parseLogLevel("error"), spdlog::level::err);
  EXPECT_FALSE(parseLogLevel("verbose"));
  EXPECT_EQ(jsonEscape("a\"b\\c\nd\x01"), "a\\\"b\\\\c\\nd\\u0001");
}

TEST(Logging, JsonEscapingKeepsValidUtf8AndRepairsTheRest) {
  EXPECT_EQ(jsonEscape("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
  // A stray byte, a truncated sequence, an overlong form and a surrogate become \xNN text.
  EXPECT_EQ(jsonEscape("a\xff"), "a\\\\xff");
  EXPECT_EQ(jsonEscape("\xc3("), "\\\\xc3(");
  EXPECT_EQ(jsonEscape("\xc0\xaf"), "\\\\xc0\\\\xaf");
  EXPECT_EQ(jsonEscape("\xed\xa0\x80"), "\\\\xed\\\\xa0\\\\x80");
  EXPECT_EQ(jsonEscape("\x7f"), "\\u007f");
}

}  // namespace
}  // namespace ipcwatch
