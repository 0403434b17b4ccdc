// End to end against the real thing: Debian's prometheus scrapes the real agent every second and
// evaluates the project's alerts.yml and recording.yml; the test produces the IPC events the
// dashboard shows and breaks a configured endpoint, then asserts through Prometheus's HTTP API
// what an on-call engineer would see: the target up, every dashboard and rule expression
// accepted, every dashboard query returning data (the Fleet row's from the recorded series),
// and the endpoint alert firing with its failing check, then resolving.
//
// The rules' `for:` durations (minutes, as in production) are rewritten to a few seconds in the
// test's copy of alerts.yml; the expressions are the file's own, unchanged.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "agent_process.h"
#include "audit_netlink.h"
#include "child_process.h"
#include "test_cgroup.h"

#ifndef IPCWATCH_SOURCE_DIR
#error "IPCWATCH_SOURCE_DIR must name the source tree"
#endif

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr uid_t kClientUid = 61235;
// What the test puts in for Grafana's $__rate_interval: rate() and increase() need two samples
// in the window, and the scrape interval is 1 s.
constexpr const char* kRateInterval = "30s";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string urlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A loopback port nobody listens on right now.
int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// A forked process named `comm` that runs `body` and then waits to be killed. `body` returns
// 0 once it is in the state the test wants (it may block before that, e.g. in open()).
class Child {
 public:
  Child(const std::string& comm, const std::function<int()>& body) {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      prctl(PR_SET_NAME, comm.c_str());
      if (body() != 0) {
        _exit(1);
      }
      for (;;) {
        pause();
      }
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};


// Debian's prometheus on a loopback port, its log in the test's directory.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& dir, int port) : port_(port), log_(dir + "/prometheus.log") {
    const std::vector<std::string> args = {
        kPrometheus,
        "--config.file=" + dir + "/prometheus.yml",
        "--storage.tsdb.path=" + dir + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port),
        "--log.level=warn",
    };
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      std::vector<char*> argv;
      for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
      }
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PrometheusServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool waitReady(std::chrono::milliseconds deadline) const {
    const auto end = Clock::now() + deadline;
    while (Clock::now() < end) {
      const auto response = httpRequest(port_, "GET", "/-/ready");
      if (response && response->status == 200) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // The API's answer to GET `path`, or null when the request or the JSON fails.
  json get(const std::string& path) const {
    const auto response = httpRequest(port_, "GET", path);
    return response ? json::parse(response->body, nullptr, false) : json();
  }
  json query(const std::string& expr) const {
    return get("/api/v1/query?query=" + urlEncode(expr));
  }
  std::string log() const { return readFile(log_); }

 private:
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

// How many series or samples a successful query answer holds; -1 for an error or no answer.
int resultCount(const json& answer) {
  if (!answer.is_object() || answer.value("status", "") != "success" || !answer.contains("data") ||
      !answer["data"].contains("result")) {
    return -1;
  }
  return static_cast<int>(answer["data"]["result"].size());
}

// Every PromQL expression of the dashboard, with Grafana's variables substituted, keyed by a
// description of where it is. Template variable queries `label_values(SELECTOR, label)` are
// checked as SELECTOR.
std::vector<std::pair<std::string, std::string>> dashboardExpressions() {
  const json dashboard = json::parse(readFile(IPCWATCH_SOURCE_DIR "/dashboards/ipcwatch.json"));
  auto substitute = [](std::string expr) {
    const std::vector<std::pair<std::string, std::string>> vars = {
        {"$__rate_interval", kRateInterval}, {"$job", "ipcwatch"}, {"$instance", ".+"}};
    for (const auto& [name, value] : vars) {
      for (auto at = expr.find(name); at != std::string::npos; at = expr.find(name)) {
        expr.replace(at, name.size(), value);
      }
    }
    return expr;
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", json::array())) {
      out.emplace_back("panel '" + panel["title"].get<std::string>() + "' query " +
                           target["refId"].get<std::string>(),
                       substitute(target["expr"].get<std::string>()));
    }
  }
  static const std::regex label_values(R"(^label_values\((.*), *\w+\)$)");
  for (const auto& variable : dashboard["templating"]["list"]) {
    std::smatch match;
    const std::string query = variable["query"].is_object()
                                  ? variable["query"]["query"].get<std::string>()
                                  : std::string();
    if (std::regex_match(query, match, label_values)) {
      out.emplace_back("variable " + variable["name"].get<std::string>(), substitute(match[1]));
    }
  }
  return out;
}

// The expressions of a rule file, keyed by "alert NAME" or "record NAME".
std::vector<std::pair<std::string, std::string>> ruleExpressions(const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& group : YAML::LoadFile(file)["groups"]) {
    for (const auto& rule : group["rules"]) {
      const bool alert = static_cast<bool>(rule["alert"]);
      out.emplace_back(
          (alert ? "alert " : "record ") + rule[alert ? "alert" : "record"].as<std::string>(),
          rule["expr"].as<std::string>());
    }
  }
  return out;
}

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (BPF probes, other users' credentials, audit netlink)";
    }
    if (access(kPrometheus, X_OK) != 0) {
      GTEST_SKIP() << kPrometheus << " is missing (Debian package prometheus, "
                   << "scripts/install-deps.sh installs it)";
    }
    char tmpl[] = "/tmp/ipcwatch-prom-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
    endpoint_fifo_ = dir_ + "/mi_fifo";
    ASSERT_EQ(mkfifo(endpoint_fifo_.c_str(), 0600), 0);
    ASSERT_EQ(chown(endpoint_fifo_.c_str(), kClientUid, kClientUid), 0);
    reader_comm_ = uniqueComm("srv");
    startReader();
  }
  void TearDown() override {
    children_.clear();
    cgroups_.clear();
    reader_.reset();
    if (shm_id_ >= 0) {
      shmctl(shm_id_, IPC_RMID, nullptr);
    }
    if (listener_ >= 0) {
      close(listener_);
    }
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  void startReader() {
    const std::string fifo = endpoint_fifo_;
    reader_ = std::make_unique<Child>(
        reader_comm_, [fifo] { return open(fifo.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : 1; });
  }

  // The agent watches the test's directory only, knows the FIFO as endpoint `e2e_mi` and the
  // listener as `e2e_api`, each with a client that has no process (uid kClientUid), and admits one
  // comm per metric so that the test's two SIGPIPE'd children overflow the cap.
  std::string agentConfig() const {
    return "web:\n  listen_address: \"127.0.0.1:0\"\n"
           "labels:\n  comm: 1\n"
           "workload:\n  pod_logs: " +
           dir_ +
           "/pods\n"
           "scan:\n  directories: [" +
           dir_ +
           "]\n"
           "selinux:\n  sources: [netlink]\n"
           "endpoints:\n"
           "  - name: e2e_mi\n"
           "    path: " +
           endpoint_fifo_ +
           "\n"
           "    type: fifo\n"
           "    server: { process: " +
           reader_comm_ +
           " }\n"
           "    clients:\n"
           "      - name: panel\n"
           "        user: \"" +
           std::to_string(kClientUid) + ":" + std::to_string(kClientUid) +
           "\"\n"
           "        access: write\n"
           // The listener produceEvents binds, held by the test itself: an endpoint whose
           // serving process the "Who serves" panel shows while the FIFO's reader is gone.
           "  - name: e2e_api\n"
           "    path: " +
           dir_ +
           "/listener.sock\n"
           "    type: unix_stream\n"
           "    clients:\n"
           "      - { name: panel, user: \"" +
           std::to_string(kClientUid) + "\", access: connect }\n";
  }

  // prometheus.yml and the rules with short `for:` durations, in the test's directory.
  void writePrometheusConfig(int agent_port) const {
    const std::string rules =
        std::regex_replace(readFile(IPCWATCH_SOURCE_DIR "/deploy/prometheus/alerts.yml"),
                           std::regex(R"((\n +for: )\d+[smh])"), "$012s");
    std::ofstream(dir_ + "/alerts.yml") << rules;
    std::ofstream(dir_ + "/recording.yml")
        << readFile(IPCWATCH_SOURCE_DIR "/deploy/prometheus/recording.yml");
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        << "rule_files: [" << dir_ << "/alerts.yml, " << dir_ << "/recording.yml]\n"
        << "scrape_configs:\n  - job_name: ipcwatch\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << agent_port << "']\n";
  }

  // What the dashboard shows: broken pipes, a SIGPIPE death, a refused pipe resize, blocked
  // and failed FIFO opens, a
  // stale world-writable socket file refusing connect() and bind(), a listener, a FIFO in a
  // directory anyone may write to, a USER_AVC denial and a world-readable SysV segment.
  void produceEvents(AgentProcess& agent, int agent_port) {
    EXPECT_TRUE(exitedCleanly(runAs(uniqueComm("epipe"), [] { return writeToBrokenPipe(5); })));
    const int death_status = runAs(uniqueComm("sigp"), [] {
      int fds[2];
      if (pipe(fds) == 0) {
        close(fds[0]);
        (void)!write(fds[1], "x", 1);  // SIGPIPE's default action ends the process here
      }
      return 0;
    });
    EXPECT_TRUE(WIFSIGNALED(death_status) && WTERMSIG(death_status) == SIGPIPE);

    // A writer blocked for good on a FIFO nobody reads, and a failed non-blocking open (ENXIO).
    const std::string blocked = dir_ + "/blocked_fifo";
    ASSERT_EQ(mkfifo(blocked.c_str(), 0600), 0);
    children_.push_back(std::make_unique<Child>(
        uniqueComm("blkw"), [blocked] { return open(blocked.c_str(), O_WRONLY) >= 0 ? 0 : 1; }));
    EXPECT_EQ(open(blocked.c_str(), O_WRONLY | O_NONBLOCK), -1);
    EXPECT_EQ(errno, ENXIO);

    // A reader blocked past the threshold (1 s), then released: one blocked open and one slow
    // observation in the wait histogram.
    const std::string slow = dir_ + "/slow_fifo";
    ASSERT_EQ(mkfifo(slow.c_str(), 0600), 0);
    children_.push_back(std::make_unique<Child>(
        uniqueComm("slowr"), [slow] { return open(slow.c_str(), O_RDONLY) >= 0 ? 0 : 1; }));
    const auto deadline = Clock::now() + 20s;
    double waited = 0;
    while (waited < 1.2 && Clock::now() < deadline) {
      const auto metrics = httpRequest(agent_port, "GET", "/metrics");
      waited =
          metrics ? findSample(parseExposition(metrics->body), "ipc_fifo_open_oldest_wait_seconds",
                                {{"path", slow}, {"mode", "read"}})
                        .value_or(0)  // exported once the open is waiting
                  : 0;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_GE(waited, 1.2) << agent.log();
    const int slow_writer = open(slow.c_str(), O_WRONLY | O_NONBLOCK);
    EXPECT_GE(slow_writer, 0) << std::strerror(errno);
    close(slow_writer);

    // A socket file bound under umask 0 whose server is gone.
    const std::string stale = dir_ + "/stale.sock";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    const mode_t old_umask = umask(0);
    const int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    umask(old_umask);
    close(server);
    const int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), -1);
    EXPECT_EQ(errno, ECONNREFUSED);
    EXPECT_EQ(bind(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), -1);
    EXPECT_EQ(errno, EADDRINUSE);
    close(client);

    // The same failures, and a broken pipe, from a systemd unit and from a pod's container (in
    // network and IPC namespaces of its own), which the Workloads row groups by unit and by pod.
    const std::string uid = randomPodUid();
    ASSERT_EQ(mkdir((dir_ + "/pods").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((dir_ + "/pods/shop_php-" + uid.substr(0, 5) + "_" + uid).c_str(), 0755), 0);
    cgroups_.push_back(std::make_unique<TestCgroup>("ipcwatch-e2e-" + randomHex(6) + ".service"));
    cgroups_.push_back(
        std::make_unique<TestCgroup>("kubepods/burstable/pod" + uid + "/" + randomHex(64)));
    for (std::size_t i = 0; i < cgroups_.size(); ++i) {
      ASSERT_EQ(cgroups_[i]->error(), "");
      const auto leaves = cgroups_[i]->leaves();
      const bool own_namespaces = i == 1;
      children_.push_back(std::make_unique<Child>(uniqueComm("wl"), [=] {
        if (!enterSelf(leaves) ||
            (own_namespaces && unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) != 0)) {
          return 1;
        }
        const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool refused =
            connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1 &&
            errno == ECONNREFUSED;
        const bool in_use = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1 &&
                            errno == EADDRINUSE;
        close(fd);
        const bool enxio = open(blocked.c_str(), O_WRONLY | O_NONBLOCK) == -1 && errno == ENXIO;
        int fds[2];
        signal(SIGPIPE, SIG_IGN);
        bool epipe = pipe(fds) == 0;
        if (epipe) {
          close(fds[0]);
          epipe = write(fds[1], "x", 1) == -1 && errno == EPIPE;
          close(fds[1]);
        }
        return refused && in_use && enxio && epipe ? 0 : 1;
      }));
    }

    // A listener the accept-queue panel can show.
    sockaddr_un listen_addr{};
    listen_addr.sun_family = AF_UNIX;
    std::strncpy(listen_addr.sun_path, (dir_ + "/listener.sock").c_str(),
                 sizeof listen_addr.sun_path - 1);
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&listen_addr), sizeof listen_addr), 0);
    EXPECT_EQ(listen(listener_, 4), 0);

    // A FIFO in a directory every user may write to, without the sticky bit.
    const std::string open_dir = dir_ + "/open";
    ASSERT_EQ(mkdir(open_dir.c_str(), 0777), 0);
    ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
    ASSERT_EQ(mkfifo((open_dir + "/fifo").c_str(), 0600), 0);

    ASSERT_EQ(sendUserAvc("avc:  denied  { write } for  pid=4242 comm=\"httpd\" "
                          "path=\"/tmp/opensips_fifo\" scontext=system_u:system_r:" +
                          uniqueComm("ipcpr") +
                          "_t:s0 tcontext=system_u:object_r:user_tmp_t:s0 "
                          "tclass=fifo_file permissive=0"),
              0);

    // A pipe limit hit without lowering any limit: an unprivileged user asking for a pipe
    // larger than fs.pipe-max-size is refused with EPERM.
    EXPECT_TRUE(exitedCleanly(runAs(uniqueComm("pipesz"), [] {
      int fds[2];
      if (setgid(kClientUid) != 0 || setuid(kClientUid) != 0 || pipe(fds) != 0) {
        return 1;
      }
      return fcntl(fds[1], F_SETPIPE_SZ, 64 << 20) == -1 && errno == EPERM ? 0 : 1;
    })));

    shm_id_ = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0666);
    EXPECT_GE(shm_id_, 0) << std::strerror(errno);
  }

  // The endpoint alert's entries in /api/v1/alerts; nullopt when Prometheus does not answer.
  static std::optional<std::vector<json>> endpointAlerts(const PrometheusServer& prometheus) {
    const json answer = prometheus.get("/api/v1/alerts");
    if (!answer.is_object() || answer.value("status", "") != "success") {
      return std::nullopt;
    }
    std::vector<json> out;
    for (const auto& alert : answer["data"]["alerts"]) {
      if (alert["labels"].value("alertname", "") == "IpcEndpointUnreachable" &&
          alert["labels"].value("endpoint", "") == "e2e_mi") {
        out.push_back(alert);
      }
    }
    return out;
  }

  std::string dir_;
  std::string endpoint_fifo_;
  std::string reader_comm_;
  std::unique_ptr<Child> reader_;
  std::vector<std::unique_ptr<Child>> children_;
  std::vector<std::unique_ptr<TestCgroup>> cgroups_;  // after children_: emptied first
  int shm_id_ = -1;
  int listener_ = -1;
};

TEST_F(PrometheusE2eTest, DashboardAndAlertsAgainstRealPrometheus) {
  AgentProcess agent(agentConfig());
  const int agent_port = agent.waitForPort(30s);
  ASSERT_GT(agent_port, 0) << agent.log();
  writePrometheusConfig(agent_port);
  const int prometheus_port = freePort();
  ASSERT_GT(prometheus_port, 0);
  PrometheusServer prometheus(dir_, prometheus_port);
  ASSERT_TRUE(prometheus.waitReady(30s)) << prometheus.log();

  produceEvents(agent, agent_port);
  if (HasFatalFailure()) {
    return;
  }

  // The target is up.
  const auto up_deadline = Clock::now() + 20s;
  json up;
  while (Clock::now() < up_deadline) {
    up = prometheus.query("up{job=\"ipcwatch\"} == 1");
    if (resultCount(up) > 0) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(resultCount(up), 1) << up.dump() << "\n" << prometheus.log();

  // The exposition passes promtool.
  const auto metrics = httpRequest(agent_port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  std::ofstream(dir_ + "/metrics.prom") << metrics->body;
  const auto [lint_status, lint_output] =
      runCommand("promtool check metrics < '" + dir_ + "/metrics.prom'");
  EXPECT_EQ(lint_status, 0) << lint_output;

  // Prometheus accepts every expression of the dashboard and of the alert and recording rules.
  auto expressions = dashboardExpressions();
  for (const char* file : {IPCWATCH_SOURCE_DIR "/deploy/prometheus/alerts.yml",
                           IPCWATCH_SOURCE_DIR "/deploy/prometheus/recording.yml"}) {
    for (auto& rule : ruleExpressions(file)) {
      expressions.push_back(std::move(rule));
    }
  }
  ASSERT_GT(expressions.size(), 30u);
  for (const auto& [where, expr] : expressions) {
    const json answer = prometheus.query(expr);
    EXPECT_GE(resultCount(answer), 0) << where << ": " << expr << "\n" << answer.dump();
  }

  // The FIFO's reader dies: the endpoint alert fires, naming the failing check.
  reader_->stop();
  const auto killed_at = Clock::now();
  std::vector<json> alerts;
  while (Clock::now() < killed_at + 30s) {
    alerts = endpointAlerts(prometheus).value_or(std::vector<json>{});
    if (!alerts.empty() && alerts[0].value("state", "") == "firing") {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(alerts.size(), 1u) << prometheus.log();
  EXPECT_EQ(alerts[0]["state"], "firing");
  EXPECT_EQ(alerts[0]["labels"]["check"], "peer");
  EXPECT_EQ(alerts[0]["labels"]["client"], "panel");
  EXPECT_EQ(alerts[0]["labels"]["severity"], "critical");
  EXPECT_NE(alerts[0]["annotations"]["description"].get<std::string>().find("the peer check fails"),
            std::string::npos)
      << alerts[0].dump();
  // A scrape (1 s), the rule's evaluation (1 s) and its 2 s `for:`, with slack for a busy host.
  EXPECT_LT(Clock::now() - killed_at, 15s);

  // Every dashboard query returns data now that the events have happened and an endpoint is
  // failing. Rates need two samples in their window, so poll.
  std::vector<std::string> empty;
  const auto data_deadline = Clock::now() + 30s;
  do {
    empty.clear();
    for (const auto& [where, expr] : dashboardExpressions()) {
      const json answer = prometheus.query(expr);
      if (resultCount(answer) <= 0) {
        empty.push_back(where + ": " + expr);
      }
    }
    if (!empty.empty()) {
      std::this_thread::sleep_for(500ms);
    }
  } while (!empty.empty() && Clock::now() < data_deadline);
  for (const auto& query : empty) {
    ADD_FAILURE() << "no data for " << query;
  }

  // A new reader: the alert resolves (it leaves /api/v1/alerts).
  startReader();
  const auto restarted_at = Clock::now();
  std::optional<std::vector<json>> remaining;
  do {
    std::this_thread::sleep_for(200ms);
    remaining = endpointAlerts(prometheus);
  } while (Clock::now() < restarted_at + 30s && (!remaining || !remaining->empty()));
  ASSERT_TRUE(remaining) << prometheus.log();
  EXPECT_TRUE(remaining->empty()) << json(*remaining).dump();
}

}  // namespace
}  // namespace ipcwatch::testing
