#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/denial_store.h"
#include "config/config.h"
#include "endpoints/client_identity.h"
#include "inventory/host_snapshot.h"

namespace ipcwatch {

enum class CheckStatus {
  kPass,
  kFail,
  kWarn,           // reported, but does not make the endpoint unreachable
  kNotApplicable,  // e.g. backlog of a FIFO, SELinux not active
  kSkipped,        // could not be evaluated because an earlier check failed
};

std::string_view checkStatusName(CheckStatus status);

struct CheckResult {
  std::string name;  // path_clean, exists, type, search, permission, peer, backlog, selinux,
                     // umask_mode, path_safe
  CheckStatus status = CheckStatus::kSkipped;
  std::string evidence;
  std::string fix;  // "" unless it failed or warned
};

// The checks in their order.
const std::vector<std::string>& endpointCheckNames();
// Whether a failure of the check leaves the endpoint reachable (path_safe: others could swap
// it, but the client still reaches it today).
bool isSafetyCheck(const std::string& name);

// A process serving an endpoint (holding the FIFO open in the serving direction, or the
// socket bound to it), with its workload from its cgroup.
struct PeerProcess {
  std::uint32_t pid = 0;
  std::string comm;
  std::string unit;          // systemd unit, "" when none
  std::string container_id;  // short id, "" when none
  // Whether it is the endpoint's configured `server:` (always, when none is configured). The
  // service manager holding a socket-activated endpoint is neither: it is not listed.
  bool expected = true;
};

// What is at an endpoint's path, for telling when it is replaced.
struct EndpointFile {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint32_t uid = 0;
  std::uint32_t mode = 0;  // type and permission bits
  bool operator==(const EndpointFile&) const = default;
};

struct EndpointReport {
  std::string endpoint;
  std::string client;
  std::string path;
  EndpointType type = EndpointType::kFifo;
  EndpointAccess access = EndpointAccess::kWrite;
  ClientIdentity identity;
  std::vector<CheckResult> checks;  // every check, in order
  std::uint32_t peers = 0;          // serving processes (FIFO) or listening sockets
  std::vector<PeerProcess> servers;  // the serving processes, by pid
  std::optional<EndpointFile> file;  // the file at the path (symlinks followed), when any
  std::uint32_t server_pid = 0;      // the configured server's process, 0 when not found
  bool reachable = false;            // no check but path_safe failed or was skipped
};

// Evaluates an endpoint from a client's point of view. Read-only: it stats the endpoint and
// its directories, reads xattrs, and runs a helper thread for faccessat; it never opens an
// endpoint.
// Everything about processes, open FIFOs and sockets comes from the host snapshot it is given,
// which every check of one scrape shares.
class EndpointChecker {
 public:
  // `denials`, when given, are the recent SELinux denials the selinux check consults.
  EndpointChecker(std::string procfs, std::string sysfs, const DenialStore* denials = nullptr);

  EndpointReport check(const EndpointConfig& endpoint, const EndpointClientConfig& client,
                       HostSnapshot& snapshot) const;
  // As `check`, for an identity resolved by the caller (diagnose --as-pid).
  EndpointReport checkAs(const EndpointConfig& endpoint, const std::string& client_name,
                         EndpointAccess access, ClientIdentity identity,
                         HostSnapshot& snapshot) const;

 private:
  std::string procfs_;
  std::string sysfs_;
  const DenialStore* denials_;
};

}  // namespace ipcwatch
