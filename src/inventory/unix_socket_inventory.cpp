#include "inventory/unix_socket_inventory.h"
#include "util/proc_entry.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

// `ip netns add` bind-mounts the namespace over an empty file; a file left behind without the
// mount is on the directory's own filesystem, not nsfs.
bool isNsfs(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

void addProcessNamespaces(const std::string& procfs, std::map<std::uint64_t, NetNamespace>& found) {
  DIR* dir = opendir(procfs.c_str());
  if (dir == nullptr) {
    throw std::system_error(errno, std::generic_category(), "cannot list " + procfs);
  }
  const int dir_fd = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    if (!isProcNumber(entry->d_name)) {
      continue;
    }
    const std::string pid = entry->d_name;
    struct stat st {};
    if (fstatat(dir_fd, (pid + "/ns/net").c_str(), &st, 0) != 0) {
      continue;  // exited, or a kernel thread we may not look into
    }
    if (found.count(st.st_ino) == 0) {
      found[st.st_ino] = NetNamespace{st.st_ino, "", procfs + "/" + pid + "/ns/net",
                                      procfs + "/" + pid + "/net/unix"};
    }
  }
  closedir(dir);
}

void addNamedNamespaces(const std::string& named_dir,
                        std::map<std::uint64_t, NetNamespace>& found) {
  DIR* dir = opendir(named_dir.c_str());
  if (dir == nullptr) {
    return;  // no named namespaces: the directory appears with the first `ip netns add`
  }
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    const std::string path = named_dir + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !isNsfs(path)) {
      continue;
    }
    auto& ns = found[st.st_ino];
    ns.inode = st.st_ino;
    if (ns.name.empty() || name < ns.name) {
      ns.name = name;  // several names for one namespace: report the first in order
    }
    if (ns.ns_path.empty()) {
      ns.ns_path = path;
    }
  }
  closedir(dir);
}

// The namespaces in inode order.
std::vector<NetNamespace> byInode(std::map<std::uint64_t, NetNamespace> found) {
  std::vector<NetNamespace> out;
  out.reserve(found.size());
  for (auto& [inode, ns] : found) {
    out.push_back(std::move(ns));
  }
  return out;
}

struct DiagSocket {
  UniqueFd fd;
  int error = 0;
};

// Creates one NETLINK_SOCK_DIAG socket inside each namespace from a helper thread, so that no
// serving thread ever changes namespace. The thread ends with the loop: its namespace dies
// with it, the sockets keep theirs.
std::vector<DiagSocket> openDiagSockets(const std::vector<NamespaceSockets>& namespaces) {
  std::vector<DiagSocket> sockets(namespaces.size());
  std::thread helper([&] {
    for (std::size_t i = 0; i < namespaces.size(); ++i) {
      UniqueFd ns(open(namespaces[i].ns.ns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.valid() || setns(ns.get(), CLONE_NEWNET) != 0) {
        sockets[i].error = errno;
        continue;
      }
      sockets[i].fd.reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
      if (!sockets[i].fd.valid()) {
        sockets[i].error = errno;
      }
    }
  });
  helper.join();
  return sockets;
}

void sendDumpRequest(int fd, std::uint32_t show) {
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0u;
  message.request.udiag_show = show;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &message, sizeof message, 0, reinterpret_cast<const sockaddr*>(&kernel),
             sizeof kernel) != static_cast<ssize_t>(sizeof message)) {
    throw std::system_error(errno, std::generic_category(), "sock_diag request");
  }
}

bool vanishedError(int error) {
  return error == ENOENT || error == ESRCH;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::system_error(errno, std::generic_category(), "cannot read " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<NetNamespace> discoverNetNamespaces(const std::string& procfs,
                                                const std::string& named_dir) {
  std::map<std::uint64_t, NetNamespace> found;
  addProcessNamespaces(procfs, found);
  addNamedNamespaces(named_dir, found);
  return byInode(std::move(found));
}

std::vector<NetNamespace> netNamespacesOf(const std::string& procfs, const std::string& named_dir,
                                          const std::map<std::uint64_t, std::uint32_t>& pids) {
  std::map<std::uint64_t, NetNamespace> found;
  for (const auto& [inode, pid] : pids) {
    const std::string dir = procfs + "/" + std::to_string(pid);
    found[inode] = NetNamespace{inode, "", dir + "/ns/net", dir + "/net/unix"};
  }
  addNamedNamespaces(named_dir, found);
  return byInode(std::move(found));
}

std::map<std::uint64_t, std::string> namedNetNamespaces(const std::string& named_dir) {
  std::map<std::uint64_t, NetNamespace> found;
  addNamedNamespaces(named_dir, found);
  std::map<std::uint64_t, std::string> names;
  for (auto& [inode, ns] : found) {
    names.emplace(inode, std::move(ns.name));
  }
  return names;
}

std::vector<UnixSocket> dumpUnixSockets(int diag_fd, std::uint32_t show,
                                        std::vector<std::string>& parse_errors) {
  const timeval timeout{2, 0};  // the kernel answers at once; this only bounds a broken socket
  setsockopt(diag_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sendDumpRequest(diag_fd, show);
  std::vector<UnixSocket> sockets;
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t n = recv(diag_fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "sock_diag recv");
    }
    if (n == 0) {
      throw std::runtime_error("sock_diag: connection closed before the end of the dump");
    }
    auto batch = decodeUnixDiag(std::span(buffer.data(), static_cast<std::size_t>(n)), sockets);
    for (auto& error : batch.errors) {
      parse_errors.push_back("unix_diag: " + error);
    }
    if (batch.error != 0) {
      throw std::system_error(-batch.error, std::generic_category(), "sock_diag dump");
    }
    if (batch.done) {
      return sockets;
    }
    if (!batch.errors.empty() && batch.decoded == 0) {
      throw std::runtime_error("sock_diag: undecodable reply");
    }
  }
}

UnixSocketInventory UnixSocketInventoryReader::read(std::uint32_t show) {
  return read(show, discoverNetNamespaces(procfs_, named_dir_));
}

UnixSocketInventory UnixSocketInventoryReader::read(std::uint32_t show,
                                                    const std::vector<NetNamespace>& namespaces) {
  std::lock_guard lock(mutex_);
  UnixSocketInventory inventory;
  for (const auto& ns : namespaces) {
    inventory.namespaces.push_back(NamespaceSockets{ns, false, false, "", {}});
  }
  if (source_ == Source::kProcfsOnly) {
    readFromProcfs(inventory);
    return inventory;
  }
  // Sockets of namespaces that are gone are closed; only the new ones are entered.
  std::map<std::uint64_t, UniqueFd> kept;
  std::vector<NamespaceSockets> to_enter;
  for (const auto& entry : inventory.namespaces) {
    auto it = diag_sockets_.find(entry.ns.inode);
    if (it != diag_sockets_.end()) {
      kept.emplace(entry.ns.inode, std::move(it->second));
    } else {
      to_enter.push_back(entry);
    }
  }
  diag_sockets_ = std::move(kept);
  auto opened = openDiagSockets(to_enter);
  std::map<std::uint64_t, int> enter_errors;
  for (std::size_t i = 0; i < opened.size(); ++i) {
    if (opened[i].fd.valid()) {
      diag_sockets_.emplace(to_enter[i].ns.inode, std::move(opened[i].fd));
    } else {
      enter_errors.emplace(to_enter[i].ns.inode, opened[i].error);
    }
  }
  for (auto& entry : inventory.namespaces) {
    const auto failed = enter_errors.find(entry.ns.inode);
    if (failed != enter_errors.end()) {
      if (failed->second == EPROTONOSUPPORT || failed->second == EAFNOSUPPORT) {
        readFromProcfs(inventory);
        return inventory;
      }
      entry.vanished = vanishedError(failed->second);
      entry.error = "cannot enter: " + std::string(std::strerror(failed->second));
      continue;
    }
    const auto socket = diag_sockets_.find(entry.ns.inode);
    try {
      entry.sockets = dumpUnixSockets(socket->second.get(), show, inventory.parse_errors);
      entry.ok = true;
    } catch (const std::system_error& e) {
      if (e.code().value() == ENOENT) {  // no unix_diag in this kernel
        readFromProcfs(inventory);
        return inventory;
      }
      entry.error = e.what();
      diag_sockets_.erase(socket);  // a fresh socket next time, in case this one is broken
    } catch (const std::exception& e) {
      entry.error = e.what();
      diag_sockets_.erase(socket);
    }
  }
  return inventory;
}

void UnixSocketInventoryReader::readFromProcfs(UnixSocketInventory& inventory) {
  if (!fallback_logged_ && source_ == Source::kSockDiag) {
    spdlog::warn(
        "sock_diag for unix sockets is unavailable; reading /proc/<pid>/net/unix "
        "instead (no listen queues, stale socket files matched by path)");
    fallback_logged_ = true;
  }
  inventory.from_procfs = true;
  for (auto& entry : inventory.namespaces) {
    entry.sockets.clear();
    entry.ok = false;
    if (entry.ns.proc_net_unix.empty()) {
      entry.error = "no process in the namespace to read net/unix through";
      continue;
    }
    try {
      auto parsed = parseProcNetUnix(readFile(entry.ns.proc_net_unix));
      for (auto& error : parsed.errors) {
        inventory.parse_errors.push_back(entry.ns.proc_net_unix + ": " + error);
      }
      entry.sockets = std::move(parsed.sockets);
      entry.ok = true;
    } catch (const std::system_error& e) {
      entry.vanished = vanishedError(e.code().value());
      entry.error = e.what();
    }
  }
}

}  // namespace ipcwatch
