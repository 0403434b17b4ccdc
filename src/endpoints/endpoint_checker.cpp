#include "endpoints/endpoint_checker.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "endpoints/posix_acl.h"
#include "endpoints/selinux_check.h"
#include "endpoints/socket_checks.h"
#include "inventory/workload.h"
#include "util/in_root.h"

namespace ipcwatch {
namespace {

std::string octal(unsigned mode) {
  std::ostringstream out;
  out << "0" << std::oct << (mode & 07777);
  return out.str();
}

std::string groupName(std::uint32_t gid) {
  const group* gr = getgrgid(gid);
  return gr != nullptr ? gr->gr_name : std::to_string(gid);
}

std::string fileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISREG(mode)) {
    return "a regular file";
  }
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISLNK(mode)) {
    return "a symlink";
  }
  return "a special file";
}

unsigned wantedBits(EndpointAccess access) {
  switch (access) {
    case EndpointAccess::kRead:
      return 4;
    case EndpointAccess::kReadWrite:
      return 6;
    default:
      return 2;  // write, and connect (which needs write permission on the socket file)
  }
}

std::string bitsText(unsigned bits) {
  std::string out;
  out += (bits & 4) != 0 ? "r" : "";
  out += (bits & 2) != 0 ? "w" : "";
  out += (bits & 1) != 0 ? "x" : "";
  return out;
}

std::vector<AclEntry> readAcl(const RootedView& view, const std::string& path) {
  char buffer[4096];
  const ssize_t n = view.getxattr(path, "system.posix_acl_access", buffer, sizeof buffer);
  if (n <= 0) {
    return {};
  }
  auto acl = decodePosixAcl(std::string_view(buffer, static_cast<std::size_t>(n)));
  return acl ? *acl : std::vector<AclEntry>{};
}

std::string aclText(const std::vector<AclEntry>& acl) {
  std::string out;
  for (const auto& entry : acl) {
    std::string item;
    switch (entry.tag) {
      case AclEntry::Tag::kUser:
        item = "user:" + std::to_string(entry.id);
        break;
      case AclEntry::Tag::kGroup:
        item = "group:" + std::to_string(entry.id);
        break;
      case AclEntry::Tag::kMask:
        item = "mask:";
        break;
      default:
        continue;  // the owner, group and other entries are the mode bits shown already
    }
    out += (out.empty() ? "" : ",") + item + ":" + permString(entry.perm);
  }
  return out;
}

// Every directory the lookup of `path` traverses: "/", "/a", "/a/b" for /a/b/c.
std::vector<std::string> parentDirectories(const std::string& path) {
  std::vector<std::string> out = {"/"};
  for (std::size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    out.push_back(path.substr(0, at));
  }
  return out;
}

bool hasUnclean(const std::string& path) {
  return std::any_of(path.begin(), path.end(),
                     [](unsigned char c) { return c < 0x20 || c == 0x7f; }) ||
         path.front() == ' ' || path.back() == ' ';
}

std::string cleaned(const std::string& path) {
  std::string out;
  for (const unsigned char c : path) {
    if (c >= 0x20 && c != 0x7f) {
      out.push_back(static_cast<char>(c));
    }
  }
  const auto first = out.find_first_not_of(' ');
  const auto last = out.find_last_not_of(' ');
  return first == std::string::npos ? "" : out.substr(first, last - first + 1);
}

class CheckRun {
 public:
  CheckRun(const std::string& procfs, const std::string& sysfs, const DenialStore* denials,
           HostSnapshot& snapshot, EndpointReport& report, const EndpointConfig& endpoint)
      : procfs_(procfs),
        sysfs_(sysfs),
        denials_(denials),
        snapshot_(snapshot),
        report_(report),
        endpoint_(endpoint) {}

  void run() {
    server_pid_ = findServerProcess(snapshot_, endpoint_.server);
    report_.server_pid = server_pid_;
    if (!endpoint_.server.pid_file.empty()) {
      const std::string text = readSmallFile(endpoint_.server.pid_file);
      pid_file_pid_ = static_cast<std::uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
      if (snapshot_.process(pid_file_pid_) == nullptr) {
        pid_file_pid_ = 0;
      }
    }
    // Every path of the checks resolves inside the client's root, as its own lookups do.
    client_.emplace(report_.identity.root.empty() ? "/" : report_.identity.root);
    abstract_ = !endpoint_.path.empty() && endpoint_.path.front() == '@';
    pathClean();
    if (!report_.identity.resolved) {
      for (const auto& name : endpointCheckNames()) {
        if (name != "path_clean") {
          add(name, CheckStatus::kSkipped, "no client identity: " + report_.identity.description,
              "start the client or set `user:` for it");
        }
      }
      return;
    }
    const bool exists = existsCheck();
    if (abstract_) {
      for (const char* name : {"type", "search", "permission"}) {
        add(name, CheckStatus::kNotApplicable,
            "abstract socket name: no file, no mode bits (any process in the network "
            "namespace may connect)");
      }
    }
    const bool type_ok = exists && typeCheck();
    const bool search_ok = exists && searchCheck();
    if (!exists || !search_ok) {
      skip("type", exists);
      skip("search", exists);
      skip("permission", false);
    } else {
      permissionCheck(type_ok);
    }
    peerCheck();
    backlogCheck();
    selinuxCheck();
    umaskCheck();
    pathSafeCheck();
    struct stat st {};
    if (!abstract_ && client().stat(endpoint_.path, st) == 0) {
      report_.file = EndpointFile{st.st_dev, st.st_ino, st.st_uid, st.st_mode};
    }
  }

 private:
  void add(const std::string& name, CheckStatus status, std::string evidence,
           std::string fix = "") {
    for (auto& check : report_.checks) {
      if (check.name == name) {
        return;  // already decided
      }
    }
    report_.checks.push_back(CheckResult{name, status, std::move(evidence), std::move(fix)});
  }

  void skip(const std::string& name, bool exists) {
    add(name, CheckStatus::kSkipped,
        exists ? "not evaluated: a parent directory cannot be searched"
               : "not evaluated: the path does not exist for the client");
  }

  const RootedView& client() const { return *client_; }
  // The server's view, else the agent's (the host's).
  RootedView serverView() const {
    return RootedView(server_pid_ != 0 ? procfs_ + "/" + std::to_string(server_pid_) + "/root"
                                       : "/");
  }

  void pathClean() {
    if (abstract_ || !hasUnclean(endpoint_.path)) {
      add("path_clean", CheckStatus::kPass, "no whitespace or control characters in the path");
      return;
    }
    const std::string clean = cleaned(endpoint_.path);
    const bool trailing = endpoint_.path.back() == ' ' || endpoint_.path.back() == '\t';
    add("path_clean", CheckStatus::kFail,
        std::string(trailing ? "path has a trailing space"
                             : "path has stray whitespace or "
                               "control characters") +
            ": '" + endpoint_.path + "'",
        "path has a " + std::string(trailing ? "trailing space" : "stray character") + ": use '" +
            clean + "' in the client's configuration");
  }

  bool existsCheck() {
    if (abstract_) {
      add("exists", CheckStatus::kNotApplicable, "abstract socket name: no file to find");
      return true;
    }
    if (client().lstat(endpoint_.path, lstat_) == 0) {
      add("exists", CheckStatus::kPass,
          "exists in the client's mount namespace mnt:[" + std::to_string(report_.identity.mnt_ns) +
              "]");
      return true;
    }
    const int err = errno;
    std::string evidence = "'" + endpoint_.path +
                           "' does not exist in the client's mount "
                           "namespace mnt:[" +
                           std::to_string(report_.identity.mnt_ns) + "] (" + std::strerror(err) +
                           ")";
    const std::string clean = cleaned(endpoint_.path);
    struct stat st {};
    if (clean != endpoint_.path && client().lstat(clean, st) == 0) {
      add("exists", CheckStatus::kFail, evidence + "; '" + clean + "' does",
          "path has a trailing space: use '" + clean + "'");
      return false;
    }
    // Where else is it? The server's namespace, else the agent's (the host's).
    const std::uint64_t other_ns =
        nsInode(server_pid_ != 0 ? procfs_ + "/" + std::to_string(server_pid_) + "/ns/mnt"
                                 : procfs_ + "/self/ns/mnt");
    if (other_ns != report_.identity.mnt_ns && serverView().lstat(endpoint_.path, st) == 0) {
      const std::string who =
          server_pid_ != 0 ? "the server (pid " + std::to_string(server_pid_) + ")" : "the host";
      const bool in_tmp =
          endpoint_.path.starts_with("/tmp/") || endpoint_.path.starts_with("/var/tmp/");
      evidence += "; it exists for " + who + " in mount namespace mnt:[" +
                  std::to_string(other_ns) + "]: a mount-namespace split" +
                  (in_tmp ? " (private /tmp, systemd PrivateTmp=)" : "");
      const std::string client =
          report_.identity.comm.empty() ? "the client" : report_.identity.comm;
      add("exists", CheckStatus::kFail, evidence,
          in_tmp ? "the client runs with a private /tmp: move the FIFO to /run/<server>/ or set "
                   "PrivateTmp=false for " +
                       client + ".service"
                 : "the client runs in its own mount namespace: make the path visible there "
                   "(bind-mount its directory) or move the endpoint to a shared directory");
      return false;
    }
    add("exists", CheckStatus::kFail, evidence,
        server_pid_ == 0 ? "nothing exists at the path: is the server running? It creates the "
                           "endpoint at start"
                         : "the server runs (pid " + std::to_string(server_pid_) +
                               ") but the path is missing: check the path in both "
                               "configurations");
    return false;
  }

  bool typeCheck() {
    struct stat target = lstat_;
    std::string via;
    if (S_ISLNK(lstat_.st_mode)) {
      if (client().stat(endpoint_.path, target) != 0) {
        add("type", CheckStatus::kFail, "a dangling symlink",
            "remove the symlink; let the "
            "server create the endpoint");
        return false;
      }
      via = "a symlink to ";
    }
    stat_ = target;
    const bool fifo = endpoint_.type == EndpointType::kFifo;
    const bool ok = fifo ? S_ISFIFO(target.st_mode) : S_ISSOCK(target.st_mode);
    const std::string seen = via + fileTypeName(target.st_mode);
    if (ok) {
      add("type", CheckStatus::kPass, "is " + seen);
      return true;
    }
    add("type", CheckStatus::kFail, "is " + seen + ", expected " + (fifo ? "a FIFO" : "a socket"),
        S_ISREG(target.st_mode)
            ? "a regular file was created in its place (e.g. by a write to the path while the "
              "server was down): remove it and restart the server"
            : "remove '" + endpoint_.path + "' and restart the server so it recreates it");
    return false;
  }

  bool searchCheck() {
    std::vector<AccessQuery> queries;
    const auto dirs = parentDirectories(endpoint_.path);
    for (const auto& dir : dirs) {
      queries.push_back({dir, X_OK});
    }
    queries.push_back({endpoint_.path, static_cast<int>(wantedBits(report_.access) & 6)});
    std::string error;
    const auto results = kernelAccess(procfs_, report_.identity, queries, error);
    if (!results) {
      add("search", CheckStatus::kFail, "the access helper failed: " + error);
      add("permission", CheckStatus::kFail, "the access helper failed: " + error);
      return false;
    }
    kernel_verdict_ = results->back();
    for (std::size_t i = 0; i < dirs.size(); ++i) {
      if ((*results)[i] == 0) {
        continue;
      }
      struct stat st {};
      client().stat(dirs[i], st);
      const auto acl = readAcl(client(), dirs[i]);
      const auto why = explainAccess({st.st_uid, st.st_gid, st.st_mode}, acl, report_.identity.uid,
                                     report_.identity.groups, 1);
      add("search", CheckStatus::kFail,
          "the kernel denies search (x) on " + dirs[i] + " (" + errnoText((*results)[i]) +
              "): owner " + std::to_string(st.st_uid) + " group " + std::to_string(st.st_gid) +
              " mode " + octal(st.st_mode) + "; " + why.rule,
          "setfacl -m u:" + report_.identity.user_name + ":x " + dirs[i] + "  (or chmod o+x " +
              dirs[i] + ")");
      return false;
    }
    add("search", CheckStatus::kPass,
        "every parent directory is searchable (" + std::to_string(dirs.size()) + " checked)");
    return true;
  }

  static std::string errnoText(int err) {
    return strerrorname_np(err) ? strerrorname_np(err) : std::to_string(err);
  }

  void permissionCheck(bool type_ok) {
    if (!type_ok) {
      add("permission", CheckStatus::kSkipped, "not evaluated: the path is not the expected type");
      return;
    }
    const unsigned wanted = wantedBits(report_.access);
    const auto acl = readAcl(client(), endpoint_.path);
    const auto why = explainAccess({stat_.st_uid, stat_.st_gid, stat_.st_mode}, acl,
                                   report_.identity.uid, report_.identity.groups, wanted);
    std::string evidence = "owner " + std::to_string(stat_.st_uid) + " group " +
                           std::to_string(stat_.st_gid) + " (" + groupName(stat_.st_gid) +
                           ") mode " + octal(stat_.st_mode) +
                           (acl.empty() ? ", no ACL" : ", ACL " + aclText(acl)) + "; needs " +
                           bitsText(wanted) + "; " + why.rule;
    if (kernel_verdict_ == 0) {
      add("permission", CheckStatus::kPass,
          "the kernel allows " + bitsText(wanted) + ": " + evidence);
      return;
    }
    std::string fix;
    const std::string& user = report_.identity.user_name;
    if (why.mask_blocks) {
      fix = "setfacl -m m::" + bitsText(wanted) + " " + endpoint_.path;
    } else if (!why.granting_groups.empty()) {
      fix = "usermod -aG " + groupName(why.granting_groups.front()) + " " + user +
            "  (then restart the client)";
    } else {
      fix = "setfacl -m u:" + user + ":" + bitsText(wanted) + " " + endpoint_.path;
    }
    add("permission", CheckStatus::kFail,
        "the kernel denies " + bitsText(wanted) + " (" + errnoText(kernel_verdict_) +
            "): " + evidence + (why.missing.empty() ? "" : "; missing bit: " + why.missing),
        fix);
  }

  void peerCheck() {
    if (endpoint_.type == EndpointType::kFifo) {
      fifoPeer();
    } else {
      socketPeer();
    }
  }

  void fifoPeer() {
    struct stat st {};
    if (client().stat(endpoint_.path, st) != 0 || !S_ISFIFO(st.st_mode)) {
      if (serverView().stat(endpoint_.path, st) != 0 || !S_ISFIFO(st.st_mode)) {
        add("peer", CheckStatus::kSkipped, "not evaluated: no FIFO at the path");
        return;
      }
    }
    const FileId id{st.st_dev, st.st_ino};
    const std::map<FileId, FifoHolders>* holders_read = nullptr;
    try {
      holders_read = &snapshot_.fifoHolders();
    } catch (const std::exception& e) {
      add("peer", CheckStatus::kFail,
          std::string("cannot tell who holds the FIFO open: ") + e.what());
      return;
    }
    const auto& holders = *holders_read;
    const bool wants_reader = report_.access != EndpointAccess::kRead;
    const auto it = holders.find(id);
    std::set<std::uint32_t> peers;
    if (it != holders.end()) {
      peers = wants_reader ? it->second.reader_pids : it->second.writer_pids;
    }
    peers.erase(report_.identity.pid);  // the client itself does not serve it
    report_.peers = static_cast<std::uint32_t>(peers.size());
    const std::string direction = wants_reader ? "reading" : "writing";
    if (peers.empty()) {
      const std::string server =
          !endpoint_.server.process.empty() ? endpoint_.server.process : std::string("the server");
      const std::string replaced = heldDeleted();
      if (!replaced.empty()) {
        add("peer", CheckStatus::kFail,
            "no process holds the FIFO open for " + direction + "; " + replaced +
                ": the FIFO was removed and replaced while the server ran",
            "restart " + server +
                " so that it opens the FIFO at the path again, and find who replaced it (the "
                "directory must be writable only by root and the server)");
        return;
      }
      add("peer", CheckStatus::kFail, "no process holds the FIFO open for " + direction,
          "no process " + std::string(wants_reader ? "reads" : "writes") + " this FIFO: is " +
              server + " running?");
      return;
    }
    judgePeers(peers, "held open for " + direction + " by ", "FIFO");
  }

  // The server's descriptors that name the endpoint's path as deleted: "the server (pid N)
  // holds the previous file (inode I, deleted) open", or "" when it holds none.
  std::string heldDeleted() const {
    if (server_pid_ == 0) {
      return "";
    }
    const std::string fd_dir = procfs_ + "/" + std::to_string(server_pid_) + "/fd";
    const std::string wanted = endpoint_.path + " (deleted)";
    DIR* dir = opendir(fd_dir.c_str());
    if (dir == nullptr) {
      return "";
    }
    std::string found;
    while (const dirent* entry = readdir(dir)) {
      char target[4096];
      const std::string link = fd_dir + "/" + entry->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target);
      if (n <= 0 || std::string_view(target, static_cast<std::size_t>(n)) != wanted) {
        continue;
      }
      struct stat st {};
      const std::string inode =
          ::stat(link.c_str(), &st) == 0 ? "inode " + std::to_string(st.st_ino) + ", " : "";
      found = "the server (pid " + std::to_string(server_pid_) + ") holds the previous file (" +
              inode + "now deleted) open on fd " + entry->d_name;
      break;
    }
    closedir(dir);
    return found;
  }

  // Whether `pid` is the configured server: any key of `server:` that is set matches (its pid
  // file names it or an ancestor, its comm, its executable, its systemd unit).
  bool isServer(std::uint32_t pid) {
    const auto& server = endpoint_.server;
    if (pid_file_pid_ != 0) {
      std::uint32_t at = pid;
      for (int depth = 0; depth < 64 && at > 1; ++depth) {
        if (at == pid_file_pid_) {
          return true;
        }
        const ProcessFacts* process = snapshot_.process(at);
        if (process == nullptr) {
          break;
        }
        at = process->ppid;
      }
    }
    const ProcessFacts* process = snapshot_.process(pid);
    if (process == nullptr) {
      return false;
    }
    return (!server.process.empty() && process->comm == server.process) ||
           (!server.exe.empty() && snapshot_.exeOf(pid) == server.exe) ||
           (!server.systemd_unit.empty() &&
            snapshot_.cgroupOf(pid).find("/" + server.systemd_unit + "\n") != std::string::npos);
  }

  bool hasServerConfig() const {
    const auto& server = endpoint_.server;
    return !server.process.empty() || !server.exe.empty() || !server.pid_file.empty() ||
           !server.systemd_unit.empty();
  }

  // The configured server in words: "opensips", "exe /usr/sbin/opensips", ...
  std::string expectedServer() const {
    const auto& server = endpoint_.server;
    std::string out;
    const auto add_part = [&](const std::string& part) {
      out += (out.empty() ? "" : " or ") + part;
    };
    if (!server.process.empty()) {
      add_part(server.process);
    }
    if (!server.exe.empty()) {
      add_part("exe " + server.exe);
    }
    if (!server.pid_file.empty()) {
      add_part(pid_file_pid_ != 0 ? "pid " + std::to_string(pid_file_pid_) + " (from " +
                                        server.pid_file + ") or its children"
                                  : "the pid in " + server.pid_file + " (none running)");
    }
    if (!server.systemd_unit.empty()) {
      add_part("unit " + server.systemd_unit);
    }
    return out;
  }

  // The service manager holding a socket-activated endpoint for its service (ListenStream=,
  // ListenFIFO=): pid 1, or a user's systemd.
  bool isServiceManager(std::uint32_t pid) {
    const ProcessFacts* process = snapshot_.process(pid);
    return pid == 1 || (process != nullptr && process->comm == "systemd");
  }

  // The serving processes against the configured server: every one must be it, and all of them
  // one instance of it (one process tree), or a write or a connection may reach the wrong one.
  void judgePeers(const std::set<std::uint32_t>& pids, const std::string& held,
                  const std::string& what) {
    const bool check_identity = hasServerConfig();
    std::string unexpected;
    std::string all;
    std::string manager;
    std::set<std::uint32_t> instances;  // the topmost server process of each serving tree
    for (const auto pid : pids) {
      if (isServiceManager(pid)) {
        const ProcessFacts* process = snapshot_.process(pid);
        manager = "pid " + std::to_string(pid) + " (" +
                  (process != nullptr ? process->comm : std::string("exited")) + ")";
        continue;
      }
      const ProcessFacts* process = snapshot_.process(pid);
      PeerProcess peer;
      peer.pid = pid;
      peer.comm = process != nullptr ? process->comm : std::string("exited");
      if (process != nullptr) {
        const Workload workload = workloadOfCgroupFile(snapshot_.cgroupOf(pid));
        peer.unit = workload.unit;
        peer.container_id = workload.container_id;
      }
      peer.expected = !check_identity || isServer(pid);
      const std::string workload = describeWorkload(peer.unit, peer.container_id);
      const std::string who = "pid " + std::to_string(pid) + " (" + peer.comm +
                              (workload.empty() ? "" : ", " + workload) + ")";
      all += (all.empty() ? "" : ", ") + who;
      if (!peer.expected) {
        unexpected += (unexpected.empty() ? "" : ", ") + who;
      } else if (check_identity) {
        std::uint32_t top = pid;
        for (int depth = 0; depth < 64; ++depth) {
          const ProcessFacts* at = snapshot_.process(top);
          if (at == nullptr || at->ppid <= 1 || isServiceManager(at->ppid) || !isServer(at->ppid)) {
            break;
          }
          top = at->ppid;
        }
        instances.insert(top);
      }
      report_.servers.push_back(std::move(peer));
    }
    const std::string activation =
        manager.empty() ? "" : "; also by the service manager " + manager + " (socket activation)";
    if (all.empty()) {
      add("peer", CheckStatus::kPass,
          held + "the service manager " + manager +
              " only (socket activation): the server starts on first use");
      return;
    }
    if (!unexpected.empty()) {
      add("peer", CheckStatus::kFail,
          held + unexpected + ", expected " + expectedServer() +
              (unexpected == all ? "" : "; all holders: " + all),
          "another program serves this " + what + ": stop " + unexpected +
              " (a client may be talking to it instead of the server), or correct the "
              "endpoint's `server:`");
      return;
    }
    if (instances.size() > 1) {
      std::string tops;
      for (const auto top : instances) {
        tops += (tops.empty() ? "" : ", ") + std::string("pid ") + std::to_string(top);
      }
      add("peer", CheckStatus::kFail,
          std::to_string(instances.size()) + " instances of " + expectedServer() + " (" + tops +
              ") serve one " + what + ": " + held + all +
              "; each write or connection reaches any one of them",
          "run one instance per endpoint: stop the extra one(s), or give each instance its own "
          "path");
      return;
    }
    add("peer", CheckStatus::kPass,
        held + all + (check_identity ? ", the configured server" : "") + activation);
  }

  void socketPeer() {
    SocketPeerQuery query;
    query.path = endpoint_.path;
    query.type = endpoint_.type;
    query.client_net_ns = report_.identity.net_ns;
    struct stat st {};
    if (!abstract_ && client().stat(endpoint_.path, st) == 0) {
      query.file = FileId{st.st_dev, st.st_ino};
    }
    auto result = checkSocketPeer(snapshot_.unixSockets(), query);
    report_.peers = result.peers;
    listener_ = std::move(result.listener);
    if (result.check.status == CheckStatus::kPass) {
      // Who holds the serving sockets: the processes that accept() the connections.
      std::set<std::uint32_t> pids;
      try {
        for (const auto inode : result.serving_inodes) {
          for (const auto pid : snapshot_.socketHolders(inode)) {
            pids.insert(pid);
          }
        }
      } catch (const std::exception& e) {
        add("peer", CheckStatus::kPass,
            result.check.evidence + " (who holds them is unknown: " + e.what() + ")");
        return;
      }
      pids.erase(report_.identity.pid);
      if (!pids.empty()) {
        judgePeers(pids, result.check.evidence + ", held by ", "socket");
        return;
      }
      result.check.evidence += " (held by no process of this pid namespace's view)";
    }
    add(result.check.name, result.check.status, std::move(result.check.evidence),
        std::move(result.check.fix));
  }

  void backlogCheck() {
    auto result = checkBacklog(endpoint_.type, listener_);
    add(result.name, result.status, std::move(result.evidence), std::move(result.fix));
  }

  void selinuxCheck() {
    SelinuxCheckInput input;
    input.enforce_path = sysfs_ + "/fs/selinux/enforce";
    input.active = access(input.enforce_path.c_str(), F_OK) == 0;
    input.path = endpoint_.path;
    if (input.active) {
      struct stat st {};
      if (!abstract_ && client().stat(endpoint_.path, st) == 0) {
        input.ino = st.st_ino;
      }
      char label[256] = {};
      const ssize_t n = abstract_ ? -1
                                  : client().getxattr(endpoint_.path, "security.selinux", label,
                                                      sizeof label - 1);
      input.file_label =
          n > 0 ? std::string(label, strnlen(label, static_cast<std::size_t>(n))) : "";
      if (report_.identity.pid != 0) {
        input.client_domain = selinuxContextOf(
            readSmallFile(procfs_ + "/" + std::to_string(report_.identity.pid) + "/attr/current"));
      }
      input.now_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    }
    // The recent denials matter only where SELinux is active.
    auto result =
        checkSelinux(input, input.active && denials_ != nullptr ? denials_->recent()
                                                                : std::vector<RecentDenial>{});
    add(result.name, result.status, std::move(result.evidence), std::move(result.fix));
  }

  void umaskCheck() {
    std::string evidence;
    if (server_pid_ != 0) {
      const auto status =
          parseProcStatus(readSmallFile(procfs_ + "/" + std::to_string(server_pid_) + "/status"));
      if (status && status->umask) {
        evidence = "server pid " + std::to_string(server_pid_) + " umask " + octal(*status->umask);
      }
    }
    if (abstract_ || stat_.st_mode == 0) {
      add("umask_mode", CheckStatus::kNotApplicable,
          evidence.empty() ? "no file mode to inspect" : evidence);
      return;
    }
    evidence +=
        (evidence.empty() ? "" : "; ") + std::string("endpoint mode ") + octal(stat_.st_mode);
    if ((stat_.st_mode & S_IWOTH) != 0) {
      add("umask_mode", CheckStatus::kWarn,
          evidence +
              ": world-writable, any local user can "
              "talk to the server",
          "chmod o-w " + endpoint_.path + " and grant the clients through a group or ACL");
      return;
    }
    add("umask_mode", CheckStatus::kPass, evidence);
  }

  // `path_safe`: no one but root and the endpoint's owner can swap the endpoint or a directory
  // on its path. A directory is unsafe when someone else owns it, or may write it (mode bits or
  // ACL) without the sticky bit; a symlink on the way is unsafe when someone else owns it (its
  // directory, checked before it, must be safe too). Seen as the client resolves the path.
  void pathSafeCheck() {
    if (abstract_) {
      add("path_safe", CheckStatus::kNotApplicable,
          "abstract socket name: no file or directory to swap");
      return;
    }
    struct stat target {};
    std::uint32_t owner = 0;
    if (client().stat(endpoint_.path, target) == 0) {
      owner = target.st_uid;
    } else if (server_pid_ != 0) {
      if (const ProcessFacts* server = snapshot_.process(server_pid_)) {
        owner = server->euid;
      }
    }
    const std::string owner_name = userNameOf(owner);
    const auto trusted = [&](std::uint32_t uid) { return uid == 0 || uid == owner; };
    const std::string trusted_text = owner == 0 ? std::string("root") : "root and " + owner_name;
    const auto fail = [&](const std::string& component, const std::string& why) {
      const std::string dir = endpoint_.path.substr(0, endpoint_.path.rfind('/'));
      add("path_safe", CheckStatus::kFail,
          component + " " + why +
              ": whoever may write it can swap the endpoint for their own, and a client would "
              "then talk to their program",
          "move the endpoint to a directory only " + trusted_text +
              " can write, such as /run/<service>/ (owned by " + owner_name +
              ", mode 0755), or make " + (component == endpoint_.path ? dir : component) +
              " writable only by " + trusted_text);
    };
    std::vector<std::string> components = parentDirectories(endpoint_.path);
    components.push_back(endpoint_.path);
    std::string via;
    for (std::size_t i = 0; i < components.size(); ++i) {
      const std::string& component = components[i];
      const bool last = i + 1 == components.size();
      struct stat link {};
      if (client().lstat(component, link) != 0) {
        break;  // the rest does not exist (the exists check says so)
      }
      if (S_ISLNK(link.st_mode)) {
        if (!trusted(link.st_uid)) {
          fail(component, "is a symlink owned by " + userNameOf(link.st_uid));
          return;
        }
        via += (via.empty() ? "" : ", ") + component + " (a symlink of " + userNameOf(link.st_uid) +
               ")";
      }
      if (last) {
        break;
      }
      struct stat dir {};
      if (client().stat(component, dir) != 0 || !S_ISDIR(dir.st_mode)) {
        break;
      }
      if (!trusted(dir.st_uid)) {
        fail(component, "is a directory owned by " + userNameOf(dir.st_uid));
        return;
      }
      if ((dir.st_mode & S_ISVTX) != 0) {
        continue;  // sticky: only an entry's owner (or the directory's) may rename or remove it
      }
      if ((dir.st_mode & S_IWOTH) != 0) {
        fail(component, "is a directory every user may write (mode " + octal(dir.st_mode) +
                            ", no sticky bit)");
        return;
      }
      if ((dir.st_mode & S_IWGRP) != 0 && groupHasOthers(dir.st_gid, owner)) {
        fail(component, "is a directory group " + groupName(dir.st_gid) + " may write (mode " +
                            octal(dir.st_mode) + ", no sticky bit)");
        return;
      }
      for (const auto& entry : readAcl(client(), component)) {
        if ((entry.perm & 2) == 0) {
          continue;
        }
        if (entry.tag == AclEntry::Tag::kUser && !trusted(entry.id)) {
          fail(component,
               "is a directory user " + userNameOf(entry.id) + " may write (ACL, no sticky bit)");
          return;
        }
        if (entry.tag == AclEntry::Tag::kGroup && groupHasOthers(entry.id, owner)) {
          fail(component,
               "is a directory group " + groupName(entry.id) + " may write (ACL, no sticky bit)");
          return;
        }
      }
    }
    add("path_safe", CheckStatus::kPass,
        "only " + trusted_text + " can replace the endpoint or a directory on its path" +
            (via.empty() ? "" : "; through " + via));
  }

  // Whether a user other than root and `owner` is in group `gid` (as a member or by their
  // primary group), in the agent's user database.
  static bool groupHasOthers(std::uint32_t gid, std::uint32_t owner) {
    if (gid == 0) {
      return false;
    }
    const auto other = [owner](std::uint32_t uid) { return uid != 0 && uid != owner; };
    // The user database is read with calls that share state: one check at a time.
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (const group* gr = getgrgid(gid); gr != nullptr) {
      for (char** member = gr->gr_mem; member != nullptr && *member != nullptr; ++member) {
        const passwd* pw = getpwnam(*member);
        if (pw == nullptr || other(pw->pw_uid)) {
          return true;
        }
      }
    }
    bool found = false;
    setpwent();
    while (const passwd* pw = getpwent()) {
      if (pw->pw_gid == gid && other(pw->pw_uid)) {
        found = true;
        break;
      }
    }
    endpwent();
    return found;
  }

  const std::string& procfs_;
  const std::string& sysfs_;
  const DenialStore* denials_;
  HostSnapshot& snapshot_;
  EndpointReport& report_;
  const EndpointConfig& endpoint_;
  std::uint32_t server_pid_ = 0;
  std::uint32_t pid_file_pid_ = 0;  // the running process the pid file names, 0 when none
  bool abstract_ = false;
  struct stat lstat_ {};
  struct stat stat_ {};
  int kernel_verdict_ = EACCES;
  std::optional<UnixSocket> listener_;
  std::optional<RootedView> client_;
};

}  // namespace

std::string_view checkStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kNotApplicable:
      return "not_applicable";
    case CheckStatus::kSkipped:
      return "skipped";
  }
  return "skipped";
}

bool isSafetyCheck(const std::string& name) {
  return name == "path_safe";
}

const std::vector<std::string>& endpointCheckNames() {
  static const std::vector<std::string> names = {"path_clean", "exists",   "type",    "search",
                                                 "permission", "peer",     "backlog", "selinux",
                                                 "umask_mode", "path_safe"};
  return names;
}

EndpointChecker::EndpointChecker(std::string procfs, std::string sysfs, const DenialStore* denials)
    : procfs_(std::move(procfs)), sysfs_(std::move(sysfs)), denials_(denials) {}

EndpointReport EndpointChecker::check(const EndpointConfig& endpoint,
                                      const EndpointClientConfig& client,
                                      HostSnapshot& snapshot) const {
  return checkAs(endpoint, client.name, client.access,
                 resolveClient(snapshot, client.process, client.user), snapshot);
}

EndpointReport EndpointChecker::checkAs(const EndpointConfig& endpoint,
                                        const std::string& client_name, EndpointAccess access,
                                        ClientIdentity identity, HostSnapshot& snapshot) const {
  EndpointReport report;
  report.endpoint = endpoint.name;
  report.client = client_name;
  report.path = endpoint.path;
  report.type = endpoint.type;
  report.access = access;
  report.identity = std::move(identity);
  CheckRun(procfs_, sysfs_, denials_, snapshot, report, endpoint).run();
  // In the documented order, whatever order they were decided in.
  std::vector<CheckResult> ordered;
  for (const auto& name : endpointCheckNames()) {
    for (auto& check : report.checks) {
      if (check.name == name) {
        ordered.push_back(std::move(check));
      }
    }
  }
  report.checks = std::move(ordered);
  // An endpoint others could swap still answers: path_safe fails, reachability stands.
  report.reachable = std::none_of(report.checks.begin(), report.checks.end(), [](const auto& c) {
    return (c.status == CheckStatus::kFail || c.status == CheckStatus::kSkipped) &&
           !isSafetyCheck(c.name);
  });
  return report;
}

}  // namespace ipcwatch
