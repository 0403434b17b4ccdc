// The tracepoint source: kernel permission bits named from the kernel's class map, the
// ring-buffer record turned into an AVC message, and its de-duplication against audit records.
#include <linux/types.h>

#include <chrono>
#include <cstring>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/denial_store.h"
#include "audit/selinux_classmap.h"
#include "ipcwatch/bpf/selinux_avc.h"
#include "probes/selinux_avc_probe.h"

namespace ipcwatch {
namespace {

using ::testing::ElementsAre;
using Clock = std::chrono::steady_clock;

TEST(KernelClassMap, NamesFilePermissionsByKernelBit) {
  // COMMON_FILE_SOCK_PERMS: ioctl=0 read=1 write=2 ... append=9 map=10.
  EXPECT_THAT(kernelPermissionNames("fifo_file", (1U << 1) | (1U << 2)), ElementsAre("read", "write"));
  EXPECT_THAT(kernelPermissionNames("fifo_file", 1U << 18), ElementsAre("open"));
  EXPECT_THAT(kernelPermissionNames("sock_file", 1U << 9), ElementsAre("append"));
  EXPECT_THAT(kernelPermissionNames("dir", 1U << 28), ElementsAre("search"));
  EXPECT_THAT(kernelPermissionNames("file", 1U << 26), ElementsAre("entrypoint"));
}

TEST(KernelClassMap, NamesSocketAndIpcPermissions) {
  // COMMON_SOCK_PERMS end with name_bind at 20; unix_stream_socket adds connectto at 21.
  EXPECT_THAT(kernelPermissionNames("unix_stream_socket", 1U << 21), ElementsAre("connectto"));
  EXPECT_THAT(kernelPermissionNames("unix_stream_socket", (1U << 11) | (1U << 12)),
              ElementsAre("bind", "connect"));
  EXPECT_THAT(kernelPermissionNames("unix_dgram_socket", 1U << 19), ElementsAre("sendto"));
  EXPECT_THAT(kernelPermissionNames("shm", (1U << 0) | (1U << 9)), ElementsAre("create", "lock"));
  EXPECT_THAT(kernelPermissionNames("msgq", 1U << 9), ElementsAre("enqueue"));
  EXPECT_THAT(kernelPermissionNames("msg", 1U << 1), ElementsAre("receive"));
  EXPECT_THAT(kernelPermissionNames("sem", 1U << 8), ElementsAre("unix_write"));
  EXPECT_THAT(kernelPermissionNames("ipc", 1U << 6), ElementsAre("associate"));
}

TEST(KernelClassMap, LeftoverBitsAndUnknownClassesAreHex) {
  // dir ends at rmdir (29); unix_dgram_socket at name_bind (20); msg at receive (1).
  EXPECT_THAT(kernelPermissionNames("dir", (1U << 2) | (1U << 30)), ElementsAre("write", "0x40000000"));
  EXPECT_THAT(kernelPermissionNames("unix_dgram_socket", 1U << 21), ElementsAre("0x200000"));
  EXPECT_THAT(kernelPermissionNames("msg", 1U << 2), ElementsAre("0x4"));
  // The policy's numbering of tcp_socket is not the kernel's, and the class is not in the table.
  EXPECT_FALSE(kernelClassKnown("tcp_socket"));
  EXPECT_THAT(kernelPermissionNames("tcp_socket", (1U << 1) | (1U << 31)),
              ElementsAre("0x2", "0x80000000"));
  EXPECT_TRUE(kernelPermissionNames("fifo_file", 0).empty());
}

ipcw_avc_event event(std::uint32_t denied, std::int32_t result) {
  ipcw_avc_event ev{};
  ev.denied = denied;
  ev.result = result;
  ev.tgid = 4121;
  std::strcpy(ev.comm, "httpd");
  std::strcpy(ev.tclass, "fifo_file");
  std::strcpy(ev.scontext, "system_u:system_r:httpd_t:s0");
  std::strcpy(ev.tcontext, "system_u:object_r:user_tmp_t:s0");
  return ev;
}

TEST(SelinuxAvcProbe, RecordBecomesAvcMessage) {
  const AvcMessage enforcing = SelinuxAvcProbe::avcMessage(event((1U << 1) | (1U << 2), -13));
  EXPECT_TRUE(enforcing.denied);
  EXPECT_FALSE(enforcing.userspace);
  EXPECT_THAT(enforcing.permissions, ElementsAre("read", "write"));
  EXPECT_EQ(enforcing.tclass, "fifo_file");
  EXPECT_EQ(enforcing.scontext, "system_u:system_r:httpd_t:s0");
  EXPECT_EQ(enforcing.tcontext, "system_u:object_r:user_tmp_t:s0");
  EXPECT_EQ(enforcing.comm, "httpd");
  EXPECT_EQ(enforcing.pid, 4121);
  EXPECT_EQ(enforcing.permissive, "0");
  // Denied but allowed: a permissive domain or system.
  EXPECT_EQ(SelinuxAvcProbe::avcMessage(event(1U << 2, 0)).permissive, "1");
}

// The kernel AVC record the audit sources would read for the same denial.
constexpr std::string_view kAvc =
    "type=AVC msg=audit(1700000123.456:2871): avc:  denied  { read write } for  pid=4121 "
    "comm=\"httpd\" path=\"/tmp/opensips_fifo\" scontext=system_u:system_r:httpd_t:s0 "
    "tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file permissive=0";

AuditRecord auditRecord() { return parseAuditLine(kAvc).at(0); }

const DenialStore::DenialKey kRead{"fifo_file", "read", "httpd_t", "user_tmp_t", "0", "kernel"};
const DenialStore::DenialKey kWrite{"fifo_file", "write", "httpd_t", "user_tmp_t", "0", "kernel"};

std::uint64_t countOf(const DenialStore& store, const DenialStore::DenialKey& key) {
  const auto s = store.snapshot();
  const auto it = s.denials.find(key);
  return it == s.denials.end() ? 0 : it->second;
}

TEST(TracepointDenials, CountAtOnceWithoutAuditSources) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.declareSource(DenialStore::kTracepointSource);
  store.addTracepointDenial(SelinuxAvcProbe::avcMessage(event(0x6, -13)), 1700000200, 5, Clock::now());
  EXPECT_EQ(countOf(store, kRead), 1u);
  EXPECT_EQ(countOf(store, kWrite), 1u);
  const auto s = store.snapshot();
  EXPECT_EQ((s.records.at({"tracepoint", "AVC"})), 1u);
  ASSERT_EQ(s.recent.size(), 1u);
  EXPECT_EQ(s.recent[0].source, "tracepoint");
  EXPECT_EQ(s.recent[0].seconds, 1700000200);
  EXPECT_EQ(s.recent[0].millis, 5u);
}

TEST(TracepointDenials, AuditRecordArrivingLaterIsPreferred) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.declareSource("netlink");
  store.declareSource(DenialStore::kTracepointSource);
  const auto now = Clock::now();
  store.addTracepointDenial(SelinuxAvcProbe::avcMessage(event(0x6, -13)), 1700000123, 0, now);
  EXPECT_EQ(countOf(store, kRead), 0u) << "held while the audit record may still come";
  store.add("netlink", auditRecord());
  store.expireTracepointDenials(now + DenialStore::kMatchWindow);
  EXPECT_EQ(countOf(store, kRead), 1u);
  EXPECT_EQ(countOf(store, kWrite), 1u);
  const auto s = store.snapshot();
  ASSERT_EQ(s.recent.size(), 1u);
  EXPECT_EQ(s.recent[0].source, "netlink");
  EXPECT_EQ(s.recent[0].path, "/tmp/opensips_fifo");
  EXPECT_EQ(s.duplicates, (std::map<std::string, std::uint64_t>{{"netlink", 0}, {"tracepoint", 1}}));
}

TEST(TracepointDenials, AuditRecordArrivingFirstIsPreferred) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.declareSource("netlink");
  store.add("netlink", auditRecord());
  const auto now = Clock::now();
  store.addTracepointDenial(SelinuxAvcProbe::avcMessage(event(0x6, -13)), 1700000123, 0, now);
  store.expireTracepointDenials(now + DenialStore::kMatchWindow);
  EXPECT_EQ(countOf(store, kRead), 1u);
  EXPECT_EQ(countOf(store, kWrite), 1u);
  EXPECT_EQ(store.snapshot().recent.size(), 1u);
  EXPECT_EQ(store.snapshot().duplicates,
            (std::map<std::string, std::uint64_t>{{"netlink", 0}, {"tracepoint", 1}}));
}

TEST(TracepointDenials, UnmatchedDenialCountsWhenItsWindowEnds) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 5);
  store.declareSource("netlink");
  const auto now = Clock::now();
  // The audit record of another process's denial does not match.
  auto other = auditRecord();
  other.avc.pid = 999;
  store.add("netlink", other);
  store.addTracepointDenial(SelinuxAvcProbe::avcMessage(event(0x6, -13)), 1700000123, 0, now);
  store.expireTracepointDenials(now + DenialStore::kMatchWindow - std::chrono::milliseconds(1));
  EXPECT_EQ(countOf(store, kRead), 1u) << "only the netlink record so far";
  store.expireTracepointDenials(now + DenialStore::kMatchWindow);
  EXPECT_EQ(countOf(store, kRead), 2u);
  EXPECT_EQ(countOf(store, kWrite), 2u);
  const auto s = store.snapshot();
  ASSERT_EQ(s.recent.size(), 2u);
  EXPECT_EQ(s.recent[1].source, "tracepoint");
  EXPECT_EQ(s.duplicates, (std::map<std::string, std::uint64_t>{{"netlink", 0}}));
}

TEST(TracepointDenials, BacklogIsBoundedAndNothingIsLost) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 0);
  store.declareSource("netlink");
  const auto now = Clock::now();
  const std::size_t n = DenialStore::kMaxMatchBacklog + 10;
  for (std::size_t i = 0; i < n; ++i) {
    auto ev = event(1U << 2, -13);
    ev.tgid = 100000 + static_cast<std::uint32_t>(i);
    store.addTracepointDenial(SelinuxAvcProbe::avcMessage(ev), 1700000123, 0, now);
  }
  EXPECT_EQ(countOf(store, kWrite), 10u) << "the oldest past the backlog count at once";
  store.expireTracepointDenials(now + DenialStore::kMatchWindow);
  EXPECT_EQ(countOf(store, kWrite), n);
}

}  // namespace
}  // namespace ipcwatch
