#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// Pure parsers for the text the kernel prints about SysV and POSIX IPC objects. They never
// throw on bad input: rows that cannot be read are left out and described in `errors`, so the
// caller can count them and still export the rows that were fine.

template <typename Row>
struct ParseResult {
  std::vector<Row> rows;
  std::vector<std::string> errors;
};

// One row of /proc/sysvipc/shm.
struct SysvShmSegment {
  std::int32_t key = 0;
  std::int64_t id = 0;
  std::uint32_t mode = 0;  // the "perms" column: permission bits plus SHM_DEST/SHM_LOCKED
  std::uint64_t size = 0;
  std::int64_t cpid = 0;  // creator, in the reader's pid namespace (0: not visible there)
  std::uint64_t nattch = 0;
  std::uint32_t uid = 0;
};

// One row of /proc/sysvipc/sem.
struct SysvSemArray {
  std::int32_t key = 0;
  std::int64_t id = 0;
  std::uint32_t mode = 0;
  std::uint64_t nsems = 0;
  std::uint32_t uid = 0;
};

// One row of /proc/sysvipc/msg.
struct SysvMsgQueue {
  std::int32_t key = 0;
  std::int64_t id = 0;
  std::uint32_t mode = 0;
  std::uint64_t cbytes = 0;
  std::uint64_t qnum = 0;
  std::uint32_t uid = 0;
};

// The tables are parsed by the column names of their header line, not by position or width:
// kernels print 32- and 64-bit widths and have added columns (rss, swap) over time. A missing
// header or a missing required column fails the whole table (no rows, one error); a row with
// the wrong number of fields (a truncated line) or a field that is not a number is skipped.
ParseResult<SysvShmSegment> parseSysvShm(std::string_view text);
ParseResult<SysvSemArray> parseSysvSem(std::string_view text);
ParseResult<SysvMsgQueue> parseSysvMsg(std::string_view text);

// /proc/sys/kernel/sem: "SEMMSL SEMMNS SEMOPM SEMMNI".
struct SysvSemLimits {
  std::uint64_t semmsl = 0;
  std::uint64_t semmns = 0;
  std::uint64_t semopm = 0;
  std::uint64_t semmni = 0;
};
std::optional<SysvSemLimits> parseSysvSemLimits(std::string_view text);

// A single unsigned integer with optional surrounding whitespace (a sysctl file).
std::optional<std::uint64_t> parseSysctlUnsigned(std::string_view text);

// The QSIZE field of a POSIX message queue file on the mqueue filesystem:
// "QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0".
std::optional<std::uint64_t> parseMqueueQsize(std::string_view text);

// The inode of a namespace link target, "ipc:[4026531839]" for kind "ipc".
std::optional<std::uint64_t> parseNamespaceLink(std::string_view target, std::string_view kind);

}  // namespace ipcwatch
