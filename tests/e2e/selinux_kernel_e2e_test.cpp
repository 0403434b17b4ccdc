// End to end with SELinux active and Debian's reference policy loaded (the SELinux guest of
// `make vmtest`): the user story itself. A process in the web server's domain, httpd_t, opens a
// FIFO whose label it may not write, the kernel denies it, and the real agent counts that denial
// exactly once although three sources see it (the audit multicast stream, audit.log written by a
// real auditd, the avc:selinux_audited tracepoint); the endpoint check fails with the denial as
// evidence and `ipcwatch diagnose` prints the allow rule, until the label is fixed.
//
// Each test sets up in permissive mode and turns enforcing on only around the access to be
// denied: the suite's own processes run in kernel_t from unlabeled files, which the policy lets
// alone but which enforcing mode would otherwise stop from starting the agent.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSelinuxfs = "/sys/fs/selinux";
const std::string kAuditd = "/usr/sbin/auditd";
const std::string kAuditctl = "/usr/sbin/auditctl";
const std::string kAuditLog = "/var/log/audit/audit.log";
const std::string kClientContext = "system_u:system_r:httpd_t:s0";
// A label httpd_t may not write a FIFO of (a user's temporary file), and the one the fix gives:
// the web server's own tmpfs files, which the policy lets it read and write.
const std::string kDeniedLabel = "system_u:object_r:user_tmp_t:s0";
const std::string kFixedLabel = "system_u:object_r:httpd_tmpfs_t:s0";

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

std::string firstLine(const std::string& path) {
  std::string text = readFile(path);
  return text.substr(0, text.find('\n'));
}

// Whether the loaded policy knows `context` (selinuxfs validates it on write).
bool contextIsValid(const std::string& context) {
  const int fd = open((kSelinuxfs + "/context").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  const bool valid = write(fd, context.c_str(), context.size() + 1) > 0;
  close(fd);
  return valid;
}

bool setEnforcing(bool on) {
  { std::ofstream(kSelinuxfs + "/enforce") << (on ? "1" : "0"); }
  return firstLine(kSelinuxfs + "/enforce") == (on ? "1" : "0");
}

bool setFileLabel(const std::string& path, const std::string& context) {
  return lsetxattr(path.c_str(), "security.selinux", context.c_str(), context.size() + 1, 0) == 0;
}

std::string fileLabel(const std::string& path) {
  char label[256] = {};
  const ssize_t n = lgetxattr(path.c_str(), "security.selinux", label, sizeof label - 1);
  return n > 0 ? std::string(label, strnlen(label, static_cast<std::size_t>(n))) : "";
}

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size(), sizeof addr.sun_path - 1));
  return addr;
}

// A stream socket listening at `path`, for a HeldChild: 0 once it listens.
int listenAt(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = unixAddress(path);
  return fd >= 0 && bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
                 listen(fd, 8) == 0
             ? 0
             : 1;
}

// Enforcing for its lifetime, permissive again after (also when an assertion returns early).
class Enforcing {
 public:
  Enforcing() { ok_ = setEnforcing(true); }
  ~Enforcing() { setEnforcing(false); }
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// A process in another SELinux domain (entered while permissive, by writing its context to
// /proc/thread-self/attr/current, as setcon(3) does) that opens or connects to a path when
// asked and reports the errno. It takes requests and gives results through shared anonymous
// memory and a signal, which SELinux does not check once the memory is mapped: the pipes a
// test would use carry the label of the test's own domain, which the confined one may not read.
class ConfinedClient {
 public:
  enum class Op : int { kOpenForWrite = 1, kConnect = 2 };

  ConfinedClient(const std::string& comm, const std::string& context) {
    void* memory =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      return;
    }
    shared_ = new (memory) Shared();
    pid_ = fork();
    if (pid_ == 0) {
      run(comm, context);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pid_ > 0 && shared_->ready.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
  }
  ~ConfinedClient() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (shared_ != nullptr) {
      munmap(shared_, sizeof(Shared));
    }
  }
  ConfinedClient(const ConfinedClient&) = delete;
  ConfinedClient& operator=(const ConfinedClient&) = delete;

  // The context the child runs in, as it read it back; "" when it could not enter it.
  std::string context() const {
    return shared_ != nullptr && shared_->ready == 1 ? shared_->context : "";
  }
  pid_t pid() const { return pid_; }

  // 0 when the operation succeeded, else its errno; -1 when the child did not answer.
  int request(Op op, const std::string& path) {
    if (pid_ <= 0 || path.size() >= sizeof(shared_->path)) {
      return -1;
    }
    shared_->op = static_cast<int>(op);
    std::memcpy(shared_->path, path.c_str(), path.size() + 1);
    const int n = shared_->requested.fetch_add(1) + 1;
    kill(pid_, SIGUSR1);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (shared_->done.load() != n) {
      if (std::chrono::steady_clock::now() > deadline) {
        return -1;
      }
      std::this_thread::sleep_for(1ms);
    }
    return shared_->result;
  }

 private:
  struct Shared {
    std::atomic<int> ready{0};  // 1 in the domain, 2 could not enter it
    std::atomic<int> requested{0};
    std::atomic<int> done{0};
    int op = 0;
    int result = 0;
    char path[108] = {};
    char context[256] = {};
  };

  [[noreturn]] void run(const std::string& comm, const std::string& context) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    prctl(PR_SET_NAME, comm.c_str());
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = open("/proc/thread-self/attr/current", O_WRONLY | O_CLOEXEC);
    const bool entered = fd >= 0 && write(fd, context.c_str(), context.size()) > 0;
    if (fd >= 0) {
      close(fd);
    }
    const int in = open("/proc/thread-self/attr/current", O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      const ssize_t n = read(in, shared_->context, sizeof shared_->context - 1);
      shared_->context[n > 0 ? n : 0] = '\0';
      close(in);
    }
    shared_->ready = entered ? 1 : 2;
    for (;;) {
      int signal = 0;
      if (sigwait(&set, &signal) != 0) {
        _exit(1);
      }
      const int wanted = shared_->requested.load();
      if (wanted == shared_->done.load()) {
        continue;
      }
      shared_->result = perform(static_cast<Op>(shared_->op), shared_->path);
      shared_->done = wanted;
    }
  }

  static int perform(Op op, const char* path) {
    if (op == Op::kOpenForWrite) {
      const int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      const int error = fd < 0 ? errno : 0;
      if (fd >= 0) {
        close(fd);
      }
      return error;
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return errno;
    }
    const sockaddr_un addr = unixAddress(path);
    const int error =
        connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
    close(fd);
    return error;
  }

  Shared* shared_ = nullptr;
  pid_t pid_ = -1;
};

// A real auditd writing audit.log, in the foreground as the test's child; stopped with SIGTERM.
class Auditd {
 public:
  Auditd() {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      const int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      dup2(null, 2);
      execl(kAuditd.c_str(), kAuditd.c_str(), "-n", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Up once the kernel sends it the audit records (auditctl -s names it as the audit pid).
    const std::string wanted = "pid " + std::to_string(pid_);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      const auto [status, output] = runCommand(kAuditctl + " -s");
      if (status == 0 && output.find(wanted + "\n") != std::string::npos) {
        registered_ = true;
        break;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  ~Auditd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool registered() const { return registered_; }

 private:
  pid_t pid_ = -1;
  bool registered_ = false;
};

class SelinuxKernelE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (to switch SELinux between permissive and enforcing)";
    }
    if (access((kSelinuxfs + "/enforce").c_str(), F_OK) != 0 || !contextIsValid(kClientContext)) {
      GTEST_SKIP() << "needs SELinux active with a policy that has httpd_t (Debian's "
                      "selinux-policy-default): the SELinux guest of `make vmtest` has both";
    }
    ASSERT_TRUE(setEnforcing(false)) << "cannot switch SELinux to permissive";
    dir_ = std::filesystem::temp_directory_path() / uniqueComm("ipcwsel");
    std::filesystem::create_directories(dir_);
    fifo_ = dir_ + "/mi.fifo";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0666), 0) << std::strerror(errno);
    ASSERT_TRUE(setFileLabel(fifo_, kDeniedLabel)) << std::strerror(errno);
    ASSERT_EQ(fileLabel(fifo_), kDeniedLabel);
    reader_ = std::make_unique<HeldChild>(uniqueComm("mi-srv"), [this] {
      return open(fifo_.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : 1;
    });
    ASSERT_TRUE(reader_->ready());
  }

  void TearDown() override {
    setEnforcing(false);
    agent_.reset();
    reader_.reset();
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // A client in httpd_t, named `comm_`, entered while permissive.
  std::unique_ptr<ConfinedClient> startClient() {
    comm_ = uniqueComm("panel");
    auto client = std::make_unique<ConfinedClient>(comm_, kClientContext);
    EXPECT_EQ(client->context(), kClientContext);
    return client;
  }

  void startAgent(const std::string& sources, const std::string& endpoints = "") {
    agent_ = std::make_unique<AgentProcess>(
        "web:\n  listen_address: \"127.0.0.1:0\"\n"
        "selinux:\n  sources: " +
        sources + "\n  audit_log: " + kAuditLog + "\n" + endpoints);
    port_ = agent_->waitForPort(30s);
    ASSERT_NE(port_, 0) << "agent did not start:\n" << agent_->log();
  }

  std::map<std::string, double> scrape() {
    auto response = httpRequest(port_, "GET", "/metrics");
    return response ? parseExposition(response->body) : std::map<std::string, double>{};
  }

  // Scrapes until `done` holds, for up to 20 s; returns the last scrape.
  std::map<std::string, double> scrapeUntil(
      const std::function<bool(const std::map<std::string, double>&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    auto samples = scrape();
    while (!done(samples) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      samples = scrape();
    }
    return samples;
  }

  // The value of a series that must be there: a missing series is no zero.
  static std::optional<double> series(const std::map<std::string, double>& samples,
                                      const std::string& name,
                                      const std::map<std::string, std::string>& labels) {
    const auto it = samples.find(sampleKey(name, labels));
    return it == samples.end() ? std::nullopt : std::optional<double>(it->second);
  }

  static std::map<std::string, std::string> denial(const std::string& tclass,
                                                   const std::string& perm,
                                                   const std::string& target_type,
                                                   const std::string& permissive) {
    return {{"tclass", tclass},         {"perm", perm},
            {"source_type", "httpd_t"}, {"target_type", target_type},
            {"permissive", permissive}, {"origin", "kernel"}};
  }

  static double duplicates(const std::map<std::string, double>& samples) {
    double total = 0;
    for (const char* source : {"netlink", "audit_log", "tracepoint"}) {
      total += series(samples, "ipcwatch_audit_duplicates_total", {{"source", source}}).value_or(0);
    }
    return total;
  }

  static std::pair<int, std::string> diagnose(const std::string& args) {
    return runCommand(std::string(IPCWATCH_BINARY) + " diagnose " + args);
  }

  std::string dir_;
  std::string fifo_;
  std::string comm_;
  std::unique_ptr<HeldChild> reader_;
  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

constexpr const char* kAllSources = "[netlink, audit_log, tracepoint]";

// The user story: enforcing, a web panel in httpd_t opens the management FIFO for writing and
// gets EACCES. The kernel writes one AVC record, { write }; auditd writes it to audit.log, the
// audit multicast stream carries it, the tracepoint fires: one denial, two duplicates.
TEST_F(SelinuxKernelE2E, EnforcedDenialCountsOnceFromThreeSources) {
  auto client = startClient();
  Auditd auditd;
  ASSERT_TRUE(auditd.registered()) << "auditd did not start";
  startAgent(kAllSources);
  const auto key = denial("fifo_file", "write", "user_tmp_t", "0");
  const auto before = scrape();
  ASSERT_TRUE(series(before, "ipcwatch_audit_duplicates_total", {{"source", "audit_log"}}))
      << agent_->log();
  ASSERT_EQ(series(before, "ipc_selinux_enabled", {}), 1.0);
  const double denied_before = series(before, "ipc_selinux_denials_total", key).value_or(0);
  const double duplicates_before = duplicates(before);
  auto records = [&](const std::map<std::string, double>& s, const char* source) {
    return series(s, "ipcwatch_audit_records_total", {{"source", source}, {"type", "AVC"}})
        .value_or(0);
  };
  const double netlink_before = records(before, "netlink");
  const double log_before = records(before, "audit_log");
  const double tracepoint_before = records(before, "tracepoint");
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), EACCES);
  }
  const auto after = scrapeUntil([&](const auto& s) {
    return records(s, "netlink") > netlink_before && records(s, "audit_log") > log_before &&
           records(s, "tracepoint") > tracepoint_before && duplicates(s) >= duplicates_before + 2;
  });
  EXPECT_GT(records(after, "netlink"), netlink_before) << agent_->log();
  EXPECT_GT(records(after, "audit_log"), log_before) << agent_->log();
  EXPECT_GT(records(after, "tracepoint"), tracepoint_before) << agent_->log();
  EXPECT_EQ(duplicates(after), duplicates_before + 2);
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", key), denied_before + 1) << agent_->log();
  EXPECT_EQ(
      series(after, "ipc_selinux_denials_total", denial("fifo_file", "open", "user_tmp_t", "0")),
      std::nullopt)
      << "denied at the write check, open is never asked";
}

// Without auditd the kernel still multicasts the record and the tracepoint still fires; the
// audit.log source reads nothing new.
TEST_F(SelinuxKernelE2E, WithoutAuditdCountsOnceFromNetlinkAndTracepoint) {
  auto client = startClient();
  startAgent(kAllSources);
  const auto key = denial("fifo_file", "write", "user_tmp_t", "0");
  const auto before = scrape();
  ASSERT_TRUE(series(before, "ipcwatch_audit_duplicates_total", {{"source", "tracepoint"}}))
      << agent_->log();
  const double denied_before = series(before, "ipc_selinux_denials_total", key).value_or(0);
  const double tracepoint_duplicates_before =
      *series(before, "ipcwatch_audit_duplicates_total", {{"source", "tracepoint"}});
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), EACCES);
  }
  const auto after = scrapeUntil([&](const auto& s) {
    return series(s, "ipcwatch_audit_duplicates_total", {{"source", "tracepoint"}}).value_or(0) >
           tracepoint_duplicates_before;
  });
  EXPECT_EQ(series(after, "ipcwatch_audit_duplicates_total", {{"source", "tracepoint"}}),
            tracepoint_duplicates_before + 1)
      << agent_->log();
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", key), denied_before + 1) << agent_->log();
}

// The tracepoint alone: its class and permission bits decode to the names the audit record
// prints, for a FIFO write and a unix stream socket connectto.
TEST_F(SelinuxKernelE2E, TracepointAloneDecodesTheAuditRecordsNames) {
  const std::string socket_path = dir_ + "/mi.sock";
  HeldChild server(uniqueComm("mi-sock"), [&] { return listenAt(socket_path); });
  ASSERT_TRUE(server.ready());
  // The socket file takes a label httpd_t may write, so that connectto is what is denied.
  ASSERT_TRUE(setFileLabel(socket_path, kFixedLabel));
  auto client = startClient();
  startAgent("[tracepoint]");
  const auto write_key = denial("fifo_file", "write", "user_tmp_t", "0");
  const auto connect_key = denial("unix_stream_socket", "connectto", "kernel_t", "0");
  const auto before = scrape();
  ASSERT_TRUE(series(before, "ipcwatch_audit_lost_total", {{"source", "tracepoint"}}))
      << agent_->log();
  const double writes_before = series(before, "ipc_selinux_denials_total", write_key).value_or(0);
  const double connects_before =
      series(before, "ipc_selinux_denials_total", connect_key).value_or(0);
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), EACCES);
    EXPECT_EQ(client->request(ConfinedClient::Op::kConnect, socket_path), EACCES);
  }
  const auto after = scrapeUntil([&](const auto& s) {
    return series(s, "ipc_selinux_denials_total", write_key).value_or(0) > writes_before &&
           series(s, "ipc_selinux_denials_total", connect_key).value_or(0) > connects_before;
  });
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", write_key), writes_before + 1)
      << agent_->log();
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", connect_key), connects_before + 1)
      << agent_->log();
  EXPECT_EQ(series(after, "ipcwatch_audit_lost_total", {{"source", "tracepoint"}}), 0.0);
}

// Permissive: the kernel logs what enforcing would deny and lets it happen, each permission
// once until the access vector cache is flushed (turning enforcing on flushes it).
TEST_F(SelinuxKernelE2E, PermissiveDenialIsCountedAndTheOpenSucceeds) {
  auto client = startClient();
  startAgent(kAllSources);
  const auto write_key = denial("fifo_file", "write", "user_tmp_t", "1");
  const auto open_key = denial("fifo_file", "open", "user_tmp_t", "1");
  ASSERT_TRUE(setEnforcing(true));
  ASSERT_TRUE(setEnforcing(false));
  const auto before = scrape();
  ASSERT_TRUE(series(before, "ipc_selinux_enforcing", {})) << agent_->log();
  const double writes_before = series(before, "ipc_selinux_denials_total", write_key).value_or(0);
  const double opens_before = series(before, "ipc_selinux_denials_total", open_key).value_or(0);
  EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), 0);
  const auto after = scrapeUntil([&](const auto& s) {
    return series(s, "ipc_selinux_denials_total", write_key).value_or(0) > writes_before &&
           series(s, "ipc_selinux_denials_total", open_key).value_or(0) > opens_before;
  });
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", write_key), writes_before + 1)
      << agent_->log();
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", open_key), opens_before + 1)
      << agent_->log();
  EXPECT_EQ(series(after, "ipc_selinux_enforcing", {}), 0.0);
}

// A configured endpoint whose client runs in httpd_t: the denial fails its selinux check, with
// the denial as evidence, and diagnose prints the rule that would allow it. Relabelling the FIFO
// to a type httpd_t may write fixes it: the kernel lets the open through, and both agree again.
TEST_F(SelinuxKernelE2E, DeniedFifoFailsTheEndpointUntilRelabelled) {
  auto client = startClient();
  Auditd auditd;
  ASSERT_TRUE(auditd.registered()) << "auditd did not start";
  startAgent(kAllSources, "endpoints:\n  - name: panel\n    path: " + fifo_ +
                              "\n    type: fifo\n    clients:\n      - name: web\n"
                              "        process: " +
                              comm_ + "\n");
  const std::map<std::string, std::string> selinux_check = {
      {"endpoint", "panel"}, {"client", "web"}, {"check", "selinux"}};
  const std::map<std::string, std::string> up = {{"endpoint", "panel"}, {"client", "web"}};
  const auto before =
      scrapeUntil([&](const auto& s) { return series(s, "ipc_endpoint_up", up) == 1.0; });
  ASSERT_EQ(series(before, "ipc_endpoint_up", up), 1.0) << agent_->log();
  ASSERT_EQ(series(before, "ipc_endpoint_check_ok", selinux_check), 1.0);
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), EACCES);
  }
  const auto failed = scrapeUntil(
      [&](const auto& s) { return series(s, "ipc_endpoint_check_ok", selinux_check) == 0.0; });
  EXPECT_EQ(series(failed, "ipc_endpoint_check_ok", selinux_check), 0.0) << agent_->log();
  EXPECT_EQ(series(failed, "ipc_endpoint_up", up), 0.0);

  auto [status, output] = diagnose("--endpoint panel --config " + agent_->configPath());
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ selinux"));
  EXPECT_THAT(output, HasSubstr("client domain " + kClientContext));
  EXPECT_THAT(output, HasSubstr("denied { write } for httpd_t on user_tmp_t:fifo_file"));
  EXPECT_THAT(output, HasSubstr("allow httpd_t user_tmp_t:fifo_file write;"));

  ASSERT_TRUE(setFileLabel(fifo_, kFixedLabel));
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kOpenForWrite, fifo_), 0)
        << "the policy lets httpd_t write httpd_tmpfs_t FIFOs";
  }
  const auto fixed = scrapeUntil(
      [&](const auto& s) { return series(s, "ipc_endpoint_check_ok", selinux_check) == 1.0; });
  EXPECT_EQ(series(fixed, "ipc_endpoint_check_ok", selinux_check), 1.0) << agent_->log();
  EXPECT_EQ(series(fixed, "ipc_endpoint_up", up), 1.0);
  std::tie(status, output) = diagnose("--endpoint panel --config " + agent_->configPath());
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("✓ selinux"));
  EXPECT_THAT(output, HasSubstr("file label " + kFixedLabel));
  EXPECT_THAT(output, Not(HasSubstr("allow httpd_t")));
}

// A unix stream socket endpoint: the client may write the socket file but not connect to the
// serving socket's domain (kernel_t here), and the check names the connectto denial.
TEST_F(SelinuxKernelE2E, ConnecttoDenialFailsTheSocketEndpoint) {
  const std::string socket_path = dir_ + "/mi.sock";
  HeldChild server(uniqueComm("mi-sock"), [&] { return listenAt(socket_path); });
  ASSERT_TRUE(server.ready());
  ASSERT_TRUE(setFileLabel(socket_path, kFixedLabel));
  auto client = startClient();
  Auditd auditd;
  ASSERT_TRUE(auditd.registered()) << "auditd did not start";
  startAgent(kAllSources, "endpoints:\n  - name: mgmt\n    path: " + socket_path +
                              "\n    type: unix_stream\n    clients:\n      - name: web\n"
                              "        process: " +
                              comm_ + "\n");
  const auto key = denial("unix_stream_socket", "connectto", "kernel_t", "0");
  const std::map<std::string, std::string> selinux_check = {
      {"endpoint", "mgmt"}, {"client", "web"}, {"check", "selinux"}};
  const auto before = scrape();
  ASSERT_EQ(series(before, "ipc_endpoint_check_ok", selinux_check), 1.0) << agent_->log();
  const double denied_before = series(before, "ipc_selinux_denials_total", key).value_or(0);
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    EXPECT_EQ(client->request(ConfinedClient::Op::kConnect, socket_path), EACCES);
  }
  const auto after = scrapeUntil(
      [&](const auto& s) { return series(s, "ipc_endpoint_check_ok", selinux_check) == 0.0; });
  EXPECT_EQ(series(after, "ipc_endpoint_check_ok", selinux_check), 0.0) << agent_->log();
  EXPECT_EQ(series(after, "ipc_selinux_denials_total", key), denied_before + 1);
  const auto [status, output] = diagnose("--endpoint mgmt --config " + agent_->configPath());
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("allow httpd_t kernel_t:unix_stream_socket connectto;"));
}

// The state gauges follow selinuxfs: enabled with a policy, enforcing as setenforce sets it,
// and the loaded policy's version and capability.
// `ipcwatch endpoints` shows the FIFO's label and its holder's context, and --context finds
// the endpoint by either (the `lsof -Z` / `ss -Z` question: who in which domain holds what).
TEST_F(SelinuxKernelE2E, EndpointsListingShowsLabelsAndContexts) {
  auto client = startClient();
  ASSERT_EQ(client->context(), kClientContext);
  std::string reader_context;
  std::ifstream("/proc/" + std::to_string(reader_->pid()) + "/attr/current") >> reader_context;
  reader_context = reader_context.c_str();  // up to its NUL
  ASSERT_FALSE(reader_context.empty());
  const auto list = [](const std::string& args) {
    return runCommand(std::string(IPCWATCH_BINARY) + " endpoints --type fifo " + args);
  };
  auto [status, output] = list("--path " + fifo_);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr(kDeniedLabel));
  EXPECT_THAT(output, ::testing::HasSubstr(std::to_string(reader_->pid()) + "/" + "mi-srv"));
  EXPECT_THAT(output, ::testing::HasSubstr("(read " + reader_context + ")"));
  std::tie(status, output) = list("--path " + fifo_ + " --context '*:user_tmp_t:*'");
  EXPECT_THAT(output, ::testing::HasSubstr(fifo_)) << "the label matches";
  // user:role:TYPE:level
  const auto type_at = reader_context.find(':', reader_context.find(':') + 1) + 1;
  const std::string reader_type =
      reader_context.substr(type_at, reader_context.find(':', type_at) - type_at);
  std::tie(status, output) = list("--path " + fifo_ + " --context '*:" + reader_type + ":*'");
  EXPECT_THAT(output, ::testing::HasSubstr(fifo_)) << "the holder's context matches";
  std::tie(status, output) = list("--path " + fifo_ + " --context '*:httpd_t:*'");
  EXPECT_EQ(status, 0);
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr(fifo_))) << "httpd_t holds nothing";
}

TEST_F(SelinuxKernelE2E, EnabledEnforcingAndPolicyInfoFollowTheKernel) {
  startAgent("[netlink]");
  const auto permissive = scrape();
  EXPECT_EQ(series(permissive, "ipc_selinux_enabled", {}), 1.0) << agent_->log();
  EXPECT_EQ(series(permissive, "ipc_selinux_enforcing", {}), 0.0);
  EXPECT_EQ(series(permissive, "ipc_selinux_policy_info",
                   {{"policyvers", firstLine(kSelinuxfs + "/policyvers")},
                    {"extended_socket_class",
                     firstLine(kSelinuxfs + "/policy_capabilities/extended_socket_class")}}),
            1.0);
  std::optional<double> enforcing_value;
  {
    Enforcing enforcing;
    ASSERT_TRUE(enforcing.ok());
    enforcing_value = series(scrape(), "ipc_selinux_enforcing", {});
  }
  EXPECT_EQ(enforcing_value, 1.0);
  EXPECT_EQ(series(scrape(), "ipc_selinux_enforcing", {}), 0.0);
}

}  // namespace
}  // namespace ipcwatch::testing
