#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "audit/denial_store.h"
#include "audit/denials_page.h"
#include "collectors/selinux_collector.h"

namespace ipcwatch {
namespace {

constexpr std::string_view kAvc =
    "type=AVC msg=audit(1700000123.456:2871): avc:  denied  { read write } for  pid=4121 "
    "comm=\"httpd\" path=\"/tmp/opensips_fifo\" scontext=system_u:system_r:httpd_t:s0 "
    "tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file permissive=0";

AuditRecord one(std::string_view line) {
  auto records = parseAuditLine(line);
  EXPECT_EQ(records.size(), 1u);
  return records.at(0);
}

DenialStore::DenialKey key(std::string perm, std::string source_type = "httpd_t") {
  return {"fifo_file", std::move(perm), std::move(source_type), "user_tmp_t", "0", "kernel"};
}

TEST(DenialStore, OneIncrementPerDeniedPermission) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.add("audit_log", one(kAvc));
  const auto s = store.snapshot();
  ASSERT_EQ(s.denials.size(), 2u);
  EXPECT_EQ(s.denials.at(key("read")), 1u);
  EXPECT_EQ(s.denials.at(key("write")), 1u);
  EXPECT_EQ((s.records.at({"audit_log", "AVC"})), 1u);
  ASSERT_EQ(s.recent.size(), 1u);
  EXPECT_EQ(s.recent[0].comm, "httpd");
  EXPECT_EQ(s.recent[0].path, "/tmp/opensips_fifo");
  EXPECT_EQ(allowRule(s.recent[0]), "allow httpd_t user_tmp_t:fifo_file { read write };");
  const auto recent = store.recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].path, "/tmp/opensips_fifo");
}

TEST(DenialStore, SameEventFromTwoSourcesCountsOnce) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.add("netlink", one(kAvc));
  store.add("audit_log", one("node=sip1 " + std::string(kAvc)));
  // Another AVC record of the same event (a different check) is a different denial.
  store.add("audit_log",
            one("type=AVC msg=audit(1700000123.456:2871): avc:  denied  { search } for  pid=4121 "
                "comm=\"httpd\" name=\"tmp\" scontext=system_u:system_r:httpd_t:s0 "
                "tcontext=system_u:object_r:user_tmp_t:s0 tclass=dir permissive=0"));
  const auto s = store.snapshot();
  EXPECT_EQ(s.denials.at(key("read")), 1u);
  EXPECT_EQ(s.denials.at(key("write")), 1u);
  EXPECT_EQ(s.denials.size(), 3u);
  EXPECT_EQ((s.records.at({"netlink", "AVC"})), 1u);
  EXPECT_EQ((s.records.at({"audit_log", "AVC"})), 2u);
  EXPECT_EQ(s.recent.size(), 2u);
  // The second sighting of the first record is the one dropped.
  EXPECT_EQ(s.duplicates, (std::map<std::string, std::uint64_t>{{"audit_log", 1}}));
}

TEST(DenialStore, DedupeMemoryIsBounded) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 0, /*dedupe_capacity=*/2);
  const auto first = one(kAvc);
  store.add("a", first);
  for (int serial = 1; serial <= 2; ++serial) {
    auto other = first;
    other.id->serial = static_cast<std::uint64_t>(serial);
    store.add("a", other);
  }
  // The first event was forgotten: seeing it again counts again (bounded memory wins).
  store.add("b", first);
  EXPECT_EQ(store.snapshot().denials.at(key("read")), 4u);
  EXPECT_TRUE(store.snapshot().recent.empty());
}

TEST(DenialStore, GrantedAppArmorMalformedAndErrors) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.declareSource("audit_log");
  store.add("audit_log", one("type=AVC msg=audit(1.000:1): avc:  granted  { read } for "
                             "scontext=a:b:c_t tcontext=a:b:c_t tclass=file"));
  store.add("audit_log",
            one("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" operation=\"open\""));
  store.add("audit_log", one("type=AVC msg=audit(1.000:3): avc:  denied  { read }"));
  store.add("audit_log", one("type=SELINUX_ERR msg=audit(1.000:4): op=security_compute_sid "
                             "invalid_context=\"x\""));
  store.add("audit_log", one("type=SYSCALL msg=audit(1.000:4): arch=c000003e"));
  store.addLost("audit_log", 2);
  const auto s = store.snapshot();
  EXPECT_TRUE(s.denials.empty());
  EXPECT_EQ(s.parse_errors.at("audit_log"), 1u);
  EXPECT_EQ(s.errors.at("security_compute_sid"), 1u);
  EXPECT_EQ((s.records.at({"audit_log", "AVC"})), 3u);
  EXPECT_EQ((s.records.at({"audit_log", "other"})), 1u);
  EXPECT_EQ(s.lost.at("audit_log"), 2u);
}

TEST(DenialStore, TypesRespectLabelCaps) {
  LabelCaps caps(10, /*path=*/1, 100);
  DenialStore store(caps, 5);
  store.add("a", one(kAvc));
  std::string other(kAvc);
  other.replace(other.find("httpd_t"), 7, "php_t");
  other.replace(other.find(":2871)"), 6, ":2872)");
  store.add("a", one(other));
  const auto s = store.snapshot();
  EXPECT_EQ(s.denials.at(key("read")), 1u);
  EXPECT_EQ(s.denials.at(key("read", "other")), 1u);
  // Both metrics are listed in ipcwatch_label_overflow_total from the start.
  const auto folds = caps.folds();
  ASSERT_EQ(folds.size(), 2u);
  EXPECT_EQ(folds[0], (std::pair<std::string, std::uint64_t>{"ipc_selinux_denials_total",
                                                             2}));  // php_t, write
  EXPECT_EQ(folds[1], (std::pair<std::string, std::uint64_t>{"ipc_selinux_errors_total", 0}));
}

TEST(DenialsPage, NewestFirstWithRulesAndEscapedUntrustedText) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 2);
  store.add("netlink", one(kAvc));
  // A hostile comm (hex-encoded newline) must not forge a line of the page.
  store.add("audit_log",
            one("type=AVC msg=audit(1700000124.007:2872): avc:  denied  { connectto } for  "
                "pid=77 comm=610A616C6C6F7720 path=\"/run/x.sock\" "
                "scontext=u:r:init:s0 tcontext=u:r:vold:s0 tclass=unix_stream_socket"));
  const std::string page = renderDenialsPage(store.snapshot().recent);
  const std::size_t newer = page.find(
      "2023-11-14T22:15:24.007Z origin=kernel permissive=unknown "
      "source=audit_log");
  const std::size_t older = page.find(
      "2023-11-14T22:15:23.456Z origin=kernel permissive=0 "
      "source=netlink");
  ASSERT_NE(newer, std::string::npos) << page;
  ASSERT_NE(older, std::string::npos) << page;
  EXPECT_LT(newer, older);
  EXPECT_NE(page.find("  comm=\"a\\x0aallow \" pid=77 path=\"/run/x.sock\"\n"), std::string::npos)
      << page;
  EXPECT_NE(page.find("  allow init vold:unix_stream_socket connectto;\n"), std::string::npos);
  EXPECT_NE(page.find("  allow httpd_t user_tmp_t:fifo_file { read write };\n"), std::string::npos);
  EXPECT_NE(page.find("denied={ read write }"), std::string::npos);
}

class SelinuxCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("ipcwatch-selinuxfs-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "fs/selinux/policy_capabilities");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }
  std::map<std::string, double> collect() {
    LabelCaps caps(10, 10, 100);
    DenialStore store(caps, 5);
    SelinuxCollector collector(store, root_.string());
    std::vector<MetricFamily> out;
    collector.collect(out);
    std::map<std::string, double> values;
    for (const auto& family : out) {
      for (const auto& sample : family.samples) {
        std::string name = family.name;
        for (const auto& [label, value] : sample.labels) {
          name += "," + label + "=" + value;
        }
        values[name] = sample.value;
      }
    }
    return values;
  }
  std::filesystem::path root_;
};

TEST_F(SelinuxCollectorTest, AbsentSelinuxfsMeansDisabled) {
  const auto v = collect();
  EXPECT_EQ(v.at("ipc_selinux_enabled"), 0);
  EXPECT_EQ(v.at("ipc_selinux_enforcing"), 0);
  EXPECT_EQ(v.count("ipc_selinux_policy_info,extended_socket_class=unknown,policyvers=unknown"),
            0u);
}

TEST_F(SelinuxCollectorTest, EnforcingWithExtendedSocketClasses) {
  write("fs/selinux/enforce", "1");
  write("fs/selinux/policyvers", "33\n");
  write("fs/selinux/policy_capabilities/extended_socket_class", "1\n");
  const auto v = collect();
  EXPECT_EQ(v.at("ipc_selinux_enabled"), 1);
  EXPECT_EQ(v.at("ipc_selinux_enforcing"), 1);
  EXPECT_EQ(v.at("ipc_selinux_policy_info,extended_socket_class=1,policyvers=33"), 1);
}

TEST_F(SelinuxCollectorTest, Permissive) {
  write("fs/selinux/enforce", "0");
  const auto v = collect();
  EXPECT_EQ(v.at("ipc_selinux_enabled"), 1);
  EXPECT_EQ(v.at("ipc_selinux_enforcing"), 0);
  EXPECT_EQ(v.at("ipc_selinux_policy_info,extended_socket_class=unknown,policyvers=unknown"), 1);
}

}  // namespace
}  // namespace ipcwatch
