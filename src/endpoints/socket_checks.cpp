#include "endpoints/socket_checks.h"

#include <sys/socket.h>

#include <vector>

namespace ipcwatch {
namespace {

std::uint8_t socketTypeOf(EndpointType type) {
  switch (type) {
    case EndpointType::kUnixDgram:
      return SOCK_DGRAM;
    case EndpointType::kUnixSeqpacket:
      return SOCK_SEQPACKET;
    default:
      return SOCK_STREAM;
  }
}

CheckResult result(CheckStatus status, std::string evidence, std::string fix = "") {
  return CheckResult{"", status, std::move(evidence), std::move(fix)};
}

// /proc/net/unix names the path a socket was bound to, never the file's inode.
constexpr const char* kByPath =
    "matched by path: unix_diag is unavailable, so /proc/net/unix gives no socket file inodes "
    "(a socket bound to the same path in another mount namespace counts too)";

}  // namespace

SocketPeerResult checkSocketPeer(const UnixSocketInventory& inventory,
                                 const SocketPeerQuery& query) {
  SocketPeerResult out;
  const bool abstract = !query.path.empty() && query.path.front() == '@';
  const std::string abstract_name = abstract ? std::string(1, '\0') + query.path.substr(1) : "";
  const std::uint8_t type = socketTypeOf(query.type);
  const bool by_path = inventory.from_procfs && !abstract;
  std::vector<std::uint64_t> elsewhere;
  for (const auto& ns : inventory.namespaces) {
    for (const auto& socket : ns.sockets) {
      const bool serving = socket.type == SOCK_DGRAM ? socket.state != UnixSocketState::kConnected
                                                     : socket.state == UnixSocketState::kListening;
      if (!serving || socket.type != type) {
        continue;
      }
      bool match = false;
      if (abstract) {
        match = socket.name == abstract_name;
      } else if (by_path) {
        match = query.file && socket.name == query.path;
      } else {
        match = query.file && socket.has_vfs && devFromKernel(socket.vfs_dev) == query.file->dev &&
                socket.vfs_ino == static_cast<std::uint32_t>(query.file->ino);
      }
      if (!match) {
        if (!abstract && !by_path && query.file && socket.name == query.path && !out.replaced) {
          out.replaced = socket;
        }
        continue;
      }
      if (abstract && ns.ns.inode != query.client_net_ns) {
        elsewhere.push_back(ns.ns.inode);
        continue;
      }
      ++out.peers;
      out.serving_inodes.push_back(socket.inode);
      if (!out.listener) {
        out.listener = socket;
      }
    }
  }
  const std::string kind(endpointTypeName(query.type));
  const std::string client_ns = "net:[" + std::to_string(query.client_net_ns) + "]";
  if (out.peers > 0) {
    out.check = result(CheckStatus::kPass,
                       std::to_string(out.peers) + " " + kind + " socket(s) bound and serving" +
                           (abstract ? " in the client's network namespace " + client_ns : "") +
                           (by_path ? std::string(", ") + kByPath : ""));
  } else if (abstract) {
    std::string where;
    for (const auto inode : elsewhere) {
      where += (where.empty() ? "" : ", ") + std::string("net:[") + std::to_string(inode) + "]";
    }
    out.check = result(
        CheckStatus::kFail,
        "no " + kind + " listener named " + query.path + " in the client's network namespace " +
            client_ns +
            (where.empty() ? ""
                           : "; it is bound in " + where +
                                 ", which the client cannot reach (abstract names are per "
                                 "network namespace)"),
        where.empty() ? "no process listens on " + query.path + ": is the server running?"
                      : "run the client in the server's network namespace, or bind a filesystem "
                        "path instead of an abstract name");
  } else if (!query.file) {
    out.check = result(CheckStatus::kSkipped, "not evaluated: no socket file at the path");
  } else {
    const std::string unbound = by_path
                                    ? "bound to that path (" + std::string(kByPath) + ")"
                                    : "bound to it (inode " + std::to_string(query.file->ino) + ")";
    if (out.replaced) {
      // The name matches, the file does not: someone removed the socket file and put another
      // in its place, or the listener is another mount namespace's socket of the same path.
      out.check = result(
          CheckStatus::kFail,
          "replaced socket file: no " + kind + " socket is " + unbound + ", but socket inode " +
              std::to_string(out.replaced->inode) + " listens on the same path name bound to " +
              "another file (inode " + std::to_string(out.replaced->vfs_ino) +
              "): the file at the path was removed and replaced while the server kept serving "
              "the old one (or that listener is another mount namespace's)",
          "find who replaced " + query.path +
              " (the directory must be writable only by root and the server), then restart the "
              "server so that it binds the path again");
    } else {
      out.check = result(CheckStatus::kFail,
                         "stale socket file: no " + kind + " socket is " + unbound +
                             "; the server exited without removing it",
                         "no process listens on " + query.path +
                             ": restart the server (it should unlink the stale file before bind)");
    }
  }
  out.check.name = "peer";
  return out;
}

CheckResult checkBacklog(EndpointType type, const std::optional<UnixSocket>& listener) {
  CheckResult out;
  if (type == EndpointType::kFifo || type == EndpointType::kUnixDgram) {
    out = result(CheckStatus::kNotApplicable, "no accept queue for this endpoint type");
  } else if (!listener) {
    out = result(CheckStatus::kSkipped, "not evaluated: no listener found");
  } else if (!listener->has_rqlen) {
    out = result(CheckStatus::kNotApplicable,
                 "the accept queue is not known: unix_diag is unavailable and /proc/net/unix "
                 "has no queue lengths");
  } else {
    const std::string queue = std::to_string(listener->rqueue) +
                              " connection(s) waiting, backlog " + std::to_string(listener->wqueue);
    // The kernel refuses a connect when the queue is longer than the backlog.
    out = listener->rqueue > listener->wqueue
              ? result(CheckStatus::kFail, "accept queue full: " + queue,
                       "the server does not accept() fast enough: check that it is not stuck, "
                       "or raise its listen() backlog")
              : result(CheckStatus::kPass, "accept queue not full: " + queue);
  }
  out.name = "backlog";
  return out;
}

}  // namespace ipcwatch
