#include "endpoints/endpoint_listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "endpoints/client_identity.h"
#include "endpoints/selinux_check.h"
#include "inventory/parsers/ipc_parsers.h"
#include "inventory/proc_file.h"
#include "log/logging.h"
#include "util/in_root.h"
#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

std::string procDir(const std::string& procfs, std::uint32_t pid) {
  return procfs + "/" + std::to_string(pid);
}

// Builds holders once per pid: comm from the snapshot, context from attr/current.
class HolderNames {
 public:
  HolderNames(HostSnapshot& snapshot, const std::string& procfs)
      : snapshot_(snapshot), procfs_(procfs) {}

  EndpointHolder holder(std::uint32_t pid, std::string direction) {
    auto [it, inserted] = contexts_.try_emplace(pid);
    if (inserted) {
      it->second = selinuxContextOf(readSmallFile(procDir(procfs_, pid) + "/attr/current"));
    }
    const ProcessFacts* process = snapshot_.process(pid);
    return {pid, process != nullptr ? process->comm : std::string("exited"), it->second,
            std::move(direction)};
  }

 private:
  HostSnapshot& snapshot_;
  const std::string& procfs_;
  std::map<std::uint32_t, std::string> contexts_;
};

std::string labelOf(const std::string& path, bool follow) {
  char label[256] = {};
  const ssize_t n = follow ? getxattr(path.c_str(), "security.selinux", label, sizeof label - 1)
                           : lgetxattr(path.c_str(), "security.selinux", label, sizeof label - 1);
  return n > 0 ? std::string(label, strnlen(label, static_cast<std::size_t>(n))) : "";
}

void setOwner(ListedEndpoint& endpoint, const struct stat& st) {
  endpoint.uid = st.st_uid;
  endpoint.gid = st.st_gid;
  endpoint.mode = st.st_mode & 07777;
}

// The named FIFOs held open: path, owner and label through one of the holder's descriptors.
void listFifos(HostSnapshot& snapshot, const std::string& procfs, HolderNames& names,
               std::vector<ListedEndpoint>& out) {
  for (const auto& [id, holders] : snapshot.fifoHolders()) {
    ListedEndpoint endpoint;
    endpoint.type = "fifo";
    std::set<std::uint32_t> pids = holders.reader_pids;
    pids.insert(holders.writer_pids.begin(), holders.writer_pids.end());
    for (const auto pid : pids) {
      const bool reads = holders.reader_pids.count(pid) != 0;
      const bool writes = holders.writer_pids.count(pid) != 0;
      endpoint.holders.push_back(names.holder(pid, reads && writes ? "read_write"
                                                   : reads         ? "read"
                                                                   : "write"));
      if (!endpoint.name.empty()) {
        continue;
      }
      // The path as the holder opened it, from the descriptor that is this FIFO.
      const std::string fd_dir = procDir(procfs, pid) + "/fd";
      DIR* dir = opendir(fd_dir.c_str());
      if (dir == nullptr) {
        continue;
      }
      while (const dirent* entry = readdir(dir)) {
        const std::string link = fd_dir + "/" + entry->d_name;
        struct stat st {};
        if (entry->d_name[0] == '.' || ::stat(link.c_str(), &st) != 0 || st.st_dev != id.dev ||
            st.st_ino != id.ino) {
          continue;
        }
        char target[4096];
        const ssize_t n = readlink(link.c_str(), target, sizeof target);
        if (n > 0) {
          endpoint.name.assign(target, static_cast<std::size_t>(n));
          setOwner(endpoint, st);
          endpoint.label = labelOf(link, /*follow=*/true);
          if (const ProcessFacts* process = snapshot.process(pid)) {
            endpoint.ns_kind = "mnt";
            endpoint.ns = process->mnt_ns;
          }
          break;
        }
      }
      closedir(dir);
    }
    if (endpoint.name.empty()) {
      endpoint.name = "dev " + std::to_string(id.dev) + " inode " + std::to_string(id.ino);
    }
    out.push_back(std::move(endpoint));
  }
}

std::string socketType(std::uint8_t type) {
  return "unix_" + std::string(unixSocketTypeName(type));
}

// The bound unix sockets of every network namespace, with the processes holding each.
void listSockets(HostSnapshot& snapshot, const std::string& procfs, HolderNames& names,
                 std::vector<ListedEndpoint>& out) {
  for (const auto& ns : snapshot.unixSockets().namespaces) {
    for (const auto& socket : ns.sockets) {
      if (socket.name.empty()) {
        continue;  // unbound: no address to reach it by
      }
      ListedEndpoint endpoint;
      endpoint.type = socketType(socket.type);
      endpoint.name = unixSocketDisplayName(socket.name);
      endpoint.ns_kind = "net";
      endpoint.ns = ns.ns.inode;
      const std::string direction =
          socket.state == UnixSocketState::kListening ? "listen" : "bound";
      for (const auto pid : snapshot.socketHolders(socket.inode)) {
        endpoint.holders.push_back(names.holder(pid, direction));
      }
      // The socket file, looked up where its holder sees it, when it is still that file.
      if (socket.name.front() == '/' && !endpoint.holders.empty()) {
        const RootedView view(procDir(procfs, endpoint.holders.front().pid) + "/root");
        struct stat st {};
        if (view.lstat(socket.name, st) == 0 && S_ISSOCK(st.st_mode) &&
            (!socket.has_vfs || static_cast<std::uint32_t>(st.st_ino) == socket.vfs_ino)) {
          setOwner(endpoint, st);
          const UniqueFd fd = view.open(socket.name, /*follow=*/false);
          if (fd.valid()) {
            endpoint.label = labelOf("/proc/self/fd/" + std::to_string(fd.get()), true);
          }
        }
      }
      out.push_back(std::move(endpoint));
    }
  }
}

std::string sysvKey(std::int32_t key) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<std::uint32_t>(key));
  return text;
}

// The POSIX message queues and SysV objects of every IPC namespace.
void listIpcObjects(IpcNamespaceVisitor& visitor, HolderNames& names,
                    std::vector<ListedEndpoint>& out) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> creators;  // index in out -> cpid
  visitor.visit([&](const IpcNamespaceView& ns) {
    const auto add = [&](const std::string& type, const std::string& name, std::uint32_t uid,
                         std::uint32_t mode) -> ListedEndpoint& {
      ListedEndpoint& endpoint = out.emplace_back();
      endpoint.type = type;
      endpoint.name = name;
      endpoint.uid = uid;
      endpoint.mode = mode & 0777;
      endpoint.ns_kind = "ipc";
      endpoint.ns = ns.inode;
      return endpoint;
    };
    if (ns.open_mqueue_dir) {
      const int fd = ns.open_mqueue_dir();
      if (DIR* dir = fd >= 0 ? fdopendir(fd) : nullptr) {
        while (const dirent* entry = readdir(dir)) {
          struct stat st {};
          if (entry->d_name[0] == '.' || fstatat(dirfd(dir), entry->d_name, &st, 0) != 0) {
            continue;
          }
          add("mqueue", std::string("/") + entry->d_name, st.st_uid, st.st_mode).gid = st.st_gid;
        }
        closedir(dir);
      } else if (fd >= 0) {
        close(fd);
      }
    }
    const std::string sysvipc = ns.procfs + "/sysvipc/";
    if (const auto text = readProcFile(sysvipc + "shm")) {
      for (const auto& row : parseSysvShm(*text).rows) {
        add("sysv_shm", sysvKey(row.key), row.uid, row.mode);
        if (row.cpid > 0) {
          creators.emplace_back(out.size() - 1, static_cast<std::uint32_t>(row.cpid));
        }
      }
    }
    if (const auto text = readProcFile(sysvipc + "sem")) {
      for (const auto& row : parseSysvSem(*text).rows) {
        add("sysv_sem", sysvKey(row.key), row.uid, row.mode);
      }
    }
    if (const auto text = readProcFile(sysvipc + "msg")) {
      for (const auto& row : parseSysvMsg(*text).rows) {
        add("sysv_msg", sysvKey(row.key), row.uid, row.mode);
      }
    }
  });
  // Named outside the visit: the visitor's thread is inside another IPC namespace.
  for (const auto& [index, pid] : creators) {
    out[index].holders.push_back(names.holder(pid, "creator"));
  }
}

std::string ownerText(const ListedEndpoint& endpoint) {
  if (!endpoint.uid) {
    return "-";
  }
  return userNameOf(*endpoint.uid);
}

std::string modeText(const ListedEndpoint& endpoint) {
  if (!endpoint.mode) {
    return "-";
  }
  char text[8];
  std::snprintf(text, sizeof text, "%04o", *endpoint.mode);
  return text;
}

std::string jsonText(std::string_view text) {
  return "\"" + jsonEscape(text) + "\"";
}

}  // namespace

std::vector<ListedEndpoint> listHostEndpoints(HostSnapshot& snapshot, const std::string& procfs,
                                              IpcNamespaceVisitor& ipc_namespaces) {
  std::vector<ListedEndpoint> out;
  HolderNames names(snapshot, procfs);
  listFifos(snapshot, procfs, names, out);
  listSockets(snapshot, procfs, names, out);
  listIpcObjects(ipc_namespaces, names, out);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.type, a.name, a.ns) < std::tie(b.type, b.name, b.ns);
  });
  return out;
}

bool knownEndpointType(const std::string& type) {
  static const std::set<std::string> types = {
      "fifo",   "unix", "unix_stream", "unix_dgram", "unix_seqpacket",
      "mqueue", "sysv", "sysv_shm",    "sysv_sem",   "sysv_msg"};
  return types.count(type) != 0;
}

bool matchesFilter(const ListedEndpoint& endpoint, const EndpointFilter& filter) {
  if (!filter.type.empty() && endpoint.type != filter.type &&
      !((filter.type == "unix" || filter.type == "sysv") &&
        endpoint.type.rfind(filter.type + "_", 0) == 0)) {
    return false;
  }
  if (!filter.path_prefix.empty() && endpoint.name.rfind(filter.path_prefix, 0) != 0) {
    return false;
  }
  if (filter.pid && std::none_of(endpoint.holders.begin(), endpoint.holders.end(),
                                 [&](const auto& h) { return h.pid == *filter.pid; })) {
    return false;
  }
  if (!filter.context.empty()) {
    const auto matches = [&](const std::string& context) {
      return !context.empty() && fnmatch(filter.context.c_str(), context.c_str(), 0) == 0;
    };
    if (!matches(endpoint.label) &&
        std::none_of(endpoint.holders.begin(), endpoint.holders.end(),
                     [&](const auto& h) { return matches(h.context); })) {
      return false;
    }
  }
  return true;
}

std::string renderEndpointsText(const std::vector<ListedEndpoint>& endpoints) {
  std::vector<std::vector<std::string>> rows = {
      {"TYPE", "NAME", "OWNER", "MODE", "LABEL", "NAMESPACE", "HOLDERS"}};
  for (const auto& endpoint : endpoints) {
    std::string holders;
    for (const auto& holder : endpoint.holders) {
      holders += (holders.empty() ? "" : ",") + std::to_string(holder.pid) + "/" + holder.comm +
                 "(" + holder.direction + (holder.context.empty() ? "" : " " + holder.context) +
                 ")";
    }
    rows.push_back({endpoint.type, endpoint.name, ownerText(endpoint), modeText(endpoint),
                    endpoint.label.empty() ? "-" : endpoint.label,
                    endpoint.ns_kind.empty()
                        ? "-"
                        : endpoint.ns_kind + ":[" + std::to_string(endpoint.ns) + "]",
                    holders.empty() ? "-" : holders});
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i + 1 < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) {
        out << std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    out << "\n";
  }
  return out.str();
}

std::string renderEndpointsJson(const std::vector<ListedEndpoint>& endpoints) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    out << (i == 0 ? "" : ",") << "\n{\"type\":" << jsonText(e.type)
        << ",\"name\":" << jsonText(e.name);
    if (e.uid) {
      out << ",\"uid\":" << *e.uid << ",\"owner\":" << jsonText(userNameOf(*e.uid));
    }
    if (e.gid) {
      out << ",\"gid\":" << *e.gid;
    }
    if (e.mode) {
      out << ",\"mode\":" << jsonText(modeText(e));
    }
    out << ",\"label\":" << jsonText(e.label) << ",\"namespace\":{\"kind\":" << jsonText(e.ns_kind)
        << ",\"inode\":" << e.ns << "},\"holders\":[";
    for (std::size_t j = 0; j < e.holders.size(); ++j) {
      const auto& h = e.holders[j];
      out << (j == 0 ? "" : ",") << "{\"pid\":" << h.pid << ",\"comm\":" << jsonText(h.comm)
          << ",\"context\":" << jsonText(h.context) << ",\"direction\":" << jsonText(h.direction)
          << "}";
    }
    out << "]}";
  }
  out << (endpoints.empty() ? "]\n" : "\n]\n");
  return out.str();
}

}  // namespace ipcwatch
