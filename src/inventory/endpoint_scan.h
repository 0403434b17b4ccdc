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
  bool in_unsafe_dir = false;  // its directory is writable by others and not sticky
};

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

// Walks the roots for FIFOs and socket files. The directories are world-writable, so nothing
// below a root is reached through a symlink (openat with O_NOFOLLOW, fstatat with
// AT_SYMLINK_NOFOLLOW); other filesystems mounted below a root are not entered, and a directory
// reached twice (overlapping roots, /var/run -> /run) is walked once.
EndpointScan scanForEndpoints(const EndpointScanOptions& options);

}  // namespace ipcwatch
