#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/denial_store.h"
#include "endpoints/endpoint_checker.h"

namespace ipcwatch {

// What the `selinux` check looks at for one endpoint and client.
struct SelinuxCheckInput {
  bool active = false;               // selinuxfs has an enforce file
  std::string enforce_path;          // named in the evidence when SELinux is not active
  std::string path;                  // the endpoint as configured
  std::optional<std::uint64_t> ino;  // its inode in the client's view, when it exists
  std::string file_label;            // security.selinux of the endpoint, "" when unknown
  std::string client_domain;     // the client's context (/proc/PID/attr/current), "" when unknown
  std::int64_t now_seconds = 0;  // wall time, to tell recent denials from old ones
};

// The SELinux context in the text of /proc/PID/attr/current (up to its NUL or newline), or ""
// when it is not one (user:role:type[:level]): that file shows the label of whichever major LSM
// the kernel runs, so on an AppArmor host it reads "unconfined" or a profile name, which must
// not be taken for an SELinux domain.
std::string selinuxContextOf(const std::string& attr_current);

// Denials older than this no longer fail the check: the policy or labels may have been fixed.
constexpr std::chrono::seconds kRecentDenialWindow{15 * 60};

// Whether `denial` concerns the endpoint: it names the path, the endpoint's inode, or a
// parent directory the client must search; and, when the client's domain is known, it was
// denied to that domain.
bool denialConcernsEndpoint(const RecentDenial& denial, const SelinuxCheckInput& input);

// Not applicable while SELinux is inactive; fails on a recent enforced denial for the endpoint
// and this client, warns when every such denial was permissive (the evidence names the newest,
// the fix carries the audit2allow-style rule); passes otherwise, reporting the file label and
// the client's domain.
CheckResult checkSelinux(const SelinuxCheckInput& input, const std::vector<RecentDenial>& recent);

}  // namespace ipcwatch
