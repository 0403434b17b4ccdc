// TLS, mutual TLS, basic auth and the HTTP limits, through the real binary and real clients
// (curl, raw sockets). Certificates are made for each run with the openssl CLI.
#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kAgentConfig = "web:\n  listen_address: \"127.0.0.1:0\"\n";
constexpr const char* kMetricsMarker = "ipcwatch_build_info";

std::string bcryptHash(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", 4, nullptr, 0, setting, sizeof setting) == nullptr) {
    return "";
  }
  auto data = std::make_unique<crypt_data>();
  return crypt_r(password.c_str(), setting, data.get());
}

void writeFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

// The status line's code from `curl -i` output, 0 when there is none.
int statusOf(const std::string& output) {
  const auto at = output.find("HTTP/1.1 ");
  return at == std::string::npos ? 0 : std::stoi(output.substr(at + 9, 3));
}

// A connected loopback TCP socket (closed on destruction), for what curl cannot do: idle
// connections, oversize headers.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  bool connected() const { return connected_; }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Everything received until the peer closes or `deadline` passes; `closed` tells which.
  std::string receive(std::chrono::milliseconds deadline, bool& closed) {
    std::string out;
    closed = false;
    const auto end = Clock::now() + deadline;
    while (Clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) {
        continue;
      }
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

constexpr int kSlowClients = 1000;

// The test's own descriptors for a thousand connections (the soft limit is 1 024 by default).
bool raiseOwnOpenFileLimit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return false;
  }
  if (limit.rlim_cur >= wanted) {
    return true;
  }
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  return setrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur >= wanted;
}

// A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by it and
// a self-signed client certificate no one trusts; made once for the suite.
class WebSecurity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/ipcwatch-web-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    pki_ = pattern;
    const std::string d = pki_ + "/";
    writeFile(d + "server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n", 0600);
    writeFile(d + "client.ext", "extendedKeyUsage=clientAuth\n", 0600);
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    const std::vector<std::string> steps = {
        "openssl req -x509 " + key + " -keyout " + d + "ca.key -out " + d +
            "ca.crt -days 2 -subj /CN=ipcwatch-test-ca",
        "openssl req " + key + " -keyout " + d + "server.key -out " + d +
            "server.csr -subj /CN=localhost",
        "openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.crt -CAkey " + d +
            "ca.key -set_serial 2 -days 2 -extfile " + d + "server.ext -out " + d + "server.crt",
        "openssl req " + key + " -keyout " + d + "client.key -out " + d +
            "client.csr -subj /CN=prometheus",
        "openssl x509 -req -in " + d + "client.csr -CA " + d + "ca.crt -CAkey " + d +
            "ca.key -set_serial 3 -days 2 -extfile " + d + "client.ext -out " + d + "client.crt",
        "openssl req -x509 " + key + " -keyout " + d + "rogue.key -out " + d +
            "rogue.crt -days 2 -subj /CN=prometheus",
    };
    for (const auto& step : steps) {
      const auto [code, output] = runCommand(step);
      ASSERT_EQ(code, 0) << step << "\n" << output;
    }
  }

  static void TearDownTestSuite() { runCommand("rm -rf " + pki_); }

  // Writes `yaml` as the web config (mode 0600 unless told) and starts the agent on it.
  std::unique_ptr<AgentProcess> startAgent(const std::string& yaml, mode_t mode = 0600) {
    web_config_ = pki_ + "/web-config-" + std::to_string(++configs_) + ".yml";
    writeFile(web_config_, yaml, mode);
    auto agent = std::make_unique<AgentProcess>(
        kAgentConfig, std::vector<std::string>{"--web.config.file", web_config_});
    port_ = agent->waitForPort(60s);
    return agent;
  }

  // curl -i with `options` against `url_path` on the agent; returns its exit code and output.
  std::pair<int, std::string> curl(const std::string& scheme, const std::string& url_path,
                                   const std::string& options = "") {
    return runCommand("curl -sS -i --max-time 10 " + options + " " + scheme +
                      "://127.0.0.1:" + std::to_string(port_) + url_path);
  }

  std::string cacert() const { return "--cacert " + pki_ + "/ca.crt"; }
  std::string clientCert(const std::string& name) const {
    return "--cert " + pki_ + "/" + name + ".crt --key " + pki_ + "/" + name + ".key";
  }

  static std::string tlsConfig(const std::string& extra = "") {
    return "tls_server_config:\n  cert_file: server.crt\n  key_file: " + pki_ + "/server.key\n" +
           extra;
  }

  static std::string pki_;
  static int configs_;
  std::string web_config_;
  int port_ = 0;
};

std::string WebSecurity::pki_;
int WebSecurity::configs_ = 0;

TEST_F(WebSecurity, TlsServesEveryPathAndPlainHttpGetsNothing) {
  auto agent = startAgent(tlsConfig());
  ASSERT_NE(port_, 0) << agent->log();
  EXPECT_THAT(agent->log(), HasSubstr("over TLS with no authentication"));

  const auto [code, output] = curl("https", "/metrics", cacert());
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(statusOf(output), 200) << output;
  EXPECT_THAT(output, HasSubstr(kMetricsMarker));
  for (const std::string path : {"/", "/healthz"}) {
    EXPECT_EQ(statusOf(curl("https", path, cacert()).second), 200) << path;
  }

  // An untrusted server certificate is refused by the client: the CA is what vouches for it.
  EXPECT_NE(curl("https", "/metrics").first, 0);

  // Plain HTTP to the TLS port: the handshake fails and the connection closes without a byte
  // of HTTP, let alone metrics.
  const auto [plain_code, plain] = curl("http", "/metrics");
  EXPECT_NE(plain_code, 0) << plain;
  EXPECT_THAT(plain, Not(HasSubstr(kMetricsMarker)));
  RawConnection raw(port_);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send("GET /metrics HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string answer = raw.receive(10s, closed);
  EXPECT_TRUE(closed);
  EXPECT_THAT(answer, Not(HasSubstr("HTTP/1.")));
  EXPECT_THAT(answer, Not(HasSubstr(kMetricsMarker)));

  // The agent is still serving after the failed handshakes.
  EXPECT_EQ(statusOf(curl("https", "/healthz", cacert()).second), 200) << agent->log();
}

TEST_F(WebSecurity, AHandshakeThatNeverCompletesIsDroppedAtTheRequestTimeout) {
  auto agent = startAgent(tlsConfig());
  ASSERT_NE(port_, 0) << agent->log();
  RawConnection silent(port_);
  ASSERT_TRUE(silent.connected());
  const auto start = Clock::now();
  bool closed = false;
  EXPECT_EQ(silent.receive(15s, closed), "");
  EXPECT_TRUE(closed) << "a connection without a handshake was kept for 15 s";
  EXPECT_GE(Clock::now() - start, 4s);
  EXPECT_LE(Clock::now() - start, 8s);

  // Two requests on one kept-alive TLS connection are both served.
  const auto [code, output] = runCommand(
      "curl -sS -i --max-time 10 " + cacert() + " https://127.0.0.1:" + std::to_string(port_) +
      "/healthz https://127.0.0.1:" + std::to_string(port_) + "/metrics");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("ok\n"));
  EXPECT_THAT(output, HasSubstr(kMetricsMarker));
}

// A thousand TLS handshakes that stall (connected, no ClientHello) hold no worker: a scrape over
// TLS is answered while all of them are still open.
TEST_F(WebSecurity, StalledHandshakesHoldNoWorker) {
  ASSERT_TRUE(raiseOwnOpenFileLimit(kSlowClients + 256));
  auto agent = startAgent(tlsConfig());
  ASSERT_NE(port_, 0) << agent->log();
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < kSlowClients; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(port_));
    ASSERT_TRUE(stalled.back()->connected()) << i;
  }
  const auto [code, output] = curl("https", "/metrics", cacert());
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(statusOf(output), 200) << output;
  EXPECT_THAT(output, HasSubstr(kMetricsMarker));
  int closed_early = 0;
  for (auto& connection : stalled) {
    bool closed = false;
    EXPECT_EQ(connection->receive(0ms, closed), "");
    closed_early += closed ? 1 : 0;
  }
  EXPECT_EQ(closed_early, 0) << "the scrape waited for stalled handshakes to time out";
}

TEST_F(WebSecurity, MinVersionTls13RefusesTls12Clients) {
  auto agent = startAgent(tlsConfig("  min_version: TLS13\n"));
  ASSERT_NE(port_, 0) << agent->log();
  const auto [old_code, old_output] = curl("https", "/metrics", cacert() + " --tls-max 1.2");
  EXPECT_NE(old_code, 0) << old_output;
  EXPECT_THAT(old_output, Not(HasSubstr(kMetricsMarker)));
  const auto [code, output] = curl("https", "/metrics", cacert() + " --tlsv1.3");
  EXPECT_EQ(statusOf(output), 200) << output;
}

TEST_F(WebSecurity, MutualTlsAcceptsOnlyClientsTheCaSigned) {
  auto agent =
      startAgent(tlsConfig("  client_ca_file: ca.crt\n"
                           "  client_auth_type: RequireAndVerifyClientCert\n"));
  ASSERT_NE(port_, 0) << agent->log();

  const auto [none_code, none] = curl("https", "/metrics", cacert());
  EXPECT_NE(none_code, 0) << none;
  EXPECT_THAT(none, Not(HasSubstr(kMetricsMarker)));

  const auto [rogue_code, rogue] = curl("https", "/metrics", cacert() + " " + clientCert("rogue"));
  EXPECT_NE(rogue_code, 0) << rogue;
  EXPECT_THAT(rogue, Not(HasSubstr(kMetricsMarker)));

  const auto [code, output] = curl("https", "/metrics", cacert() + " " + clientCert("client"));
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(statusOf(output), 200) << output;
  EXPECT_THAT(output, HasSubstr(kMetricsMarker));
}

TEST_F(WebSecurity, VerifyClientCertIfGivenRefusesOnlyABadCertificate) {
  auto agent =
      startAgent(tlsConfig("  client_ca_file: ca.crt\n"
                           "  client_auth_type: VerifyClientCertIfGiven\n"));
  ASSERT_NE(port_, 0) << agent->log();
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert()).second), 200);
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert() + " " + clientCert("client")).second), 200);
  EXPECT_NE(curl("https", "/metrics", cacert() + " " + clientCert("rogue")).first, 0);
}

TEST_F(WebSecurity, RequireAnyClientCertWantsACertificateButDoesNotVerifyIt) {
  auto agent = startAgent(tlsConfig("  client_auth_type: RequireAnyClientCert\n"));
  ASSERT_NE(port_, 0) << agent->log();
  EXPECT_NE(curl("https", "/metrics", cacert()).first, 0);
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert() + " " + clientCert("rogue")).second), 200);
}

TEST_F(WebSecurity, BasicAuthGuardsEveryPath) {
  auto agent = startAgent("basic_auth_users:\n  prometheus: '" + bcryptHash("s3cret") + "'\n");
  ASSERT_NE(port_, 0) << agent->log();
  EXPECT_THAT(agent->log(), HasSubstr("over plain HTTP with basic auth"));

  const auto [code, output] = curl("http", "/metrics", "-u prometheus:s3cret");
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(statusOf(output), 200) << output;
  EXPECT_THAT(output, HasSubstr(kMetricsMarker));

  for (const std::string path : {"/metrics", "/", "/healthz", "/denials", "/no-such-page"}) {
    for (const std::string credentials : {"", "-u prometheus:wrong", "-u prometheus:",
                                          "-u nobody:s3cret", "-H 'Authorization: Basic !!'"}) {
      const auto [refused_code, refused] = curl("http", path, credentials);
      EXPECT_EQ(statusOf(refused), 401) << path << " " << credentials << "\n" << refused;
      EXPECT_THAT(refused, HasSubstr("WWW-Authenticate: Basic realm=\"ipcwatch\""));
      EXPECT_THAT(refused, HasSubstr("\r\n\r\nUnauthorized\n"));
      EXPECT_THAT(refused, Not(HasSubstr("ipcwatch_")));
    }
  }
  // HEAD is refused the same way, without a body.
  const auto [head_code, head] = curl("http", "/metrics", "--head");
  EXPECT_EQ(statusOf(head), 401) << head;
}

TEST_F(WebSecurity, TlsAndBasicAuthTogether) {
  auto agent =
      startAgent(tlsConfig() + "basic_auth_users:\n  prometheus: '" + bcryptHash("pw") + "'\n");
  ASSERT_NE(port_, 0) << agent->log();
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert() + " -u prometheus:pw").second), 200);
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert() + " -u prometheus:pW").second), 401);
  EXPECT_EQ(statusOf(curl("https", "/metrics", cacert()).second), 401);
}

TEST_F(WebSecurity, ConfiguredHeadersAreSent) {
  auto agent = startAgent(tlsConfig() +
                          "http_server_config:\n  headers:\n"
                          "    Strict-Transport-Security: max-age=31536000\n");
  ASSERT_NE(port_, 0) << agent->log();
  const auto [code, output] = curl("https", "/metrics", cacert());
  EXPECT_THAT(output, HasSubstr("Strict-Transport-Security: max-age=31536000\r\n"));
}

TEST_F(WebSecurity, WorldWritableWebConfigIsRefusedAtStartup) {
  auto agent = startAgent("basic_auth_users: {}\n", 0666);
  EXPECT_EQ(port_, 0) << "the agent served with a web config anyone can rewrite";
  EXPECT_THAT(agent->log(), HasSubstr(web_config_ + ": writable by every user (mode 0666)"));
}

TEST_F(WebSecurity, CheckConfigValidatesTheWebConfig) {
  const std::string config = pki_ + "/ipcwatch.yml";
  const std::string web = pki_ + "/check-web.yml";
  writeFile(config, "web:\n  config_file: " + web + "\n", 0644);

  writeFile(web, tlsConfig(), 0600);
  auto [code, output] = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config);
  EXPECT_EQ(code, 0) << output;

  writeFile(web, "basic_auth_users:\n  prometheus: plaintext\n", 0600);
  std::tie(code, output) = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config);
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output,
              HasSubstr(web + ":2:15: basic_auth_users.prometheus: expected a bcrypt hash"));

  // A key that is not the certificate's is found before the agent would start.
  writeFile(web, "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n", 0600);
  std::tie(code, output) = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config);
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr("is not the key of cert_file " + pki_ + "/server.crt"));

  writeFile(web, "", 0620);
  std::tie(code, output) = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config);
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr(web + ": writable by its group (mode 0620)"));

  ASSERT_EQ(chmod(config.c_str(), 0646), 0);
  std::tie(code, output) = runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config);
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr(config + ": writable by every user (mode 0646)"));
}

// --- HTTP hygiene, with the default (plain) web settings ----------------------------------

class HttpHygiene : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = std::make_unique<AgentProcess>(kAgentConfig);
    port_ = agent_->waitForPort(60s);
    ASSERT_NE(port_, 0) << agent_->log();
  }
  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

TEST_F(HttpHygiene, OnlyGetAndHeadAreAllowed) {
  for (const std::string method :
       {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}) {
    const auto response = httpRequest(port_, method, "/metrics");
    ASSERT_TRUE(response.has_value()) << method;
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_THAT(response->headers, HasSubstr("Allow: GET, HEAD")) << method;
    EXPECT_EQ(response->body, "Method Not Allowed\n") << method;
  }
  // Methods cpp-httplib does not know never reach the gate or a page: it answers 400 and the
  // connection is closed.
  for (const std::string method : {"PROPFIND", "MKCOL", "BREW"}) {
    const auto response = httpRequest(port_, method, "/metrics");
    ASSERT_TRUE(response.has_value()) << method;
    EXPECT_EQ(response->status, 400) << method;
    EXPECT_EQ(response->body, "Bad Request\n") << method;
  }
  const auto head = httpRequest(port_, "HEAD", "/metrics");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_THAT(head->headers, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_EQ(head->body, "");
}

TEST_F(HttpHygiene, NoFilesNoListingNoDebugEndpoints) {
  for (const std::string path :
       {"/debug/pprof/", "/debug/vars", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/metrics/../../etc/", "/.htpasswd"}) {
    const auto response = httpRequest(port_, "GET", path);
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_NE(response->status, 200) << path;
    EXPECT_THAT(response->body, Not(HasSubstr("root:"))) << path;
    EXPECT_THAT(response->body, Not(HasSubstr("Index of"))) << path;
  }
}

TEST_F(HttpHygiene, OversizeRequestHeadersAreRefused) {
  RawConnection raw(port_);
  ASSERT_TRUE(raw.connected());
  // 32 KiB of headers against the 16 KiB budget of a request: reading stops at the budget,
  // the answer is 400 and the connection is closed at once.
  const auto start = Clock::now();
  raw.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(32768, 'a') + "\r\n\r\n");
  bool closed = false;
  const std::string answer = raw.receive(10s, closed);
  EXPECT_TRUE(closed);
  EXPECT_LE(Clock::now() - start, 2s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << answer;
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, Not(HasSubstr(kMetricsMarker)));

  // Many header lines, each short, count against the same budget.
  RawConnection many(port_);
  std::string lines;
  for (int i = 0; i < 2000; ++i) {
    lines += "X-Line-" + std::to_string(i) + ": 0123456789\r\n";
  }
  many.send("GET /metrics HTTP/1.0\r\n" + lines + "\r\n");
  EXPECT_EQ(many.receive(10s, closed).rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_TRUE(closed);

  // A single header line over 8 KiB (cpp-httplib's limit per line): 400.
  RawConnection line(port_);
  line.send("GET /metrics HTTP/1.0\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n");
  EXPECT_EQ(line.receive(10s, closed).rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);

  // A request line over 8 KiB: 414.
  const auto long_uri = httpRequest(port_, "GET", "/metrics?" + std::string(9000, 'a'));
  ASSERT_TRUE(long_uri.has_value());
  EXPECT_EQ(long_uri->status, 414);

  // Just under the limits is served.
  RawConnection fits(port_);
  fits.send("GET /healthz HTTP/1.0\r\nX-Pad: " + std::string(7000, 'a') + "\r\n\r\n");
  EXPECT_THAT(fits.receive(10s, closed), HasSubstr("HTTP/1.1 200"));
}

TEST_F(HttpHygiene, IdleConnectionsAreClosed) {
  RawConnection idle(port_);
  ASSERT_TRUE(idle.connected());
  const auto start = Clock::now();
  bool closed = false;
  const std::string answer = idle.receive(20s, closed);
  const auto waited = Clock::now() - start;
  EXPECT_TRUE(closed) << "an idle connection was kept for 20 s";
  EXPECT_EQ(answer, "");
  EXPECT_GE(waited, 4s);  // the 5 s request timeout, not an immediate refusal
  EXPECT_LE(waited, 10s);
}

TEST_F(HttpHygiene, ASlowRequestIsCutOffAtTheRequestTimeout) {
  // A client trickling its headers (one byte every 200 ms) never completes a request: the 5 s
  // budget covers the whole request head, not each read.
  RawConnection slow(port_);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send("GET /metrics HTTP/1.0\r\nX-Slow: "));
  const auto start = Clock::now();
  bool closed = false;
  std::string answer;
  while (!closed && Clock::now() - start < 15s) {
    if (!slow.send("a")) {
      closed = true;  // the server has closed; the answer, if any, is already buffered
    }
    answer += slow.receive(200ms, closed);  // pacing of the trickle, and watching for the close
  }
  const auto waited = Clock::now() - start;
  EXPECT_TRUE(closed) << "a trickled request kept its connection for 15 s";
  EXPECT_GE(waited, 4s);
  EXPECT_LE(waited, 8s);
  EXPECT_THAT(answer, Not(HasSubstr(kMetricsMarker)));
}

TEST_F(HttpHygiene, AStalledRequestIsAnsweredAndClosedAtTheRequestTimeout) {
  RawConnection stalled(port_);
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(stalled.send("GET /metrics HTTP/1.0\r\nX-Slow: a"));
  const auto start = Clock::now();
  bool closed = false;
  const std::string answer = stalled.receive(15s, closed);
  const auto waited = Clock::now() - start;
  EXPECT_TRUE(closed) << "a stalled request kept its connection for 15 s";
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << answer;
  EXPECT_GE(waited, 4s);
  EXPECT_LE(waited, 7s);
}

// A thousand clients that connect and never finish a request — half idle, half stalled after a
// header line — hold no worker: a scrape on another connection is answered while every one of
// them is still open, inside their 5 s request timeout. (Served by a worker per connection from
// accept to close, 50 such clients delayed a scrape to 14 s, past Prometheus's 10 s timeout.)
TEST_F(HttpHygiene, SlowClientsHoldNoWorker) {
  ASSERT_TRUE(raiseOwnOpenFileLimit(kSlowClients + 256));
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port_));
    ASSERT_TRUE(slow.back()->connected()) << i;
    if (i % 2 == 1) {
      ASSERT_TRUE(slow.back()->send("GET /metrics HTTP/1.1\r\nX-Slow: a"));
    }
  }
  const auto scrape = httpRequest(port_, "GET", "/metrics", 30s);
  ASSERT_TRUE(scrape.has_value()) << agent_->log();
  EXPECT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->body, HasSubstr(kMetricsMarker));
  int closed_early = 0;
  for (auto& connection : slow) {
    bool closed = false;
    EXPECT_EQ(connection->receive(0ms, closed), "");
    closed_early += closed ? 1 : 0;
  }
  EXPECT_EQ(closed_early, 0) << "the scrape waited for slow clients to time out";
  // Each is still held to the request timeout: the stalled ones are answered 400 and closed.
  bool closed = false;
  EXPECT_THAT(slow.back()->receive(15s, closed), HasSubstr("HTTP/1.1 400"));
  EXPECT_TRUE(closed);
}

// Past connection.max_connections the connection that has waited longest is closed to make
// room, so that a flood of slow clients cannot lock the agent's port.
TEST(HttpFront, OverCapacityTheLongestWaitingMakesRoom) {
  ASSERT_TRUE(raiseOwnOpenFileLimit(kSlowClients + 256));
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\n  max_connections: 64\n");
  const int port = agent.waitForPort(60s);
  ASSERT_NE(port, 0) << agent.log();
  RawConnection first(port);
  ASSERT_TRUE(first.connected());
  std::vector<std::unique_ptr<RawConnection>> later;
  for (int i = 0; i < 64; ++i) {
    later.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(later.back()->connected());
  }
  bool closed = false;
  EXPECT_EQ(first.receive(3s, closed), "");
  EXPECT_TRUE(closed) << "the oldest of 65 connections was not closed at a limit of 64";
  const auto scrape = httpRequest(port, "GET", "/healthz", 10s);
  ASSERT_TRUE(scrape.has_value()) << agent.log();
  EXPECT_EQ(scrape->status, 200);
}

}  // namespace
}  // namespace ipcwatch::testing
