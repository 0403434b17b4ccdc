#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// One entry of a POSIX access ACL as the kernel stores it in the system.posix_acl_access
// extended attribute.
struct AclEntry {
  enum class Tag { kUserObj, kUser, kGroupObj, kGroup, kMask, kOther };
  Tag tag = Tag::kOther;
  unsigned perm = 0;     // rwx as 4|2|1
  std::uint32_t id = 0;  // uid or gid for kUser / kGroup
};

// Decodes the xattr value (little-endian header version 2, then {u16 tag, u16 perm, u32 id}
// per entry). nullopt when malformed.
std::optional<std::vector<AclEntry>> decodePosixAcl(std::string_view value);
// The inverse, for tests that set ACLs without the acl tools.
std::string encodePosixAcl(const std::vector<AclEntry>& entries);

// "rw-" for 6.
std::string permString(unsigned perm);

struct AccessExplanation {
  bool granted = false;
  std::string rule;     // which class or ACL entry decided, and what it grants
  std::string missing;  // the bits missing, "" when granted ("w", "rw", "x")
  // The group class or ACL entries that would grant access if the client were in them.
  std::vector<std::uint32_t> granting_groups;
  bool mask_blocks = false;  // a named entry or group would grant it, but the ACL mask does not
};

struct FileOwnership {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  mode_t mode = 0;
};

// What the mode bits and ACL (empty: none) grant a caller with `uid` and `gids` (primary first),
// following the kernel's order: owner, named user, owning/named groups (union), other; root is
// reported as overriding the bits (CAP_DAC_OVERRIDE; execute still needs one x bit).
AccessExplanation explainAccess(const FileOwnership& file, const std::vector<AclEntry>& acl,
                                std::uint32_t uid, const std::vector<std::uint32_t>& gids,
                                unsigned wanted);

}  // namespace ipcwatch
