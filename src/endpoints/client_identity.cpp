#include "endpoints/client_identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "inventory/host_snapshot.h"
#include "inventory/workload.h"
#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

std::vector<std::uint32_t> numbers(std::string_view text) {
  std::vector<std::uint32_t> out;
  while (!text.empty()) {
    const auto start = text.find_first_of("0123456789");
    if (start == std::string_view::npos) {
      break;
    }
    text.remove_prefix(start);
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    out.push_back(value);
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
  }
  return out;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string describe(const ClientIdentity& id) {
  std::string groups;
  for (const auto gid : id.groups) {
    groups += (groups.empty() ? "" : ",") + std::to_string(gid);
  }
  const std::string workload = describeWorkload(id.unit, id.container_id);
  std::string out = id.pid != 0 ? "pid " + std::to_string(id.pid) + " (" + id.comm +
                                      (workload.empty() ? "" : ", " + workload) + ")"
                                : "user " + id.user_name;
  out += ", uid " + std::to_string(id.uid) + " gid " + std::to_string(id.gid) + " groups " +
         groups + ", mnt:[" + std::to_string(id.mnt_ns) + "] net:[" + std::to_string(id.net_ns) +
         "]";
  return out;
}

}  // namespace

std::string userNameOf(std::uint32_t uid) {
  passwd entry{};
  passwd* pw = nullptr;
  char buffer[4096];
  getpwuid_r(uid, &entry, buffer, sizeof buffer, &pw);
  return pw != nullptr ? pw->pw_name : std::to_string(uid);
}

std::optional<ProcStatus> parseProcStatus(const std::string& text) {
  ProcStatus status;
  bool uid = false;
  bool gid = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view view = line;
    if (view.starts_with("Uid:")) {
      const auto ids = numbers(view.substr(4));
      if (ids.size() >= 2) {
        status.euid = ids[1];
        uid = true;
      }
    } else if (view.starts_with("Gid:")) {
      const auto ids = numbers(view.substr(4));
      if (ids.size() >= 2) {
        status.egid = ids[1];
        gid = true;
      }
    } else if (view.starts_with("Groups:")) {
      status.groups = numbers(view.substr(7));
    } else if (view.starts_with("Umask:")) {
      unsigned mask = 0;
      auto rest = view.substr(6);
      rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
      if (std::from_chars(rest.data(), rest.data() + rest.size(), mask, 8).ec == std::errc()) {
        status.umask = mask;
      }
    }
  }
  if (!uid || !gid) {
    return std::nullopt;
  }
  return status;
}

std::string readSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return "";
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t nsInode(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::uint32_t findServerProcess(HostSnapshot& snapshot, const EndpointServerConfig& server) {
  if (!server.pid_file.empty()) {
    const auto pids = numbers(readSmallFile(server.pid_file));
    if (!pids.empty() && snapshot.process(pids[0]) != nullptr) {
      return pids[0];
    }
  }
  if (!server.process.empty()) {
    const auto pids = snapshot.pidsByComm(server.process);
    if (!pids.empty()) {
      return pids[0];
    }
  }
  if (server.exe.empty() && server.systemd_unit.empty()) {
    return 0;
  }
  for (const auto& process : snapshot.processes()) {
    if (!server.exe.empty() && snapshot.exeOf(process.pid) == server.exe) {
      return process.pid;
    }
    if (!server.systemd_unit.empty() &&
        snapshot.cgroupOf(process.pid).find("/" + server.systemd_unit + "\n") !=
            std::string::npos) {
      return process.pid;
    }
  }
  return 0;
}

ClientIdentity identityOfProcess(const std::string& procfs, std::uint32_t pid) {
  ClientIdentity id;
  const std::string dir = procfs + "/" + std::to_string(pid);
  const auto status = parseProcStatus(readSmallFile(dir + "/status"));
  if (!status) {
    id.description = "pid " + std::to_string(pid) + " does not exist (or its status is unreadable)";
    return id;
  }
  id.resolved = true;
  id.pid = pid;
  id.comm = trimmed(readSmallFile(dir + "/comm"));
  id.uid = status->euid;
  id.gid = status->egid;
  id.groups.push_back(status->egid);
  for (const auto gid : status->groups) {
    if (gid != status->egid) {
      id.groups.push_back(gid);
    }
  }
  id.user_name = userNameOf(id.uid);
  id.root = dir + "/root";
  id.mnt_ns = nsInode(dir + "/ns/mnt");
  id.net_ns = nsInode(dir + "/ns/net");
  const Workload workload = workloadOfCgroupFile(readSmallFile(dir + "/cgroup"));
  id.unit = workload.unit;
  id.container_id = workload.container_id;
  id.description = describe(id);
  return id;
}

ClientIdentity identityOfUser(const std::string& procfs, const std::string& user) {
  ClientIdentity id;
  ResolvedUser resolved;
  if (!resolveUser(user, resolved)) {
    id.description = "unknown user '" + user + "'";
    return id;
  }
  id.resolved = true;
  id.uid = resolved.uid;
  id.gid = resolved.gid;
  id.groups.push_back(resolved.gid);
  if (!resolved.name.empty()) {
    std::vector<gid_t> groups(64);
    int count = static_cast<int>(groups.size());
    if (getgrouplist(resolved.name.c_str(), resolved.gid, groups.data(), &count) >= 0) {
      for (int i = 0; i < count; ++i) {
        if (groups[static_cast<std::size_t>(i)] != resolved.gid) {
          id.groups.push_back(groups[static_cast<std::size_t>(i)]);
        }
      }
    }
  }
  id.user_name = resolved.name.empty() ? std::to_string(resolved.uid) : resolved.name;
  id.mnt_ns = nsInode(procfs + "/self/ns/mnt");
  id.net_ns = nsInode(procfs + "/self/ns/net");
  id.description = describe(id) + " (the agent's namespaces)";
  return id;
}

ClientIdentity resolveClient(HostSnapshot& snapshot, const std::string& process,
                             const std::string& user) {
  const std::string& procfs = snapshot.procfs();
  if (!process.empty()) {
    const auto pids = snapshot.pidsByComm(process);
    ResolvedUser wanted;
    const bool by_user = !user.empty() && resolveUser(user, wanted);
    // A worker running as the configured user, not the root master; else the first.
    std::vector<std::uint32_t> order;
    for (const auto pid : pids) {
      const ProcessFacts* facts = snapshot.process(pid);
      if (by_user && facts != nullptr && facts->euid == wanted.uid) {
        order.insert(order.begin(), pid);
        break;
      }
    }
    order.insert(order.end(), pids.begin(), pids.end());
    std::optional<ClientIdentity> first;
    for (const auto pid : order) {
      auto id = identityOfProcess(procfs, pid);
      if (!id.resolved) {
        continue;  // exited since the snapshot
      }
      if (!by_user || id.uid == wanted.uid) {
        return id;
      }
      if (!first) {
        first = std::move(id);
      }
    }
    if (first) {
      return *first;
    }
    if (user.empty()) {
      ClientIdentity none;
      none.description = "no process named '" + process + "' runs and no user is configured";
      return none;
    }
    auto id = identityOfUser(procfs, user);
    id.description += "; no process named '" + process + "' runs";
    return id;
  }
  return identityOfUser(procfs, user);
}

std::optional<std::vector<int>> kernelAccess(const std::string& procfs,
                                             const ClientIdentity& identity,
                                             const std::vector<AccessQuery>& queries,
                                             std::string& error) {
  UniqueFd mnt_fd;
  UniqueFd root_fd;
  if (identity.pid != 0) {
    const std::string dir = procfs + "/" + std::to_string(identity.pid);
    mnt_fd.reset(open((dir + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    root_fd.reset(open((dir + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mnt_fd.valid() || !root_fd.valid()) {
      error = "cannot open the namespaces of pid " + std::to_string(identity.pid) + ": " +
              std::strerror(errno);
      return std::nullopt;
    }
  }
  std::vector<gid_t> groups(identity.groups.begin(), identity.groups.end());
  std::vector<const char*> paths;
  std::vector<int> modes;
  for (const auto& query : queries) {
    paths.push_back(query.path.c_str());
    // Root's CAP_DAC_OVERRIDE grants read and write on any FIFO or socket file and search on
    // any directory. The agent gave that capability up after start-up, so for a uid 0 client
    // the kernel is asked whether the path resolves, and the mode bits are not consulted.
    modes.push_back(identity.uid == 0 ? F_OK : query.mode);
  }
  // A thread of its own takes the client's view and credentials: Linux keeps credentials,
  // and after unshare(CLONE_FS) the root and mount namespace, per thread. The raw system calls
  // change only that thread (glibc's setuid() would change every thread of the agent), and
  // the thread ends with the check, so nothing of it is ever seen by the rest of the agent. A
  // thread costs a few tens of microseconds where a fork of the agent cost milliseconds.
  int step = 0;
  int step_errno = 0;
  std::vector<int> results(queries.size(), 0);
  std::thread helper([&] {
    if (syscall(SYS_unshare, CLONE_FS) != 0) {
      step = -3;
    } else if (mnt_fd.valid() && (setns(mnt_fd.get(), CLONE_NEWNS) != 0 ||
                                  fchdir(root_fd.get()) != 0 || chroot(".") != 0)) {
      step = -1;
    } else if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0 ||
               syscall(SYS_setresgid, identity.gid, identity.gid, identity.gid) != 0 ||
               syscall(SYS_setresuid, identity.uid, identity.uid, identity.uid) != 0) {
      step = -2;
    }
    if (step != 0) {
      step_errno = errno;
      return;
    }
    for (std::size_t i = 0; i < paths.size(); ++i) {
      results[i] = faccessat(AT_FDCWD, paths[i], modes[i], AT_EACCESS) == 0 ? 0 : errno;
    }
  });
  helper.join();
  if (step != 0) {
    error = std::string(step == -1   ? "cannot enter the client's mount namespace: "
                        : step == -2 ? "cannot take the client's credentials: "
                                     : "cannot give the access helper its own root: ") +
            std::strerror(step_errno);
    return std::nullopt;
  }
  return results;
}

}  // namespace ipcwatch
