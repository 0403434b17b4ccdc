// The /proc/sysvipc, sysctl and mqueue parsers on captured-style fixtures and hand-made edge cases.
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "inventory/parsers/ipc_parsers.h"
#include "collectors/sysv_ipc_collector.h"

#ifndef IPCWATCH_FIXTURES_DIR
#error "IPCWATCH_FIXTURES_DIR must name tests/fixtures"
#endif

namespace ipcwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(IPCWATCH_FIXTURES_DIR) + "/sysvipc/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void expectCapturedSegments(const ParseResult<SysvShmSegment>& r, std::uint64_t last_size) {
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key, 123456);
  EXPECT_EQ(r.rows[0].id, 0);
  EXPECT_EQ(r.rows[0].mode, 0600u);
  EXPECT_EQ(r.rows[0].size, 4096u);
  EXPECT_EQ(r.rows[0].cpid, 11255);
  EXPECT_EQ(r.rows[0].nattch, 1u);
  EXPECT_EQ(r.rows[0].uid, 0u);
  EXPECT_EQ(r.rows[1].key, 0);
  EXPECT_EQ(r.rows[1].mode, 0666u);
  EXPECT_EQ(r.rows[1].size, 67108864u);
  EXPECT_EQ(r.rows[1].nattch, 0u);
  EXPECT_EQ(r.rows[2].key, -559038737);  // printed signed: 0xdeadbeef
  EXPECT_EQ(r.rows[2].id, 32770);
  EXPECT_EQ(r.rows[2].mode, 01600u);  // SHM_DEST: removed, still attached somewhere
  EXPECT_EQ(r.rows[2].size, last_size);
  EXPECT_EQ(r.rows[2].cpid, 4242);
  EXPECT_EQ(r.rows[2].uid, 1000u);
}

TEST(SysvShmParser, SixtyFourBitWidths) {
  const auto r = parseSysvShm(fixture("shm_64bit"));
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  expectCapturedSegments(r, 18446744073709551615u);
}

TEST(SysvShmParser, ThirtyTwoBitWidths) {
  const auto r = parseSysvShm(fixture("shm_32bit"));
  EXPECT_TRUE(r.errors.empty());
  expectCapturedSegments(r, 4294967295u);
}

TEST(SysvShmParser, OlderKernelsWithoutRssAndSwapColumns) {
  const auto r = parseSysvShm(fixture("shm_old_kernel"));
  EXPECT_TRUE(r.errors.empty());
  expectCapturedSegments(r, 18446744073709551615u);
}

TEST(SysvShmParser, HeaderOnlyIsAnEmptyTable) {
  const auto r = parseSysvShm(fixture("shm_empty"));
  EXPECT_TRUE(r.rows.empty());
  EXPECT_TRUE(r.errors.empty());
}

TEST(SysvShmParser, TruncatedLinesAreSkippedAndReported) {
  const auto r = parseSysvShm(fixture("shm_truncated"));
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, 123456);
  EXPECT_EQ(r.rows[1].size, 67108864u);
  EXPECT_THAT(r.errors, ElementsAre("line 3: expected 16 fields, got 3",
                                    "line 5: expected 16 fields, got 14"));
}

TEST(SysvShmParser, BadInput) {
  EXPECT_THAT(parseSysvShm("").errors, ElementsAre("empty file: no header line"));
  EXPECT_THAT(parseSysvShm("\n\n").errors, ElementsAre("empty file: no header line"));
  EXPECT_THAT(parseSysvShm("key shmid perms size cpid uid\n1 2 600 4 5 6\n").errors,
              ElementsAre("header has no 'nattch' column"));
  const std::string header = "key shmid perms size cpid nattch uid\n";
  // Columns are found by name, in any order; extra columns are ignored.
  const auto reordered = parseSysvShm(
      "uid nattch extra cpid size perms shmid key\n"
      "7 3 x 11 4096 640 9 -1\n");
  ASSERT_EQ(reordered.rows.size(), 1u);
  EXPECT_EQ(reordered.rows[0].uid, 7u);
  EXPECT_EQ(reordered.rows[0].nattch, 3u);
  EXPECT_EQ(reordered.rows[0].mode, 0640u);
  EXPECT_EQ(reordered.rows[0].key, -1);
  EXPECT_EQ(reordered.rows[0].id, 9);
  // Garbage values skip the row, never produce a number.
  auto r = parseSysvShm(header +
                        "1 2 600 4096x 5 0 0\n1 2 689 4096 5 0 0\n1 2 600 -4 5 0 0\n"
                        "99999999999 2 600 1 5 0 0\n1 2 600 8 5 0 0");
  ASSERT_EQ(r.rows.size(), 1u);  // only the last line (no trailing newline) is fine
  EXPECT_EQ(r.rows[0].size, 8u);
  EXPECT_THAT(r.errors, ElementsAre("line 2: bad size '4096x'", "line 3: bad perms '689'",
                                    "line 4: bad size '-4'", "line 5: bad key '99999999999'"));
  // Binary junk and very long lines are errors too.
  r = parseSysvShm(header + std::string("\x01\xff\x00zz", 5) + "\n" + std::string(100000, '7'));
  EXPECT_TRUE(r.rows.empty());
  EXPECT_EQ(r.errors.size(), 2u);
}

TEST(SysvSemParser, CapturedTable) {
  const auto r = parseSysvSem(fixture("sem_64bit"));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key, 1592590337);
  EXPECT_EQ(r.rows[0].nsems, 8u);
  EXPECT_EQ(r.rows[0].mode, 0600u);
  EXPECT_EQ(r.rows[1].nsems, 1u);
  EXPECT_EQ(r.rows[1].uid, 1000u);
  EXPECT_EQ(r.rows[2].key, -1);
  EXPECT_EQ(r.rows[2].id, 65538);
  EXPECT_EQ(r.rows[2].nsems, 250u);
  EXPECT_EQ(r.rows[2].mode, 0666u);
  EXPECT_TRUE(parseSysvSem(fixture("sem_empty")).rows.empty());
  EXPECT_TRUE(parseSysvSem(fixture("sem_empty")).errors.empty());
}

TEST(SysvMsgParser, CapturedTable) {
  const auto r = parseSysvMsg(fixture("msg_64bit"));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key, 11259375);
  EXPECT_EQ(r.rows[0].cbytes, 400u);
  EXPECT_EQ(r.rows[0].qnum, 2u);
  EXPECT_EQ(r.rows[0].mode, 0620u);
  EXPECT_EQ(r.rows[2].id, 98306);
  EXPECT_EQ(r.rows[2].cbytes, 65536u);
  EXPECT_EQ(r.rows[2].qnum, 128u);
  EXPECT_EQ(r.rows[2].uid, 4321u);
  EXPECT_TRUE(parseSysvMsg(fixture("msg_empty")).rows.empty());
  EXPECT_TRUE(parseSysvMsg(fixture("msg_empty")).errors.empty());
  // The shm header is not a msg header.
  EXPECT_THAT(parseSysvMsg(fixture("shm_64bit")).errors,
              ElementsAre("header has no 'msqid' column"));
}

TEST(SysctlParsers, SemLimitsAndSingleValues) {
  const auto sem = parseSysvSemLimits("32000\t1024000000\t500\t32000\n");
  ASSERT_TRUE(sem);
  EXPECT_EQ(sem->semmsl, 32000u);
  EXPECT_EQ(sem->semmns, 1024000000u);
  EXPECT_EQ(sem->semopm, 500u);
  EXPECT_EQ(sem->semmni, 32000u);
  EXPECT_FALSE(parseSysvSemLimits("32000\t1024000000\t500\n"));
  EXPECT_FALSE(parseSysvSemLimits("1 2 3 4 5"));
  EXPECT_FALSE(parseSysvSemLimits("1 2 x 4"));
  EXPECT_EQ(parseSysctlUnsigned("18446744073692774399\n"), 18446744073692774399u);
  EXPECT_EQ(parseSysctlUnsigned(" 4096 "), 4096u);
  EXPECT_FALSE(parseSysctlUnsigned(""));
  EXPECT_FALSE(parseSysctlUnsigned("-1"));
  EXPECT_FALSE(parseSysctlUnsigned("1 2"));
  EXPECT_FALSE(parseSysctlUnsigned("18446744073709551616"));
}

TEST(MqueueParser, Qsize) {
  EXPECT_EQ(parseMqueueQsize("QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"), 5u);
  EXPECT_EQ(parseMqueueQsize("NOTIFY:2 QSIZE:123456"), 123456u);
  EXPECT_FALSE(parseMqueueQsize("hello\n"));
  EXPECT_FALSE(parseMqueueQsize("QSIZE: 5"));
  EXPECT_FALSE(parseMqueueQsize("QSIZE:-5"));
  EXPECT_FALSE(parseMqueueQsize(""));
}

TEST(NamespaceLinkParser, Inode) {
  EXPECT_EQ(parseNamespaceLink("ipc:[4026531839]", "ipc"), 4026531839u);
  EXPECT_FALSE(parseNamespaceLink("net:[4026531839]", "ipc"));
  EXPECT_FALSE(parseNamespaceLink("ipc:[]", "ipc"));
  EXPECT_FALSE(parseNamespaceLink("ipc:[12", "ipc"));
  EXPECT_FALSE(parseNamespaceLink("ipc:12]", "ipc"));
  EXPECT_FALSE(parseNamespaceLink("ipc", "ipc"));
}

TEST(IpcKey, FormattedLikeIpcs) {
  EXPECT_EQ(formatIpcKey(0), "0x00000000");
  EXPECT_EQ(formatIpcKey(123456), "0x0001e240");
  EXPECT_EQ(formatIpcKey(-559038737), "0xdeadbeef");
  EXPECT_EQ(formatIpcKey(-1), "0xffffffff");
}

}  // namespace
}  // namespace ipcwatch
