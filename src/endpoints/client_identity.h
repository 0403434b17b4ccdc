#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipcwatch {

class HostSnapshot;

// Who a check runs as: a live process (its credentials and namespaces) or a configured user
// in the agent's own namespaces.
struct ClientIdentity {
  bool resolved = false;
  std::uint32_t pid = 0;  // 0: no process, the configured user in the host's namespaces
  std::string comm;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;  // supplementary groups, primary gid first
  std::string user_name;              // for fixes: the login name, or the uid as text
  // The directory that is its "/" (<procfs>/<pid>/root), "" for the agent's. Paths resolve
  // inside it (RootedView); never glue them to it, an absolute symlink would leave it.
  std::string root;
  std::uint64_t mnt_ns = 0;
  std::uint64_t net_ns = 0;
  // The process's systemd unit and container (short id), "" when none or no process.
  std::string unit;
  std::string container_id;
  // "pid 42 (httpd, httpd.service), uid 48 gid 48 groups 48" or why unresolved
  std::string description;
};

// Fields of /proc/PID/status: effective uid/gid, Groups:, Umask:.
struct ProcStatus {
  std::uint32_t euid = 0;
  std::uint32_t egid = 0;
  std::vector<std::uint32_t> groups;
  std::optional<unsigned> umask;
};
std::optional<ProcStatus> parseProcStatus(const std::string& text);

std::string readSmallFile(const std::string& path);  // "" when unreadable
std::string userNameOf(std::uint32_t uid);           // the uid itself when it has no name
std::uint64_t nsInode(const std::string& path);      // 0 when it cannot be stat()ed

// The serving process: by comm, exe, pid file or systemd unit (first match), 0 when none.
// Looked up in the scrape's host snapshot.
struct EndpointServerConfig;
std::uint32_t findServerProcess(HostSnapshot& snapshot, const EndpointServerConfig& server);

ClientIdentity identityOfProcess(const std::string& procfs, std::uint32_t pid);
ClientIdentity identityOfUser(const std::string& procfs, const std::string& user);
// The configured client: a running `process` (preferring one that runs as `user`), else `user`.
ClientIdentity resolveClient(HostSnapshot& snapshot, const std::string& process,
                             const std::string& user);

struct AccessQuery {
  std::string path;  // as the client names it
  int mode = 0;      // R_OK | W_OK | X_OK
};

// The kernel's verdict: a short-lived thread enters the client's mount namespace and root,
// takes its groups, gid and uid (for itself only), and calls faccessat(..., AT_EACCESS) for
// each query. Returns
// the errno of each (0 = allowed), or nullopt with `error` set when the helper failed.
std::optional<std::vector<int>> kernelAccess(const std::string& procfs,
                                             const ClientIdentity& identity,
                                             const std::vector<AccessQuery>& queries,
                                             std::string& error);

}  // namespace ipcwatch
