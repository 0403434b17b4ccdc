#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "inventory/parsers/unix_socket_parsers.h"
#include "util/unique_fd.h"

namespace ipcwatch {

// Where `ip netns add` bind-mounts named network namespaces.
constexpr const char* kNamedNetnsDir = "/var/run/netns";

// A network namespace found on the host.
struct NetNamespace {
  std::uint64_t inode = 0;    // the nsfs inode: the namespace's identity and its netns label
  std::string name;           // its `ip netns` name, "" when it has none
  std::string ns_path;        // a file that opens it: <procfs>/<pid>/ns/net or <named>/<name>
  std::string proc_net_unix;  // <procfs>/<pid>/net/unix, "" when no process lives in it
};

// Every network namespace that a process of <procfs> is in or that is bind-mounted under
// `named_dir` (what `ip netns add` does), once each (by inode), named where a name exists.
std::vector<NetNamespace> discoverNetNamespaces(const std::string& procfs,
                                                const std::string& named_dir);

// The namespaces of the given processes (namespace inode -> a pid in it), plus those
// bind-mounted under `named_dir`, as discoverNetNamespaces reports them but without a walk.
std::vector<NetNamespace> netNamespacesOf(const std::string& procfs, const std::string& named_dir,
                                          const std::map<std::uint64_t, std::uint32_t>& pids);

// The `ip netns` names of the namespaces bind-mounted under `named_dir`: inode -> name (the
// first in order when one namespace has several), as discoverNetNamespaces names them.
std::map<std::uint64_t, std::string> namedNetNamespaces(
    const std::string& named_dir = kNamedNetnsDir);

struct NamespaceSockets {
  NetNamespace ns;
  bool ok = false;        // false: the namespace could not be queried (`error` says why)
  bool vanished = false;  // it disappeared between discovery and query (not a failure)
  std::string error;
  std::vector<UnixSocket> sockets;
};

struct UnixSocketInventory {
  std::vector<NamespaceSockets> namespaces;
  bool from_procfs = false;  // sock_diag was unavailable: read from /proc/<pid>/net/unix
  std::vector<std::string> parse_errors;
};

// Lists the unix sockets of every network namespace with NETLINK_SOCK_DIAG, falling back to
// /proc/<pid>/net/unix when the kernel has no unix_diag. The netlink sockets are created inside
// each namespace by a short-lived helper thread (setns there, socket(), exit): the calling
// thread never changes namespace, and each socket keeps the namespace it was created in. A
// namespace's socket is kept for the next reads while the namespace is listed, so a read
// enters only namespaces that are new; one no longer listed has its socket closed, so the
// reader never keeps a namespace alive. Safe to use from several threads.
class UnixSocketInventoryReader {
 public:
  enum class Source { kSockDiag, kProcfsOnly };  // kProcfsOnly: what the fallback reports

  UnixSocketInventoryReader(std::string procfs, std::string named_dir,
                            Source source = Source::kSockDiag)
      : procfs_(std::move(procfs)), named_dir_(std::move(named_dir)), source_(source) {}

  // `show` is a UDIAG_SHOW_* mask. Reads the namespaces it discovers itself, or `namespaces`.
  UnixSocketInventory read(std::uint32_t show);
  UnixSocketInventory read(std::uint32_t show, const std::vector<NetNamespace>& namespaces);

 private:
  void readFromProcfs(UnixSocketInventory& inventory);

  std::string procfs_;
  std::string named_dir_;
  Source source_;
  std::mutex mutex_;
  bool fallback_logged_ = false;
  std::map<std::uint64_t, UniqueFd> diag_sockets_;  // netns inode -> socket made inside it
};

// One NETLINK_SOCK_DIAG dump of the unix sockets visible to `diag_fd`'s namespace. Throws
// std::system_error on socket errors; unparsable messages are appended to `parse_errors`.
std::vector<UnixSocket> dumpUnixSockets(int diag_fd, std::uint32_t show,
                                        std::vector<std::string>& parse_errors);

}  // namespace ipcwatch
