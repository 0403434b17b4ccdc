#include <ctime>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/avc_record_parser.h"

namespace ipcwatch {
namespace {

using ::testing::ElementsAre;

// ---- records as real systems write them ---------------------------------------------------------

// RHEL 8 audit.log: httpd_t writing the OpenSIPS management FIFO.
constexpr std::string_view kKernelAvc =
    "type=AVC msg=audit(1700000123.456:2871): avc:  denied  { write } for  pid=4121 "
    "comm=\"httpd\" name=\"opensips_fifo\" dev=\"tmpfs\" ino=48213 "
    "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:user_tmp_t:s0 "
    "tclass=fifo_file permissive=0";

// CentOS 7 (kernel 3.10): no permissive= field, two permissions, a path.
constexpr std::string_view kOldKernelAvc =
    "type=AVC msg=audit(1500000000.001:77): avc:  denied  { read write } for  pid=900 "
    "comm=\"php-fpm\" path=\"/run/opensips/opensips.sock\" dev=\"tmpfs\" ino=123 "
    "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:var_run_t:s0 "
    "tclass=sock_file";

// dbus-daemon refusing a method call (RHEL 9, libselinux avc logging through audit).
constexpr std::string_view kDbusUserAvc =
    "type=USER_AVC msg=audit(1700000200.010:3001): pid=812 uid=81 auid=4294967295 "
    "ses=4294967295 subj=system_u:system_r:system_dbusd_t:s0-s0:c0.c1023 msg='avc:  denied  "
    "{ send_msg } for msgtype=method_call interface=org.freedesktop.systemd1.Manager "
    "member=StartUnit dest=org.freedesktop.systemd1 spid=4121 tpid=1 "
    "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:system_r:init_t:s0 tclass=dbus "
    "permissive=0 exe=\"/usr/bin/dbus-broker\" sauid=81 hostname=? addr=? terminal=?'"
    "\x1dUID=\"dbus\" AUID=\"unset\" SAUID=\"dbus\"";

// systemd checking a unit operation; cmdline holds blanks inside double quotes.
constexpr std::string_view kSystemdUserAvc =
    "type=USER_AVC msg=audit(1700000300.500:4000): pid=1 uid=0 auid=4294967295 "
    "ses=4294967295 subj=system_u:system_r:init_t:s0 msg='avc:  denied  { status } for "
    "auid=n/a uid=0 gid=0 cmdline=\"/usr/bin/systemctl status opensips\" "
    "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:system_r:init_t:s0 "
    "tclass=system exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname=? addr=? terminal=?'";

TEST(AvcRecordParser, KernelAvcWithPermissive) {
  const auto records = parseAuditLine(kKernelAvc);
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  ASSERT_EQ(r.kind, AuditRecordKind::kAvc) << r.error;
  EXPECT_EQ(r.type, "AVC");
  ASSERT_TRUE(r.id);
  EXPECT_EQ(r.id->seconds, 1700000123);
  EXPECT_EQ(r.id->millis, 456u);
  EXPECT_EQ(r.id->serial, 2871u);
  EXPECT_TRUE(r.avc.denied);
  EXPECT_FALSE(r.avc.userspace);
  EXPECT_THAT(r.avc.permissions, ElementsAre("write"));
  EXPECT_EQ(r.avc.tclass, "fifo_file");
  EXPECT_EQ(r.avc.scontext, "system_u:system_r:httpd_t:s0");
  EXPECT_EQ(r.avc.tcontext, "system_u:object_r:user_tmp_t:s0");
  EXPECT_EQ(r.avc.permissive, "0");
  EXPECT_EQ(r.avc.comm, "httpd");
  EXPECT_EQ(r.avc.path, "opensips_fifo");
  EXPECT_EQ(r.avc.pid, 4121);
}

TEST(AvcRecordParser, OldKernelWithoutPermissiveIsUnknown) {
  const auto records = parseAuditLine(kOldKernelAvc);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc) << records[0].error;
  EXPECT_THAT(records[0].avc.permissions, ElementsAre("read", "write"));
  EXPECT_EQ(records[0].avc.permissive, "unknown");
  EXPECT_EQ(records[0].avc.path, "/run/opensips/opensips.sock");
  EXPECT_EQ(records[0].avc.tclass, "sock_file");
}

TEST(AvcRecordParser, PermissiveDomain) {
  const auto records = parseAuditLine(
      "type=AVC msg=audit(1700000123.456:2872): avc:  denied  { connectto } for  pid=77 "
      "comm=\"opensips-cp\" path=\"/run/opensips/ctl.sock\" "
      "scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 "
      "tcontext=system_u:system_r:opensips_t:s0 tclass=unix_stream_socket permissive=1");
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(records[0].avc.permissive, "1");
  EXPECT_EQ(contextType(records[0].avc.scontext), "unconfined_t");
  EXPECT_EQ(contextType(records[0].avc.tcontext), "opensips_t");
}

TEST(AvcRecordParser, DbusUserAvcTakesContextsFromMsgNotSubj) {
  const auto records = parseAuditLine(kDbusUserAvc);
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  ASSERT_EQ(r.kind, AuditRecordKind::kAvc) << r.error;
  EXPECT_EQ(r.type, "USER_AVC");
  EXPECT_TRUE(r.avc.userspace);
  EXPECT_THAT(r.avc.permissions, ElementsAre("send_msg"));
  EXPECT_EQ(r.avc.scontext, "system_u:system_r:httpd_t:s0");
  EXPECT_EQ(r.avc.tcontext, "system_u:system_r:init_t:s0");
  EXPECT_EQ(r.avc.tclass, "dbus");
  EXPECT_EQ(r.avc.permissive, "0");
  EXPECT_EQ(r.avc.pid, 4121);  // the sender (spid), not dbus itself
  EXPECT_EQ(r.avc.exe, "/usr/bin/dbus-broker");
  EXPECT_EQ(r.id->serial, 3001u);
}

TEST(AvcRecordParser, SystemdUserAvcWithQuotedBlanks) {
  const auto records = parseAuditLine(kSystemdUserAvc);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc) << records[0].error;
  EXPECT_THAT(records[0].avc.permissions, ElementsAre("status"));
  EXPECT_EQ(records[0].avc.tclass, "system");
  EXPECT_EQ(records[0].avc.permissive, "unknown");
  EXPECT_EQ(records[0].avc.pid, std::nullopt);
}

TEST(AvcRecordParser, NetlinkBodyWithoutTypePrefix) {
  // What NETLINK_AUDIT delivers: the type is in nlmsg_type, the text starts at audit(.
  const auto r =
      parseAuditRecord("USER_AVC",
                       "audit(1700000400.000:12): pid=1 uid=0 auid=4294967295 ses=4294967295 "
                       "subj=kernel msg='avc:  denied  { send_msg } for scontext=u:r:init:s0 "
                       "tcontext=u:r:vold:s0 tclass=dbus permissive=1 exe=\"/x\"'");
  ASSERT_EQ(r.kind, AuditRecordKind::kAvc) << r.error;
  EXPECT_EQ(r.id->serial, 12u);
  EXPECT_EQ(contextType(r.avc.scontext), "init");
  EXPECT_EQ(contextType(r.avc.tcontext), "vold");
  EXPECT_EQ(r.avc.permissive, "1");
}

TEST(AvcRecordParser, NodePrefixAndEnrichedSuffix) {
  const std::string line = "node=sip1.example.com " + std::string(kKernelAvc) +
                           "\x1dSYSCALL=openat ARCH=x86_64 AUID=\"unset\" UID=\"apache\"";
  const auto records = parseAuditLine(line);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc) << records[0].error;
  EXPECT_EQ(records[0].avc.permissive, "0");
  EXPECT_EQ(records[0].avc.tclass, "fifo_file");
  EXPECT_EQ(records[0].id->serial, 2871u);
}

TEST(AvcRecordParser, HexEncodedCommAndPath) {
  // comm "my prog" and path "/tmp/a fifo" contain blanks, so audit writes them as hex.
  const auto records = parseAuditLine(
      "type=AVC msg=audit(1700000123.456:5): avc:  denied  { open } for  pid=1 "
      "comm=6D792070726F67 path=2F746D702F612066696666F "
      "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:tmp_t tclass=fifo_file "
      "permissive=0");
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(records[0].avc.comm, "my prog");
  // Odd length: not hex, kept as written.
  EXPECT_EQ(records[0].avc.path, "2F746D702F612066696666F");
  // A context without MLS part.
  EXPECT_EQ(contextType(records[0].avc.tcontext), "tmp_t");

  const auto path = parseAuditLine(
      "type=AVC msg=audit(1700000123.456:6): avc:  denied  { write } for  pid=1 comm=\"x\" "
      "path=2F746D702F6120666966 scontext=a:b:c_t tcontext=d:e:f_t tclass=fifo_file");
  ASSERT_EQ(path[0].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(path[0].avc.path, "/tmp/a fif");
}

TEST(AvcRecordParser, AusearchInterpretedOutput) {
  // ausearch -i: local time, " : " after the stamp, decoded unquoted values.
  const auto records = parseAuditLine(
      "type=AVC msg=audit(11/14/2023 22:15:23.456:2871) : avc:  denied  { write } for  "
      "pid=4121 comm=httpd name=opensips_fifo dev=\"tmpfs\" ino=48213 "
      "scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:user_tmp_t:s0 "
      "tclass=fifo_file permissive=0 ");
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc) << records[0].error;
  EXPECT_EQ(records[0].avc.comm, "httpd");
  EXPECT_EQ(records[0].id->serial, 2871u);
  EXPECT_EQ(records[0].id->millis, 456u);
  std::tm tm{};
  tm.tm_year = 123;
  tm.tm_mon = 10;
  tm.tm_mday = 14;
  tm.tm_hour = 22;
  tm.tm_min = 15;
  tm.tm_sec = 23;
  tm.tm_isdst = -1;
  EXPECT_EQ(records[0].id->seconds, static_cast<std::int64_t>(std::mktime(&tm)));

  // C locale's %x: two-digit year.
  const auto c_locale = parseAuditLine(
      "type=AVC msg=audit(11/14/23 22:15:23.456:2872) : avc:  denied  { read } for pid=1 "
      "comm=cat scontext=a:b:c_t tcontext=d:e:f_t tclass=file permissive=1");
  ASSERT_EQ(c_locale[0].kind, AuditRecordKind::kAvc) << c_locale[0].error;
  EXPECT_EQ(c_locale[0].id->seconds, records[0].id->seconds);

  // Separator and header lines of ausearch are not records.
  EXPECT_TRUE(parseAuditLine("----").empty());
  EXPECT_TRUE(parseAuditLine("time->Tue Nov 14 22:15:23 2023").empty());
  EXPECT_TRUE(parseAuditLine("").empty());
}

TEST(AvcRecordParser, GrantedRecordsAreNotDenials) {
  const auto records = parseAuditLine(
      "type=AVC msg=audit(1700000000.100:9): avc:  granted  { setsecparam } for  pid=1 "
      "comm=\"load_policy\" scontext=system_u:system_r:load_policy_t:s0 "
      "tcontext=system_u:object_r:security_t:s0 tclass=security");
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].kind, AuditRecordKind::kAvc);
  EXPECT_FALSE(records[0].avc.denied);
}

TEST(AvcRecordParser, AppArmorAvcIsNotSelinux) {
  const auto records = parseAuditLine(
      "type=AVC msg=audit(1700000000.200:10): apparmor=\"DENIED\" operation=\"open\" "
      "profile=\"/usr/sbin/cupsd\" name=\"/etc/shadow\" pid=700 comm=\"cupsd\" "
      "requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, AuditRecordKind::kNotSelinux);
}

TEST(AvcRecordParser, PolicyLoadNoticesAreNotDenials) {
  const auto records = parseAuditLine(
      "type=USER_AVC msg=audit(1700000000.300:11): pid=812 uid=81 auid=4294967295 "
      "ses=4294967295 subj=system_u:system_r:system_dbusd_t:s0 msg='avc:  received "
      "policyload notice (seqno=2)  exe=\"/usr/bin/dbus-daemon\" sauid=81 hostname=? addr=? "
      "terminal=?'");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, AuditRecordKind::kNotSelinux);
}

TEST(AvcRecordParser, SeveralRecordsOnOneLine) {
  const std::string line =
      "node=a " + std::string(kKernelAvc) +
      " node=a type=SYSCALL msg=audit(1700000123.456:2871): arch=c000003e syscall=257 "
      "success=no exit=-13 comm=\"httpd\" " +
      std::string(kOldKernelAvc) + " " + std::string(kDbusUserAvc);
  const auto records = parseAuditLine(line);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(records[0].avc.permissive, "0");
  EXPECT_EQ(records[1].kind, AuditRecordKind::kOther);
  EXPECT_EQ(records[1].type, "SYSCALL");
  EXPECT_EQ(records[2].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(records[2].avc.permissive, "unknown");
  EXPECT_THAT(records[2].avc.permissions, ElementsAre("read", "write"));
  EXPECT_EQ(records[3].kind, AuditRecordKind::kAvc);
  EXPECT_EQ(records[3].avc.tclass, "dbus");
}

TEST(AvcRecordParser, SelinuxErrOps) {
  auto records = parseAuditLine(
      "type=SELINUX_ERR msg=audit(1700000000.400:12): op=security_compute_sid "
      "invalid_context=\"system_u:system_r:opensips_t:s0\" scontext=system_u:system_r:init_t:s0 "
      "tcontext=system_u:object_r:opensips_exec_t:s0 tclass=process");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, AuditRecordKind::kSelinuxError);
  EXPECT_EQ(records[0].op, "security_compute_sid");

  records = parseAuditLine(
      "type=SELINUX_ERR msg=audit(1500000000.400:13): security_compute_sid:  invalid context "
      "unconfined_u:system_r:x_t:s0 for scontext=unconfined_u:unconfined_r:unconfined_t:s0 "
      "tcontext=system_u:object_r:x_exec_t:s0 tclass=process");
  EXPECT_EQ(records[0].kind, AuditRecordKind::kSelinuxError);
  EXPECT_EQ(records[0].op, "security_compute_sid");

  records = parseAuditLine(
      "type=SELINUX_ERR msg=audit(1700000000.400:14): seresult=denied "
      "oldcontext=a:b:c_t newcontext=a:b:d_t");
  EXPECT_EQ(records[0].kind, AuditRecordKind::kSelinuxError);
  EXPECT_EQ(records[0].op, "unknown");
}

TEST(AvcRecordParser, GarbageIsMalformedNotACrash) {
  const std::vector<std::string> bad = {
      "type=AVC msg=audit(1700000000.000:1): avc:  denied  { write } for pid=1",  // no contexts
      "type=AVC msg=audit(1700000000.000:1): avc:  denied  write for scontext=a:b:c tcontext=a:b:c "
      "tclass=x",
      "type=AVC msg=audit(1700000000.000:1): avc:  denied  {  } for scontext=a:b:c "
      "tcontext=a:b:c tclass=file",
      "type=AVC msg=audit(1700000000.000:1): something else entirely",
      "type=AVC msg=audit(garbage): avc:  denied  { read } for scontext=a:b:c tcontext=a:b:c "
      "tclass=file",
      "type=AVC msg=audit(1700000000.000:1",
      "type=USER_AVC msg=audit(1700000000.000:1): pid=1 uid=0",
      "type=USER_AVC msg=audit(1700000000.000:1): pid=1 msg='avc:  denied  { x } for scontext=",
      "msg=audit(1700000000.000:1): avc:  denied  { read }",
  };
  for (const auto& line : bad) {
    const auto records = parseAuditLine(line);
    ASSERT_EQ(records.size(), 1u) << line;
    EXPECT_EQ(records[0].kind, AuditRecordKind::kMalformed) << line;
    EXPECT_FALSE(records[0].error.empty());
  }
  // Random text without a record header is simply not a record.
  EXPECT_TRUE(parseAuditLine("hello world = = ' \" {{ }").empty());
  EXPECT_TRUE(parseAuditLine(std::string(1, '\0') + "type=").empty());
}

TEST(AvcRecordParser, OtherRecordTypesAreIgnored) {
  const auto r = parseAuditRecord("PROCTITLE", "audit(1.000:2): proctitle=2F7573722F7362696E");
  EXPECT_EQ(r.kind, AuditRecordKind::kOther);
  EXPECT_EQ(parseAuditRecord("LOGIN", "garbage").kind, AuditRecordKind::kOther);
}

TEST(ContextType, Shapes) {
  EXPECT_EQ(contextType("system_u:system_r:httpd_t:s0"), "httpd_t");
  EXPECT_EQ(contextType("system_u:system_r:httpd_t:s0-s0:c0.c1023"), "httpd_t");
  EXPECT_EQ(contextType("system_u:object_r:tmp_t"), "tmp_t");
  EXPECT_EQ(contextType("u:r:init:s0"), "init");
  EXPECT_EQ(contextType("u:object_r:vendor_file:s0:c512,c768"), "vendor_file");
  EXPECT_EQ(contextType("kernel"), "");
  EXPECT_EQ(contextType("a:b"), "");
  EXPECT_EQ(contextType(""), "");
}

TEST(AuditTypeName, KnownAndOther) {
  EXPECT_EQ(auditTypeName(1400), "AVC");
  EXPECT_EQ(auditTypeName(1107), "USER_AVC");
  EXPECT_EQ(auditTypeName(1401), "SELINUX_ERR");
  EXPECT_EQ(auditTypeName(1300), "other");
}

}  // namespace
}  // namespace ipcwatch
