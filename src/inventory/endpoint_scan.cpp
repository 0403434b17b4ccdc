#include "inventory/endpoint_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kAclXattr = "system.posix_acl_access";

bool writableByOthersWithoutSticky(mode_t dir_mode) {
  return (dir_mode & S_IWOTH) != 0 && (dir_mode & S_ISVTX) == 0;
}

DirectoryAccess accessOf(const struct stat& st, bool has_acl) {
  return {st.st_uid, st.st_gid, st.st_mode, has_acl};
}

// The directories above `root`, from /, along its real path (the one every lookup of it goes
// through, symlinks resolved). One that cannot be read is left out, as if it let everyone in.
std::vector<DirectoryAccess> ancestorsOf(const std::string& root) {
  char* resolved = realpath(root.c_str(), nullptr);
  if (resolved == nullptr) {
    return {};
  }
  const std::string real = resolved;
  free(resolved);
  std::vector<DirectoryAccess> chain;
  std::vector<std::string> above;
  if (real != "/") {
    above.emplace_back("/");
  }
  for (std::size_t slash = real.find('/', 1); slash != std::string::npos;
       slash = real.find('/', slash + 1)) {
    above.push_back(real.substr(0, slash));
  }
  for (const auto& dir : above) {
    struct stat st {};
    if (stat(dir.c_str(), &st) == 0) {
      chain.push_back(accessOf(st, getxattr(dir.c_str(), kAclXattr, nullptr, 0) > 0));
    }
  }
  return chain;
}

// Whether only root, the file's owner and its group's members may search `dir`.
bool letsOnlyOwnerAndGroupThrough(const DirectoryAccess& dir, uid_t owner, gid_t group) {
  if ((dir.mode & S_IXOTH) != 0) {
    return false;
  }
  if ((dir.mode & S_IXUSR) != 0 && dir.uid != 0 && dir.uid != owner) {
    return false;
  }
  return (dir.mode & S_IXGRP) == 0 || (!dir.has_acl && dir.gid == group);
}

class Walker {
 public:
  Walker(const EndpointScanOptions& options, EndpointScan& result)
      : options_(options), result_(result) {}

  void walkRoot(const std::string& root) {
    // The configured root itself may be a symlink (/var/run -> /run): the administrator chose
    // it. Nothing below it is followed.
    UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() || fstat(fd.get(), &st) != 0) {
      spdlog::debug("endpoint scan: skipping {}: {}", root, std::strerror(errno));
      return;
    }
    if (!visited_.insert({st.st_dev, st.st_ino}).second) {
      return;  // already walked under another root
    }
    result_.roots_scanned.push_back(root);
    root_ = &root;
    root_dev_ = st.st_dev;
    path_ = ancestorsOf(root);
    std::string base = root;
    while (!base.empty() && base.back() == '/') {
      base.pop_back();  // "/" and "/run/" give "/x" and "/run/x", not "//x"
    }
    walkDirectory(std::move(fd), base, st, 0);
  }

 private:
  bool outOfTime() {
    if (!result_.out_of_time && Clock::now() >= options_.deadline) {
      result_.out_of_time = true;
    }
    return result_.out_of_time;
  }

  void walkDirectory(UniqueFd fd, const std::string& path, const struct stat& st,
                     std::uint32_t depth) {
    const bool has_acl = fgetxattr(fd.get(), kAclXattr, nullptr, 0) > 0;
    DIR* dir = fdopendir(fd.get());
    if (dir == nullptr) {
      return;
    }
    fd.release();  // owned by `dir` now
    const int dir_fd = dirfd(dir);
    const bool unsafe = writableByOthersWithoutSticky(st.st_mode);
    path_.push_back(accessOf(st, has_acl));
    while (const dirent* entry = readdir(dir)) {
      if (outOfTime()) {
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      const unsigned char type = entry->d_type;
      if (type == DT_DIR) {
        if (depth < options_.max_depth) {
          enterDirectory(dir_fd, entry->d_name, path, depth + 1);
        }
      } else if (type == DT_SOCK || type == DT_FIFO || type == DT_UNKNOWN) {
        examine(dir_fd, entry->d_name, path, unsafe, depth);
      }
    }
    path_.pop_back();
    closedir(dir);
  }

  void enterDirectory(int parent_fd, const char* name, const std::string& parent_path,
                      std::uint32_t depth) {
    UniqueFd fd(
        openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() || fstat(fd.get(), &st) != 0 || st.st_dev != root_dev_) {
      return;  // gone, not a directory (a symlink swapped in), or another filesystem
    }
    if (!visited_.insert({st.st_dev, st.st_ino}).second) {
      return;
    }
    walkDirectory(std::move(fd), parent_path + "/" + name, st, depth);
  }

  void examine(int dir_fd, const char* name, const std::string& dir_path, bool unsafe,
               std::uint32_t depth) {
    struct stat st {};
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return;
    }
    if (S_ISDIR(st.st_mode)) {  // DT_UNKNOWN on filesystems without d_type
      if (depth < options_.max_depth) {
        enterDirectory(dir_fd, name, dir_path, depth + 1);
      }
      return;
    }
    if (!S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      return;
    }
    FoundEndpoint found;
    found.root = *root_;
    found.path = dir_path + "/" + name;
    found.kind = S_ISSOCK(st.st_mode) ? EndpointKind::kSocket : EndpointKind::kFifo;
    found.id = {st.st_dev, st.st_ino};
    found.mode = st.st_mode;
    // Anyone may replace an endpoint in such a directory, if they can get to it at all.
    found.in_unsafe_dir = unsafe && othersCanReach(path_, st.st_uid, st.st_gid);
    found.reachable_by_others = st.st_nlink > 1 || othersCanReach(path_, st.st_uid, st.st_gid);
    result_.endpoints.push_back(std::move(found));
  }

  const EndpointScanOptions& options_;
  EndpointScan& result_;
  std::set<FileId> visited_;
  const std::string* root_ = nullptr;
  dev_t root_dev_ = 0;
  std::vector<DirectoryAccess> path_;  // from / down to the directory being walked
};

}  // namespace

bool othersCanReach(const std::vector<DirectoryAccess>& path, uid_t owner, gid_t group) {
  return std::none_of(path.begin(), path.end(), [&](const DirectoryAccess& dir) {
    return letsOnlyOwnerAndGroupThrough(dir, owner, group);
  });
}

std::string_view endpointKindName(EndpointKind kind) {
  return kind == EndpointKind::kFifo ? "fifo" : "socket";
}

EndpointScan scanForEndpoints(const EndpointScanOptions& options) {
  EndpointScan result;
  Walker walker(options, result);
  for (const auto& root : options.roots) {
    if (result.out_of_time) {
      break;
    }
    walker.walkRoot(root);
  }
  return result;
}

}  // namespace ipcwatch
