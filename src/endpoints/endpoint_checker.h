#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/denial_store.h"
#include "collectors/unix_socket_inventory.h"
#include "config/config.h"
#include "endpoints/client_identity.h"

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
                     // umask_mode
  CheckStatus status = CheckStatus::kSkipped;
  std::string evidence;
  std::string fix;  // "" unless it failed or warned
};

// The checks in their order.
const std::vector<std::string>& endpointCheckNames();

struct EndpointReport {
  std::string endpoint;
  std::string client;
  std::string path;
  EndpointType type = EndpointType::kFifo;
  EndpointAccess access = EndpointAccess::kWrite;
  ClientIdentity identity;
  std::vector<CheckResult> checks;  // every check, in order
  std::uint32_t peers = 0;          // serving processes (FIFO) or listening sockets
  bool reachable = false;           // no check failed or was skipped
};

// Evaluates an endpoint from a client's point of view. Read-only: it stats, reads xattrs and
// /proc, asks sock_diag, and forks a helper for faccessat; it never opens an endpoint.
class EndpointChecker {
 public:
  // `denials`, when given, are the recent SELinux denials the selinux check consults;
  // `inventory`, the unix socket inventory to share (else the checker keeps its own).
  EndpointChecker(std::string procfs, std::string sysfs, const DenialStore* denials = nullptr,
                  SharedUnixSocketInventory* inventory = nullptr);

  EndpointReport check(const EndpointConfig& endpoint, const EndpointClientConfig& client) const;
  // As `check`, for an identity resolved by the caller (diagnose --as-pid).
  EndpointReport checkAs(const EndpointConfig& endpoint, const std::string& client_name,
                         EndpointAccess access, ClientIdentity identity) const;

 private:
  std::string procfs_;
  std::string sysfs_;
  const DenialStore* denials_;
  std::unique_ptr<SharedUnixSocketInventory> own_inventory_;
  SharedUnixSocketInventory* inventory_;
};

}  // namespace ipcwatch
