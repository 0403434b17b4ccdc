// End to end: USER_AVC records sent over the audit netlink socket, as dbus-daemon sends them,
// reach the real agent through the audit multicast group and are counted per label. This works
// while SELinux is inactive: the kernel relays USER_AVC even with auditing off.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "audit_netlink.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

std::string denial(const std::string& perms, const std::string& source_type,
                   const std::string& tclass, const std::string& tail) {
  return "avc:  denied  { " + perms +
         " } for  pid=4242 comm=\"opensips-cp\" "
         "path=\"/tmp/opensips_fifo\" scontext=system_u:system_r:" +
         source_type + ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=" + tclass + tail;
}

class SelinuxE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (CAP_AUDIT_WRITE to send, CAP_AUDIT_READ to listen)";
    }
    agent_ = std::make_unique<AgentProcess>(R"(
web:
  listen_address: "127.0.0.1:0"
selinux:
  sources: [netlink]
  recent_denials: 5
)");
    port_ = agent_->waitForPort(30s);
    ASSERT_NE(port_, 0) << "agent did not start:\n" << agent_->log();
  }

  std::map<std::string, double> scrape() {
    auto response = httpRequest(port_, "GET", "/metrics");
    return response ? parseExposition(response->body) : std::map<std::string, double>{};
  }

  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

TEST_F(SelinuxE2eTest, UserAvcDenialsCountedPerPermissionAndLabel) {
  // A source type no other test or host process uses: every count below is ours alone.
  const std::string type = uniqueComm("ipcwt") + "_t";
  auto labels = [&](const std::string& tclass, const std::string& perm,
                    const std::string& permissive) -> std::map<std::string, std::string> {
    return {{"tclass", tclass},         {"perm", perm},
            {"source_type", type},      {"target_type", "user_tmp_t"},
            {"permissive", permissive}, {"origin", "userspace"}};
  };
  const auto before = scrape();
  ASSERT_FALSE(before.empty()) << agent_->log();
  const double parse_errors_before =
      sampleValue(before, "ipcwatch_audit_parse_errors_total", {{"source", "netlink"}});
  // No record may have been read yet, so the family may not be there.
  const double records_before = findSample(before, "ipcwatch_audit_records_total",
                                           {{"source", "netlink"}, {"type", "USER_AVC"}})
                                    .value_or(0);

  ASSERT_EQ(sendUserAvc(denial("read write", type, "fifo_file", " permissive=0")), 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sendUserAvc(denial("connectto", type, "unix_stream_socket", " permissive=1")), 0);
  }
  ASSERT_EQ(sendUserAvc("avc:  granted  { write } for scontext=system_u:system_r:" + type +
                        ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file"),
            0);
  ASSERT_EQ(sendUserAvc("avc:  denied  { write } for scontext=system_u:system_r:" + type), 0);
  // Last: no permissive= field. Netlink keeps order, so once this is counted all are.
  ASSERT_EQ(sendUserAvc(denial("open", type, "fifo_file", "")), 0);

  std::map<std::string, double> after;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    after = scrape();
    if (sampleValue(after, "ipc_selinux_denials_total", labels("fifo_file", "open", "unknown")) >=
        1) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(sampleValue(after, "ipc_selinux_denials_total", labels("fifo_file", "open", "unknown")),
            1)
      << agent_->log();
  EXPECT_EQ(sampleValue(after, "ipc_selinux_denials_total", labels("fifo_file", "read", "0")), 1);
  EXPECT_EQ(sampleValue(after, "ipc_selinux_denials_total", labels("fifo_file", "write", "0")), 1);
  EXPECT_EQ(sampleValue(after, "ipc_selinux_denials_total",
                        labels("unix_stream_socket", "connectto", "1")),
            3);
  // The granted record counted nothing: no other series carries our type.
  int ours = 0;
  for (const auto& [key, value] : after) {
    if (key.rfind("ipc_selinux_denials_total{", 0) == 0 && key.find(type) != std::string::npos) {
      ++ours;
    }
  }
  EXPECT_EQ(ours, 4);
  EXPECT_EQ(sampleValue(after, "ipcwatch_audit_parse_errors_total", {{"source", "netlink"}}) -
                parse_errors_before,
            1);
  EXPECT_GE(sampleValue(after, "ipcwatch_audit_records_total",
                        {{"source", "netlink"}, {"type", "USER_AVC"}}) -
                records_before,
            7);
  EXPECT_EQ(findSample(after, "ipcwatch_collector_success", {{"collector", "selinux"}}), 1);

  // /denials keeps the last 5 (recent_denials: 5): the open, then the three connectto.
  const auto landing = httpRequest(port_, "GET", "/");
  ASSERT_TRUE(landing);
  EXPECT_NE(landing->body.find("<a href=\"denials\">/denials</a>"), std::string::npos)
      << landing->body;
  const auto page = httpRequest(port_, "GET", "/denials");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  const std::string open_rule = "allow " + type + " user_tmp_t:fifo_file open;";
  const std::string connect_rule = "allow " + type + " user_tmp_t:unix_stream_socket connectto;";
  const std::size_t open_at = page->body.find(open_rule);
  ASSERT_NE(open_at, std::string::npos) << page->body;
  EXPECT_LT(open_at, page->body.find(connect_rule));  // newest first
  EXPECT_NE(page->body.find("comm=\"opensips-cp\" pid=4242 path=\"/tmp/opensips_fifo\""),
            std::string::npos);
  // Five entries at most (which five beyond ours depends on other USER_AVC senders).
  std::size_t entries = 0;
  for (std::size_t at = page->body.find("\n  allow "); at != std::string::npos;
       at = page->body.find("\n  allow ", at + 1)) {
    ++entries;
  }
  EXPECT_LE(entries, 5u);
}

// The audit.log source through the real binary: configured path, read from its end, and an
// appended record counted once.
TEST(SelinuxAuditLogE2eTest, AppendedRecordsCountedFromConfiguredFile) {
  char dir[] = "/tmp/ipcwatch-auditlog-e2e-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string log = std::string(dir) + "/audit.log";
  const std::string type = uniqueComm("ipcwl") + "_t";
  auto line = [&](int serial) {
    return "type=AVC msg=audit(1700000000.000:" + std::to_string(serial) +
           "): avc:  denied  { write } for  pid=1 comm=\"httpd\" scontext=system_u:system_r:" +
           type + ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file permissive=0\n";
  };
  ASSERT_EQ(runCommand("printf '%s' '" + line(1) + "' > " + log).first, 0);
  {
    AgentProcess agent(
        "web:\n  listen_address: \"127.0.0.1:0\"\nselinux:\n  sources: "
        "[audit_log]\n  audit_log: " +
        log + "\n");
    const int port = agent.waitForPort(30s);
    ASSERT_NE(port, 0) << agent.log();
    ASSERT_EQ(runCommand("printf '%s' '" + line(2) + line(3) + "' >> " + log).first, 0);
    const std::map<std::string, std::string> labels = {
        {"tclass", "fifo_file"},       {"perm", "write"},   {"source_type", type},
        {"target_type", "user_tmp_t"}, {"permissive", "0"}, {"origin", "kernel"}};
    double n = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (n < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      const auto response = httpRequest(port, "GET", "/metrics");
      n = response ? findSample(parseExposition(response->body), "ipc_selinux_denials_total",
                                labels)
                         .value_or(0)  // counted from the first denial on
                   : 0;
    }
    // Line 1 was there before the start: 2, not 3.
    EXPECT_EQ(n, 2) << agent.log();
  }
  std::filesystem::remove_all(dir);
}

// The avc:selinux_audited BPF program loads and attaches on this kernel. It cannot fire here:
// with SELinux inactive the kernel makes no AVC decisions, so no event can be produced and the
// decoding of its records is covered by the unit tests (selinux_avc_test.cpp) instead.
TEST(SelinuxTracepointE2eTest, AvcProgramAttaches) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root (CAP_BPF, CAP_PERFMON) to load the BPF program";
  }
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\nselinux:\n  sources: [tracepoint]\n");
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto response = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(response);
  const auto samples = parseExposition(response->body);
  EXPECT_EQ(findSample(samples, "ipcwatch_probe_attached", {{"probe", "avc_denied"}}), 1)
      << agent.log();
  EXPECT_EQ(samples.count("ipcwatch_audit_lost_total{source=\"tracepoint\"}"), 1u)
      << response->body;
  EXPECT_EQ(samples.count("ipcwatch_events_lost_total{probe=\"selinux_avc\"}"), 1u);
  EXPECT_NE(agent.log().find("reading AVC denials from the avc:selinux_audited tracepoint"),
            std::string::npos)
      << agent.log();
}

}  // namespace
}  // namespace ipcwatch::testing
