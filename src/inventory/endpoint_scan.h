#pragma once

#include <sys/types.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace ipcwatch {

enum class EndpointKind { kFifo, kSocket };

std::string_view endpointKindName(EndpointKind kind);

// A file's identity.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

// A FIFO or socket file found under a scanned directory.
struct FoundEndpoint {
  std::string root;  // the configured directory it was found under
  std::string path;
  EndpointKind kind = EndpointKind::kFifo;
  FileId id;
  mode_t mode = 0;
  // Its directory is writable by others and not sticky, and users other than root, the file's
  // owner and its group can reach that directory (othersCanReach).
  bool in_unsafe_dir = false;
  // A user other than root, its owner and the members of its group may be able to reach it:
  // no directory on its path lets only those through (othersCanReach), and it has no other
  // hard link, which could sit behind open doors.
  bool reachable_by_others = false;
};

// Who may pass through a directory on the way to a file below it.
struct DirectoryAccess {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
  bool has_acl = false;  // an access ACL: the group bits are its mask; named users may pass
};

// Whether a user other than root, the file's owner and the members of its group may search
// every directory of `path` (from / down to the file's own directory). A directory shuts such
// users out when others may not search it, its owner may only if that is root or the file's
// owner, and its group may only if that is the file's group and no ACL names anyone else.
// Across directories that each let some such user in, the answer is yes: who those users are
// (a directory's owner, another group's members) is not followed further.
bool othersCanReach(const std::vector<DirectoryAccess>& path, uid_t owner, gid_t group);

struct EndpointScanOptions {
  std::vector<std::string> roots;
  std::uint32_t max_depth = 4;  // 0: the roots' own entries only
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct EndpointScan {
  std::vector<FoundEndpoint> endpoints;
  std::vector<std::string> roots_scanned;  // roots that exist and were not already covered
  bool out_of_time = false;                // the deadline passed: the scan is incomplete
};

// Walks the roots for FIFOs and socket files, with the directories above each root (through its
// real path) for reachable_by_others. The directories are world-writable, so nothing
// below a root is reached through a symlink (openat with O_NOFOLLOW, fstatat with
// AT_SYMLINK_NOFOLLOW); other filesystems mounted below a root are not entered, and a directory
// reached twice (overlapping roots, /var/run -> /run) is walked once.
EndpointScan scanForEndpoints(const EndpointScanOptions& options);

}  // namespace ipcwatch
