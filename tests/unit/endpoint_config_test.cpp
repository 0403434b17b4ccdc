#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

std::string errorsOf(const std::string& yaml) {
  try {
    parseConfig(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(EndpointConfigTest, ParsesTheIssueExample) {
  const Config config = parseConfig(R"(
endpoints:
  - name: opensips_mi
    path: /tmp/opensips_fifo
    type: fifo
    server: { process: opensips, pid_file: /run/opensips.pid }
    clients:
      - name: opensips-cp
        process: httpd
        user: nobody
        access: write
  - name: api
    path: "@api.sock"
    type: unix_stream
    server: { systemd_unit: api.service, exe: /usr/bin/api }
    clients:
      - { name: web, user: "61234:61235" }
)",
                                    "test.yaml");
  ASSERT_EQ(config.endpoints.size(), 2u);
  const auto& mi = config.endpoints[0];
  EXPECT_EQ(mi.name, "opensips_mi");
  EXPECT_EQ(mi.path, "/tmp/opensips_fifo");
  EXPECT_EQ(mi.type, EndpointType::kFifo);
  EXPECT_EQ(mi.server.process, "opensips");
  EXPECT_EQ(mi.server.pid_file, "/run/opensips.pid");
  ASSERT_EQ(mi.clients.size(), 1u);
  EXPECT_EQ(mi.clients[0].name, "opensips-cp");
  EXPECT_EQ(mi.clients[0].process, "httpd");
  EXPECT_EQ(mi.clients[0].user, "nobody");
  EXPECT_EQ(mi.clients[0].access, EndpointAccess::kWrite);
  const auto& api = config.endpoints[1];
  EXPECT_EQ(api.path, "@api.sock");
  EXPECT_EQ(api.type, EndpointType::kUnixStream);
  EXPECT_EQ(api.server.systemd_unit, "api.service");
  EXPECT_EQ(api.server.exe, "/usr/bin/api");
  EXPECT_EQ(api.clients[0].access, EndpointAccess::kConnect);  // the default for sockets
}

TEST(EndpointConfigTest, DefaultHasNoEndpoints) {
  EXPECT_TRUE(parseConfig(embeddedDefaultConfig(), "d").endpoints.empty());
}

TEST(EndpointConfigTest, TrailingSpaceIsKeptForThePathCleanCheck) {
  const Config config = parseConfig(
      "endpoints:\n  - name: e\n    path: \"/tmp/f \"\n    clients: [{name: c, user: nobody}]\n",
      "t");
  EXPECT_EQ(config.endpoints.at(0).path, "/tmp/f ");
}

TEST(EndpointConfigTest, RejectsUnknownTypeWithLineAndColumn) {
  const std::string errors = errorsOf(
      "endpoints:\n  - name: e\n    path: /tmp/f\n    type: pipe\n"
      "    clients: [{name: c, user: nobody}]\n");
  EXPECT_THAT(errors, HasSubstr("test.yaml:4:11: endpoints[0].type: 'pipe' is not one of fifo, "
                                "unix_stream, unix_dgram, unix_seqpacket"));
}

TEST(EndpointConfigTest, RejectsUnknownUser) {
  const std::string errors = errorsOf(
      "endpoints:\n  - name: e\n    path: /tmp/f\n"
      "    clients:\n      - name: c\n        user: no_such_user_xyz\n");
  EXPECT_THAT(errors, HasSubstr("test.yaml:6:15: endpoints[0].clients[0].user: unknown user "
                                "'no_such_user_xyz'"));
}

TEST(EndpointConfigTest, RejectsRelativePaths) {
  const std::string errors = errorsOf(
      "endpoints:\n  - name: e\n    path: tmp/f\n    clients: [{name: c, user: nobody}]\n");
  EXPECT_THAT(errors, HasSubstr("test.yaml:3:11: endpoints[0].path: expected an absolute path, "
                                "got 'tmp/f'"));
  EXPECT_THAT(errorsOf("endpoints:\n  - name: e\n    path: /f\n    server: {pid_file: run/x}\n"
                       "    clients: [{name: c, user: nobody}]\n"),
              HasSubstr("test.yaml:4:24: endpoints[0].server.pid_file: expected an absolute path"));
}

TEST(EndpointConfigTest, RejectsDuplicateNames) {
  const std::string errors = errorsOf(
      "endpoints:\n"
      "  - name: e\n    path: /tmp/f\n    clients: [{name: c, user: nobody}, {name: c, user: 0}]\n"
      "  - name: e\n    path: /tmp/g\n    clients: [{name: c, user: nobody}]\n");
  EXPECT_THAT(errors, HasSubstr("endpoints[0].clients[1].name: duplicate client name 'c'"));
  EXPECT_THAT(errors, HasSubstr("test.yaml:5:11: endpoints[1].name: duplicate endpoint name 'e'"));
}

TEST(EndpointConfigTest, RejectsAccessThatDoesNotFitTheType) {
  EXPECT_THAT(errorsOf("endpoints:\n  - name: e\n    path: /tmp/f\n"
                       "    clients: [{name: c, user: nobody, access: connect}]\n"),
              HasSubstr("a FIFO is opened for read, write or read_write, not 'connect'"));
  EXPECT_THAT(errorsOf("endpoints:\n  - name: e\n    path: /tmp/s\n    type: unix_stream\n"
                       "    clients: [{name: c, user: nobody, access: write}]\n"),
              HasSubstr("a socket is reached with 'connect', not 'write'"));
  EXPECT_THAT(errorsOf("endpoints:\n  - name: e\n    path: \"@x\"\n"
                       "    clients: [{name: c, user: nobody}]\n"),
              HasSubstr("a FIFO needs an absolute path"));
}

TEST(EndpointConfigTest, RejectsMissingAndUnknownKeys) {
  const std::string errors =
      errorsOf("endpoints:\n  - name: e\n    paht: /tmp/f\n    clients: [{name: c}]\n");
  EXPECT_THAT(errors, HasSubstr("endpoints[0].paht: unknown key"));
  EXPECT_THAT(errors, HasSubstr("did you mean 'path'?"));
  EXPECT_THAT(errors, HasSubstr("endpoints[0]: missing key 'path'"));
  EXPECT_THAT(errors, HasSubstr("endpoints[0].clients[0]: needs 'process', 'user' or both"));
}

TEST(EndpointConfigTest, NumericUsers) {
  ResolvedUser user;
  ASSERT_TRUE(resolveUser("61234:61235", user));
  EXPECT_EQ(user.uid, 61234u);
  EXPECT_EQ(user.gid, 61235u);
  ASSERT_TRUE(resolveUser("0", user));
  EXPECT_EQ(user.name, "root");
  EXPECT_EQ(user.gid, 0u);
  EXPECT_FALSE(resolveUser("61234:x", user));
  EXPECT_FALSE(resolveUser("no_such_user_xyz", user));
}

}  // namespace
}  // namespace ipcwatch
