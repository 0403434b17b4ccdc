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

// --- detectCgroupHierarchy ---------------------------------------------------------------

std::string CgroupHierarchy::describe() const {
  if (subsys_id < 0) {
    return "cgroup2 at " + root;
  }
  return "cgroup v1 controller " + controller + " at " + root;
}

namespace {

struct CgroupMount {
  std::string fs_root;  // the subtree of the hierarchy that is mounted ("/" normally)
  std::string mount_point;
  bool unified = false;
  std::vector<std::string> super_options;
};

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescapeMountPath(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string_view digits = text.substr(i + 1, 3);
      if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out +=
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::vector<std::string_view> splitOn(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// "36 25 0:31 / /sys/fs/cgroup/pids rw,nosuid shared:15 - cgroup cgroup rw,pids"
std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (const std::string_view line : splitOn(mountinfo, '\n')) {
    std::vector<std::string_view> fields;
    for (const std::string_view field : splitOn(line, ' ')) {
      if (!field.empty()) {
        fields.push_back(field);
      }
    }
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4 ||
        dash - fields.begin() < 6) {
      continue;
    }
    const std::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") {
      continue;
    }
    CgroupMount mount{
        unescapeMountPath(fields[3]), unescapeMountPath(fields[4]), fstype == "cgroup2", {}};
    for (const std::string_view option : splitOn(dash[3], ',')) {
      mount.super_options.emplace_back(option);
    }
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

// Controller names in subsystem-id order. Caveat: since Linux 6.12 the kernel leaves out of
// this file controllers that have no v1 interface (memory with CONFIG_MEMCG_V1=n, cpuset with
// CONFIG_CPUSETS_V1=n), which shifts the position of every later controller (pids). The BPF
// side can avoid that with bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id).
std::vector<std::string> parseProcCgroups(std::string_view text) {
  std::vector<std::string> names;
  for (const std::string_view line : splitOn(text, '\n')) {
    if (line.empty() || line.front() == '#') {
      continue;
    }
    names.emplace_back(line.substr(0, line.find_first_of(" \t")));
  }
  return names;
}

// The first mount matching `wanted`, preferring one of the whole hierarchy: a mount of a
// subtree (a bind mount, a container's view) hides the cgroups outside it.
template <typename Wanted>
const CgroupMount* pickMount(const std::vector<CgroupMount>& mounts, Wanted wanted) {
  const CgroupMount* found = nullptr;
  for (const CgroupMount& mount : mounts) {
    if (wanted(mount)) {
      if (mount.fs_root == "/") {
        return &mount;
      }
      if (found == nullptr) {
        found = &mount;
      }
    }
  }
  return found;
}

const CgroupMount* controllerMount(const std::vector<CgroupMount>& mounts,
                                   std::string_view controller) {
  return pickMount(mounts, [controller](const CgroupMount& mount) {
    return !mount.unified && std::find(mount.super_options.begin(), mount.super_options.end(),
                                       controller) != mount.super_options.end();
  });
}

void setWhy(std::string* why, std::string text) {
  if (why != nullptr) {
    *why = std::move(text);
  }
}

}  // namespace

std::optional<CgroupHierarchy> detectCgroupHierarchy(const std::string& procfs,
                                                     std::string_view preference,
                                                     std::string* why) {
  const std::string mountinfo_path = procfs + "/self/mountinfo";
  const std::optional<std::string> mountinfo = readProcFile(mountinfo_path);
  if (!mountinfo) {
    setWhy(why, "cannot read " + mountinfo_path);
    return std::nullopt;
  }
  const std::vector<CgroupMount> mounts = parseCgroupMounts(*mountinfo);
  const CgroupMount* unified =
      pickMount(mounts, [](const CgroupMount& mount) { return mount.unified; });
  const auto unifiedHierarchy = [&]() -> std::optional<CgroupHierarchy> {
    if (unified == nullptr) {
      setWhy(why, "no cgroup2 file system is mounted (per " + mountinfo_path + ")");
      return std::nullopt;
    }
    return CgroupHierarchy{unified->mount_point, -1, ""};
  };
  if (preference == "unified") {
    return unifiedHierarchy();
  }

  const std::string cgroups_path = procfs + "/cgroups";
  const std::optional<std::string> cgroups = readProcFile(cgroups_path);
  const std::vector<std::string> subsystems =
      cgroups ? parseProcCgroups(*cgroups) : std::vector<std::string>{};
  const auto v1Hierarchy = [&](std::string_view controller) -> std::optional<CgroupHierarchy> {
    const CgroupMount* mount = controllerMount(mounts, controller);
    if (mount == nullptr) {
      setWhy(why, "cgroup v1 controller " + std::string(controller) + " is not mounted (per " +
                      mountinfo_path + ")");
      return std::nullopt;
    }
    const auto position = std::find(subsystems.begin(), subsystems.end(), controller);
    if (position == subsystems.end()) {
      setWhy(why, "cgroup v1 controller " + std::string(controller) + " is mounted but " +
                      (cgroups ? "not listed in " : "cannot read ") + cgroups_path);
      return std::nullopt;
    }
    return CgroupHierarchy{mount->mount_point, static_cast<int>(position - subsystems.begin()),
                           std::string(controller)};
  };
  if (preference != "auto") {
    return v1Hierarchy(preference);
  }

  const bool any_v1_controller =
      std::any_of(mounts.begin(), mounts.end(), [&subsystems](const CgroupMount& mount) {
        return !mount.unified &&
               std::any_of(mount.super_options.begin(), mount.super_options.end(),
                           [&subsystems](const std::string& option) {
                             return std::find(subsystems.begin(), subsystems.end(), option) !=
                                    subsystems.end();
                           });
      });
  if (!any_v1_controller) {
    return unifiedHierarchy();
  }
  for (const std::string_view controller : {"pids", "memory", "cpu"}) {
    if (controllerMount(mounts, controller) != nullptr) {
      return v1Hierarchy(controller);
    }
  }
  if (unified != nullptr) {
    return unifiedHierarchy();
  }
  const std::string mounted = " is mounted (per " + mountinfo_path + ")";
  setWhy(why, "none of the cgroup v1 controllers pids, memory, cpu nor cgroup2" + mounted);
  return std::nullopt;
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

std::optional<std::string> cgroupPathIn(std::string_view text, std::string_view controller) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // hierarchy-ID:controller-list:path; the path may itself hold ':'.
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      continue;
    }
    const std::string_view id = line.substr(0, first);
    const std::string_view list = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    if (controller.empty()) {
      if (id == "0" && list.empty()) {
        return std::string(path);
      }
      continue;
    }
    for (std::string_view rest = list; !rest.empty();) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == controller) {
        return std::string(path);
      }
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
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
  for (std::string_view rest = text; !rest.empty();) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second != std::string_view::npos) {
      Workload workload = workloadFromCgroupPath(line.substr(second + 1));
      if (!workload.unit.empty() || !workload.container_id.empty()) {
        return workload;
      }
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
