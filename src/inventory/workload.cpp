#include "inventory/workload.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include <spdlog/spdlog.h>

#include "inventory/proc_file.h"
#include "util/unique_fd.h"

namespace ipcwatch {
namespace {

constexpr std::size_t kContainerIdLength = 64;
constexpr std::size_t kShortContainerId = 12;

bool isLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool isContainerId(std::string_view text) {
  return text.size() == kContainerIdLength && isLowerHex(text);
}

// 8-4-4-4-12 lowercase hex: the shape of the UIDs the API server assigns.
bool isPodUid(std::string_view text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position != (text[i] == '-')) {
      return false;
    }
  }
  std::string digits(text);
  digits.erase(std::remove(digits.begin(), digits.end(), '-'), digits.end());
  return isLowerHex(digits);
}

bool isQosClass(std::string_view name) {
  return name == "burstable" || name == "besteffort";
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> components;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    const std::string_view component = path.substr(0, slash);
    if (!component.empty()) {
      components.push_back(component);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return components;
}

enum class ScopeKind { kOther, kContainer, kMonitor };

// "<runtime>-<64 hex>.scope" is a container made by the systemd cgroup driver; the conmon
// scopes hold CRI-O's and Podman's per-container monitor process, which is neither.
ScopeKind containerScope(std::string_view component, std::string_view* id) {
  constexpr std::string_view kScope = ".scope";
  if (!component.ends_with(kScope)) {
    return ScopeKind::kOther;
  }
  const std::string_view stem = component.substr(0, component.size() - kScope.size());
  for (const std::string_view prefix : {"crio-conmon-", "libpod-conmon-"}) {
    if (stem.starts_with(prefix) && isContainerId(stem.substr(prefix.size()))) {
      return ScopeKind::kMonitor;
    }
  }
  for (const std::string_view prefix : {"docker-", "cri-containerd-", "crio-", "libpod-"}) {
    if (stem.starts_with(prefix) && isContainerId(stem.substr(prefix.size()))) {
      *id = stem.substr(prefix.size());
      return ScopeKind::kContainer;
    }
  }
  return ScopeKind::kOther;
}

// The systemd driver's pod slice: systemd escapes '-' in a slice name's parts, so the kubelet
// writes the UID with '_' ("kubepods-burstable-pod1234abcd_..._.slice").
std::optional<std::string> systemdPodUid(std::string_view component) {
  constexpr std::string_view kSlice = ".slice";
  if (!component.ends_with(kSlice)) {
    return std::nullopt;
  }
  const std::string_view stem = component.substr(0, component.size() - kSlice.size());
  for (const std::string_view prefix :
       {"kubepods-pod", "kubepods-burstable-pod", "kubepods-besteffort-pod"}) {
    if (!stem.starts_with(prefix)) {
      continue;
    }
    const std::string_view escaped = stem.substr(prefix.size());
    if (escaped.find('-') != std::string_view::npos) {
      return std::nullopt;
    }
    std::string uid(escaped);
    std::replace(uid.begin(), uid.end(), '_', '-');
    return isPodUid(uid) ? std::optional<std::string>(std::move(uid)) : std::nullopt;
  }
  return std::nullopt;
}

// kubepods, or a QoS class directly under kubepods: where the cgroupfs driver puts pods.
bool isCgroupfsPodParent(const std::vector<std::string_view>& components, std::size_t i) {
  return components[i] == "kubepods" ||
         (i > 0 && isQosClass(components[i]) && components[i - 1] == "kubepods");
}

bool isUnitName(std::string_view component) {
  for (const std::string_view suffix : {".service", ".scope"}) {
    if (component.size() > suffix.size() && component.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

std::string_view shortId(std::string_view id) {
  return id.substr(0, kShortContainerId);
}

}  // namespace

Workload workloadFromCgroupPath(std::string_view path) {
  const std::vector<std::string_view> components = splitPath(path);
  Workload workload;
  std::vector<bool> cgroupfs_pod(components.size(), false);
  for (std::size_t i = 0; i < components.size(); ++i) {
    const std::string_view component = components[i];
    const bool has_parent = i > 0;
    if (auto uid = systemdPodUid(component)) {
      workload.pod_uid = std::move(*uid);
      continue;
    }
    if (has_parent && component.starts_with("pod") && isPodUid(component.substr(3)) &&
        isCgroupfsPodParent(components, i - 1)) {
      workload.pod_uid = std::string(component.substr(3));
      cgroupfs_pod[i] = true;
      continue;
    }
    if (isContainerId(component)) {
      if (has_parent && (components[i - 1] == "docker" || cgroupfs_pod[i - 1] ||
                         isCgroupfsPodParent(components, i - 1))) {
        workload.container_id = std::string(shortId(component));
      }
      continue;
    }
    std::string_view id;
    switch (containerScope(component, &id)) {
      case ScopeKind::kContainer:
        workload.container_id = std::string(shortId(id));
        continue;
      case ScopeKind::kMonitor:
        continue;
      case ScopeKind::kOther:
        break;
    }
    if (!isUnitName(component)) {
      continue;
    }
    // init.scope under user@N.service holds the user's systemd itself: the user manager is
    // the workload an engineer knows, not its internal scope.
    const bool user_manager = has_parent && component == "init.scope" &&
                              components[i - 1].starts_with("user@") &&
                              components[i - 1].ends_with(".service");
    workload.unit = std::string(user_manager ? components[i - 1] : component);
  }
  return workload;
}

// --- WorkloadResolver --------------------------------------------------------------------

namespace {

std::optional<timespec> directoryMtime(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return std::nullopt;
  }
  return st.st_mtim;
}

bool sameTime(const std::optional<timespec>& a, const std::optional<timespec>& b) {
  if (!a || !b) {
    return a.has_value() == b.has_value();
  }
  return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

}  // namespace

WorkloadResolver::WorkloadResolver(std::string cgroup_root, std::string pod_logs,
                                   std::string controller,
                                   std::chrono::milliseconds min_walk_interval)
    : cgroup_root_(std::move(cgroup_root)),
      pod_logs_(std::move(pod_logs)),
      controller_(std::move(controller)),
      min_walk_interval_(min_walk_interval) {}

Workload WorkloadResolver::resolve(std::uint64_t cgroup_id) {
  if (cgroup_id == 0) {
    return {};
  }
  const std::lock_guard lock(mutex_);
  if (const auto memo = memo_.find(cgroup_id); memo != memo_.end()) {
    if (!memo->second.pod_uid.empty() && memo->second.pod.empty()) {
      fillPodLocked(memo->second);  // the kubelet may have made the log directory since
    }
    return memo->second;
  }
  const std::optional<std::string> path = pathLocked(cgroup_id);
  if (!path) {
    return {};
  }
  Workload workload = workloadFromCgroupPath(*path);
  fillPodLocked(workload);
  if (memo_.size() >= kMaxRemembered) {
    memo_.clear();
  }
  memo_.emplace(cgroup_id, workload);
  return workload;
}

Workload WorkloadResolver::resolvePath(std::string_view path) {
  Workload workload = workloadFromCgroupPath(path);
  if (!workload.pod_uid.empty()) {
    const std::lock_guard lock(mutex_);
    fillPodLocked(workload);
  }
  return workload;
}

namespace {

// A line of /proc/<pid>/cgroup: hierarchy-ID:controller-list:path (the path may hold ':').
struct CgroupLine {
  std::string_view id;
  std::string_view controllers;
  std::string_view path;
};

std::vector<CgroupLine> cgroupLines(std::string_view text) {
  std::vector<CgroupLine> lines;
  for (const std::string_view line : splitOn(text, '\n')) {
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second != std::string_view::npos) {
      lines.push_back({line.substr(0, first), line.substr(first + 1, second - first - 1),
                       line.substr(second + 1)});
    }
  }
  return lines;
}

}  // namespace

std::optional<std::string> cgroupPathIn(std::string_view text, std::string_view controller) {
  for (const CgroupLine& line : cgroupLines(text)) {
    if (controller.empty() ? line.id == "0" && line.controllers.empty()
                           : std::ranges::count(splitOn(line.controllers, ','), controller) > 0) {
      return std::string(line.path);
    }
  }
  return std::nullopt;
}

Workload workloadOfCgroupFile(std::string_view text) {
  for (const std::string_view controller : {"", "name=systemd", "pids"}) {
    if (const auto path = cgroupPathIn(text, controller)) {
      Workload workload = workloadFromCgroupPath(*path);
      if (!workload.unit.empty() || !workload.container_id.empty()) {
        return workload;
      }
    }
  }
  for (const CgroupLine& line : cgroupLines(text)) {
    Workload workload = workloadFromCgroupPath(line.path);
    if (!workload.unit.empty() || !workload.container_id.empty()) {
      return workload;
    }
  }
  return {};
}

std::string describeWorkload(const std::string& unit, const std::string& container_id) {
  return container_id.empty() ? unit : "container " + container_id;
}

std::optional<std::string> WorkloadResolver::cgroupPath(std::uint64_t cgroup_id) {
  if (cgroup_id == 0) {
    return std::nullopt;
  }
  const std::lock_guard lock(mutex_);
  return pathLocked(cgroup_id);
}

std::optional<std::string> WorkloadResolver::pathLocked(std::uint64_t cgroup_id) {
  if (auto path = pathFromNodes(cgroup_id)) {
    return path;
  }
  const auto now = std::chrono::steady_clock::now();
  if (const auto miss = misses_.find(cgroup_id);
      miss != misses_.end() && now - miss->second < kMissRetry) {
    return std::nullopt;
  }
  // A cgroup made since the last walk (the first question finds none yet); but one walk serves
  // every question of a scrape.
  if (nodes_.empty() || now - last_walk_ >= min_walk_interval_) {
    walkLocked();
    last_walk_ = now;
    if (auto path = pathFromNodes(cgroup_id)) {
      misses_.erase(cgroup_id);
      return path;
    }
  }
  // Gone before it was asked: remember it, or every scrape would walk again for it.
  if (misses_.size() >= kMaxRemembered) {
    misses_.clear();
  }
  misses_[cgroup_id] = now;
  return std::nullopt;
}

std::optional<std::string> WorkloadResolver::pathFromNodes(std::uint64_t cgroup_id) const {
  if (nodes_.empty()) {
    return std::nullopt;
  }
  if (cgroup_id == root_id_) {
    return "/";
  }
  std::vector<const std::string*> names;
  std::uint64_t id = cgroup_id;
  // The bound guards against a parent loop from directories renamed during the walk.
  while (id != root_id_ && names.size() <= static_cast<std::size_t>(kMaxDepth)) {
    const auto node = nodes_.find(id);
    if (node == nodes_.end()) {
      return std::nullopt;
    }
    names.push_back(&node->second.name);
    id = node->second.parent;
  }
  if (id != root_id_) {
    return std::nullopt;
  }
  std::string path;
  for (auto name = names.rbegin(); name != names.rend(); ++name) {
    path += '/';
    path += **name;
  }
  return path;
}

void WorkloadResolver::walkLocked() {
  walks_.fetch_add(1, std::memory_order_relaxed);
  nodes_.clear();
  root_id_ = 0;
  UniqueFd root(open(cgroup_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!root.valid() || fstat(root.get(), &st) != 0) {
    if (!warned_unreadable_) {
      spdlog::warn("cannot open the cgroup hierarchy at {}: {}; workload labels stay empty",
                   cgroup_root_, std::strerror(errno));
      warned_unreadable_ = true;
    }
    return;
  }
  root_id_ = st.st_ino;
  nodes_.emplace(root_id_, Node{0, ""});
  walkDirectory(root.release(), st.st_dev, root_id_, 0);
  if (nodes_.size() >= kMaxDirectories && !warned_truncated_) {
    spdlog::warn("more than {} cgroups under {}: the rest get no workload labels", kMaxDirectories,
                 cgroup_root_);
    warned_truncated_ = true;
  }
}

// Takes the directory fd. Opens each child with O_NOFOLLOW and stays on the hierarchy's file
// system, so a symlink or a mount inside the tree cannot lead the walk elsewhere.
void WorkloadResolver::walkDirectory(int dir_fd, dev_t dev, std::uint64_t dir_id, int depth) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return;
  }
  while (nodes_.size() < kMaxDirectories) {
    const dirent* entry = readdir(dir);
    if (entry == nullptr) {
      break;
    }
    const std::string_view name = entry->d_name;
    if ((entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) || name == "." || name == "..") {
      continue;  // cgroupfs gives d_type, so its many control files cost no system call
    }
    UniqueFd child(
        openat(dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!child.valid() || fstat(child.get(), &st) != 0 || st.st_dev != dev) {
      continue;  // removed meanwhile, a symlink, or another mount
    }
    nodes_.try_emplace(st.st_ino, Node{dir_id, std::string(name)});
    if (depth + 1 < kMaxDepth) {
      walkDirectory(child.release(), dev, st.st_ino, depth + 1);
    }
  }
  closedir(dir);
}

void WorkloadResolver::fillPodLocked(Workload& workload) {
  if (workload.pod_uid.empty()) {
    return;
  }
  auto pod = pods_.find(workload.pod_uid);
  if (pod == pods_.end()) {
    const std::optional<timespec> mtime = directoryMtime(pod_logs_);
    if (!pods_scanned_ || pods_rescan_anyway_ || !sameTime(mtime, pods_mtime_)) {
      scanPodLogsLocked(mtime);
      pod = pods_.find(workload.pod_uid);
    }
  }
  if (pod != pods_.end()) {
    workload.pod_namespace = pod->second.first;
    workload.pod = pod->second.second;
  }
}

// `mtime` is taken before listing, so an entry added during the listing changes it again.
void WorkloadResolver::scanPodLogsLocked(const std::optional<timespec>& mtime) {
  pods_.clear();
  pods_scanned_ = true;
  pods_mtime_ = mtime;
  pods_rescan_anyway_ = false;
  if (!mtime) {
    return;  // not a Kubernetes node, or the kubelet keeps its logs elsewhere
  }
  // File times advance in clock ticks, so a directory added in the tick of this scan would
  // leave the mtime as it is now: until the mtime is older than that, a miss rescans anyway.
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  pods_rescan_anyway_ = now.tv_sec - mtime->tv_sec <= 1;
  DIR* dir = opendir(pod_logs_.c_str());
  if (dir == nullptr) {
    return;
  }
  while (const dirent* entry = readdir(dir)) {
    if (pods_.size() >= kMaxRemembered) {
      break;
    }
    // <namespace>_<name>_<uid>: neither a namespace nor a pod name can contain '_'.
    const std::vector<std::string_view> parts = splitOn(entry->d_name, '_');
    if (parts.size() != 3 ||
        std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
      continue;
    }
    pods_.try_emplace(std::string(parts[2]), std::string(parts[0]), std::string(parts[1]));
  }
  closedir(dir);
}

}  // namespace ipcwatch
