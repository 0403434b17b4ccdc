#include "inventory/ipc_namespaces.h"
#include "util/proc_entry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "inventory/parsers/ipc_parsers.h"
#include "util/unique_fd.h"

namespace ipcwatch {

std::vector<IpcNamespace> listIpcNamespaces(const std::string& procfs) {
  DIR* dir = opendir(procfs.c_str());
  if (dir == nullptr) {
    throw std::runtime_error("cannot list " + procfs + ": " + std::strerror(errno));
  }
  std::map<std::uint64_t, pid_t> found;
  while (const dirent* entry = readdir(dir)) {
    if (!isProcNumber(entry->d_name)) {
      continue;
    }
    const std::string link = procfs + "/" + entry->d_name + "/ns/ipc";
    char target[64];
    const ssize_t n = readlink(link.c_str(), target, sizeof target);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target) {
      continue;  // exited, or a kernel thread without namespaces to show
    }
    if (const auto inode = parseNamespaceLink(std::string_view(target, n), "ipc")) {
      found.try_emplace(*inode, static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10)));
    }
  }
  closedir(dir);
  std::vector<IpcNamespace> namespaces;
  for (const auto& [inode, pid] : found) {
    namespaces.push_back({inode, pid, std::nullopt});
  }
  return namespaces;
}

int openMqueueMount() {
  const int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
  if (fs < 0) {
    return -1;
  }
  const UniqueFd fs_fd(fs);
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return -1;
  }
  const UniqueFd mount(
      fsmount(fs, FSMOUNT_CLOEXEC,
              MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (mount.get() < 0) {
    return -1;
  }
  // The mount fd only names the root (like O_PATH); a listable fd keeps the detached mount
  // alive until it is closed.
  return openat(mount.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void SetnsIpcNamespaceVisitor::visit(const std::function<void(const IpcNamespaceView&)>& read) {
  const auto namespaces = list_ ? list_() : listIpcNamespaces(procfs_);
  std::exception_ptr failure;
  std::thread helper([&] {
    try {
      visitAll(namespaces, read);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  helper.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// Called in the helper thread while it is inside namespace `inode`, so a new mount is of that
// namespace's mqueue instance. The fd handed out is a new one on the kept mount.
int SetnsIpcNamespaceVisitor::mqueueDir(std::uint64_t inode) {
  auto [it, inserted] = mqueue_mounts_.try_emplace(inode);
  if (inserted) {
    it->second.dir.reset(openMqueueMount());
    it->second.error = it->second.dir.valid() ? 0 : errno;
  }
  if (!it->second.dir.valid()) {
    errno = it->second.error;
    return -1;
  }
  return openat(it->second.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// Runs in the helper thread only: it is left in the last namespace and then exits.
void SetnsIpcNamespaceVisitor::visitAll(const std::vector<IpcNamespace>& namespaces,
                                        const std::function<void(const IpcNamespaceView&)>& read) {
  // Mounts of namespaces that are gone are let go of, so that they cannot keep one alive.
  std::set<std::uint64_t> listed;
  for (const auto& ns : namespaces) {
    listed.insert(ns.inode);
  }
  std::erase_if(mqueue_mounts_, [&](const auto& entry) { return !listed.contains(entry.first); });
  const auto view = [this](const IpcNamespace& ns) {
    const std::uint64_t inode = ns.inode;
    return IpcNamespaceView{inode, procfs_, [this, inode] { return mqueueDir(inode); },
                            /*inside=*/true, ns.mqueue_limits};
  };
  // The namespace this thread is in now: no setns (and so no privilege) is needed to read it.
  struct stat self {};
  std::uint64_t current = stat("/proc/thread-self/ns/ipc", &self) == 0 ? self.st_ino : 0;
  for (const auto& ns : namespaces) {
    if (ns.inode == current) {
      read(view(ns));
      continue;
    }
    const std::string link = procfs_ + "/" + std::to_string(ns.pid) + "/ns/ipc";
    const UniqueFd fd(open(link.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    // The pid may have exited and been reused since the listing: enter only the namespace
    // that was listed.
    if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || st.st_ino != ns.inode) {
      spdlog::debug("IPC namespace {} is gone (pid {} exited)", ns.inode, ns.pid);
      continue;
    }
    if (setns(fd.get(), CLONE_NEWIPC) != 0) {
      if (!warned_) {
        spdlog::warn(
            "cannot enter IPC namespace {} through {}: {}; namespaces other than the "
            "agent's own are skipped (run as root)",
            ns.inode, link, std::strerror(errno));
        warned_ = true;
      }
      continue;
    }
    current = ns.inode;
    read(view(ns));
  }
}

}  // namespace ipcwatch
