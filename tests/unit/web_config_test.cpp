#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "web/web_config.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

// A bcrypt hash (cost 4) of "secret", made with crypt_gensalt_rn("$2y$", 4) and crypt_r.
constexpr const char* kHash = "$2y$04$hCLIhLVvCDtJJRbVrPAD5OodraPqQ119je8sWpdDG0VK0vwXPBFR2";

std::string errorsOf(const std::string& yaml) {
  try {
    parseWebConfig(yaml, "web.yml", "/etc/ipcwatch");
  } catch (const WebConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(WebConfigTest, EmptyFileMeansPlainHttpWithoutAuth) {
  const WebSecurityConfig config = parseWebConfig("", "web.yml", "/etc/ipcwatch");
  EXPECT_FALSE(config.tls);
  EXPECT_TRUE(config.basic_auth_users.empty());
  EXPECT_TRUE(config.headers.empty());
}

TEST(WebConfigTest, FullExporterToolkitFile) {
  const WebSecurityConfig config = parseWebConfig(std::string(R"(
tls_server_config:
  cert_file: server.crt
  key_file: /etc/ssl/private/server.key
  client_ca_file: ca/clients.pem
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
http_server_config:
  http2: false
  headers:
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: ')") + kHash + "'\n",
                                                  "web.yml", "/etc/ipcwatch");
  ASSERT_TRUE(config.tls);
  EXPECT_EQ(config.tls->cert_file, "/etc/ipcwatch/server.crt");  // relative to the file
  EXPECT_EQ(config.tls->key_file, "/etc/ssl/private/server.key");
  EXPECT_EQ(config.tls->client_ca_file, "/etc/ipcwatch/ca/clients.pem");
  EXPECT_EQ(config.tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(config.tls->min_version, TlsVersion::kTls13);
  ASSERT_EQ(config.headers.size(), 1u);
  EXPECT_EQ(config.headers[0].first, "Strict-Transport-Security");
  EXPECT_EQ(config.basic_auth_users.at("prometheus"), kHash);
}

TEST(WebConfigTest, TlsDefaultsAreTls12WithoutClientCertificates) {
  const WebSecurityConfig config =
      parseWebConfig("tls_server_config: {cert_file: c.pem, key_file: k.pem}", "web.yml", "/d");
  ASSERT_TRUE(config.tls);
  EXPECT_EQ(config.tls->client_auth, ClientAuth::kNoClientCert);
  EXPECT_EQ(config.tls->min_version, TlsVersion::kTls12);
}

TEST(WebConfigTest, EveryClientAuthTypeOfTheFormatIsAccepted) {
  for (const std::string type : {"NoClientCert", "RequestClientCert", "RequireAnyClientCert"}) {
    EXPECT_EQ(
        errorsOf("tls_server_config: {cert_file: c, key_file: k, client_auth_type: " + type + "}"),
        "")
        << type;
  }
  for (const std::string type : {"VerifyClientCertIfGiven", "RequireAndVerifyClientCert"}) {
    EXPECT_EQ(errorsOf("tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca, "
                       "client_auth_type: " +
                       type + "}"),
              "")
        << type;
  }
}

TEST(WebConfigTest, ErrorsNameFileLineColumnAndKey) {
  EXPECT_EQ(errorsOf("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS11\n"),
            "web.yml:4:16: tls_server_config.min_version: 'TLS11' is refused: TLS 1.0 and 1.1 "
            "are deprecated (RFC 8996)");
  EXPECT_EQ(errorsOf("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: "
                     "Always\n"),
            "web.yml:4:21: tls_server_config.client_auth_type: 'Always' is not one of "
            "NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
            "RequireAndVerifyClientCert");
}

TEST(WebConfigTest, InvalidFilesAreRefusedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"- a\n", "(top level): expected a mapping"},
      {"tls_config: {}\n",
       "tls_config: unknown key (known: basic_auth_users, "
       "http_server_config, tls_server_config)"},
      {"tls_server_config: {key_file: k}\n", "tls_server_config.cert_file: missing"},
      {"tls_server_config: {cert_file: c}\n", "tls_server_config.key_file: missing"},
      {"tls_server_config: {cert_file: c, key_file: k, client_auth_type: "
       "RequireAndVerifyClientCert}\n",
       "tls_server_config.client_ca_file: missing: client_auth_type verifies"},
      {"tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca}\n",
       "tls_server_config.client_auth_type: is NoClientCert by default"},
      {"tls_server_config: {cert_file: c, key_file: k, cipher_suites: [TLS_AES_128_GCM_SHA256]}\n",
       "tls_server_config.cipher_suites: not supported by ipcwatch"},
      {"tls_server_config: {cert_file: c, key_file: k, cert_file: d}\n",
       "tls_server_config.cert_file: duplicate key"},
      {"tls_server_config: {cert_file: '', key_file: k}\n",
       "tls_server_config.cert_file: expected a file name"},
      {"basic_auth_users: {alice: secret}\n", "basic_auth_users.alice: expected a bcrypt hash"},
      {"basic_auth_users: {alice: '$1$abc$def'}\n", "basic_auth_users.alice: expected a bcrypt"},
      {"basic_auth_users: {'a:b': x}\n", "without ':'"},
      {"basic_auth_users: [alice]\n", "basic_auth_users: expected a mapping"},
      {"http_server_config: {http2: true}\n", "HTTP/1.1 only"},
      {"http_server_config: {headers: {Server: x}}\n",
       "http_server_config.headers.Server: not a header a web config may set"},
      {"http_server_config: {headers: {X-Frame-Options: \"a\\r\\nSet-Cookie: x\"}}\n",
       "control characters are not allowed"},
      {"tls_server_config: [\n", "web.yml:2:1: "},
  };
  for (const auto& [yaml, expected] : cases) {
    EXPECT_THAT(errorsOf(yaml), HasSubstr(expected)) << yaml;
  }
}

TEST(WebConfigTest, AllProblemsAreReportedAtOnce) {
  const std::string errors =
      errorsOf("tls_server_config: {cert_file: c}\nbasic_auth_users: {bob: nope}\nfoo: 1\n");
  EXPECT_THAT(errors, HasSubstr("key_file: missing"));
  EXPECT_THAT(errors, HasSubstr("basic_auth_users.bob"));
  EXPECT_THAT(errors, HasSubstr("foo: unknown key"));
}

}  // namespace
}  // namespace ipcwatch
