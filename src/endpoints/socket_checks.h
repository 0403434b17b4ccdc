#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "endpoints/endpoint_checker.h"
#include "inventory/endpoint_scan.h"
#include "inventory/unix_socket_inventory.h"

namespace ipcwatch {

// What the `peer` check of a socket endpoint looks for.
struct SocketPeerQuery {
  std::string path;  // as configured: /path, or @name for an abstract socket
  EndpointType type = EndpointType::kUnixStream;
  std::optional<FileId> file;  // the socket file in the client's view, when it exists
  std::uint64_t client_net_ns = 0;
};

struct SocketPeerResult {
  CheckResult check;
  std::uint32_t peers = 0;             // sockets bound to the endpoint and serving
  std::optional<UnixSocket> listener;  // the first of them, for the backlog check
  std::vector<std::uint32_t> serving_inodes;  // the socket inodes of all of them
  // A listener bound to the configured path whose file is not the one at the path now: the
  // file was removed and replaced while the server kept serving the old one.
  std::optional<UnixSocket> replaced;
};

// `peer` for a socket endpoint: a socket of the configured type bound to the file's inode in
// any network namespace (stale when there is none), or for an abstract name a listener in the
// client's own network namespace — one bound elsewhere is named but cannot be reached. When the
// inventory comes from /proc/net/unix (no unix_diag: no inodes), a path socket is matched by
// the path it was bound to, as the ipc_files collector does, and the evidence says so.
SocketPeerResult checkSocketPeer(const UnixSocketInventory& inventory,
                                 const SocketPeerQuery& query);

// `backlog`: a stream or seqpacket listener's accept queue is not longer than its backlog;
// not applicable when the inventory has no queue lengths (/proc/net/unix).
CheckResult checkBacklog(EndpointType type, const std::optional<UnixSocket>& listener);

}  // namespace ipcwatch
