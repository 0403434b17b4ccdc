#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// Netlink message types of the records the SELinux pipeline reads (linux/audit.h).
constexpr std::uint16_t kAuditUserAvc = 1107;
constexpr std::uint16_t kAuditAvc = 1400;
constexpr std::uint16_t kAuditSelinuxErr = 1401;

// The audit event a record belongs to: msg=audit(SECONDS.MILLIS:SERIAL). Records of one event
// (AVC, SYSCALL, PATH, ...) share it; the same event read from netlink and from audit.log has
// the same id, which is what de-duplication across sources relies on.
struct AuditEventId {
  std::int64_t seconds = 0;  // since the epoch; ausearch -i local times are converted
  std::uint32_t millis = 0;
  std::uint64_t serial = 0;
  bool operator==(const AuditEventId&) const = default;
};

// One `avc:  denied|granted { ... } for ...` message, from a kernel AVC record or from the
// msg='...' of a USER_AVC record (dbus, systemd, other object managers).
struct AvcMessage {
  bool denied = false;  // false: a granted (auditallow) record
  bool userspace = false;
  std::vector<std::string> permissions;
  std::string tclass;
  std::string scontext;
  std::string tcontext;
  std::string permissive = "unknown";  // "0", "1", or "unknown" when the record has no field
  std::string comm;                    // decoded (quoted and hex-encoded values), may be empty
  std::string path;                    // path=, else name=
  std::string exe;
  std::optional<std::uint64_t> ino;  // the target's inode, where the record names one
  std::optional<std::int64_t> pid;  // pid=, for USER_AVC spid= (the peer, not dbus itself)
};

enum class AuditRecordKind {
  kAvc,           // an SELinux AVC message (denied or granted)
  kSelinuxError,  // SELINUX_ERR
  kNotSelinux,    // AppArmor's type=AVC records, USER_AVC policy-load notices
  kOther,         // any other record type (SYSCALL, PATH, ...): not ours, not an error
  kMalformed,     // looked like one of ours but could not be understood
};

struct AuditRecord {
  AuditRecordKind kind = AuditRecordKind::kOther;
  std::string type;  // AVC, USER_AVC, SELINUX_ERR, or the record's own type name
  std::optional<AuditEventId> id;
  AvcMessage avc;     // kind == kAvc
  std::string op;     // kind == kSelinuxError: op=, or the function named before ':'
  std::string error;  // kind == kMalformed: why
};

// Parses one record's text after its type, as netlink delivers it (`audit(T:S): fields`) or as
// audit.log writes it after `type=X ` (`msg=audit(T:S): fields`); `type` is the record type
// name (AVC, USER_AVC, SELINUX_ERR, ...).
AuditRecord parseAuditRecord(std::string_view type, std::string_view body);

// Parses a line of audit.log or `ausearch [-i]` output: zero, one or several records
// (`[node=N ]type=X msg=audit(...): ...`), each cut at an enriched-format 0x1d suffix.
// Lines that are not records (`----`, `time->...`, empty) yield nothing.
std::vector<AuditRecord> parseAuditLine(std::string_view line);

// The type field of a security context: `httpd_t` from system_u:system_r:httpd_t:s0 (also
// without the MLS part, and Android-style u:r:init:s0). Empty when `context` has no type field.
std::string_view contextType(std::string_view context);

// The name of a netlink audit record type this pipeline knows, "other" for the rest.
std::string_view auditTypeName(std::uint16_t type);

}  // namespace ipcwatch
