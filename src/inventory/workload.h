#pragma once

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ipcwatch {

// Who a cgroup's processes are, in the words an on-call engineer uses. Empty strings: unknown /
// not applicable.
struct Workload {
  std::string unit;           // systemd service or scope: "nginx.service", "session-3.scope"
  std::string container_id;   // the container runtime's id, short form (first 12 characters)
  std::string pod_uid;        // Kubernetes pod UID with dashes
  std::string pod_namespace;  // from the kubelet's pod log directory, when found
  std::string pod;            // pod name, likewise
  bool operator==(const Workload&) const = default;
};

// What a cgroup path (relative to the hierarchy root, starting with "/") says: the systemd and
// cgroupfs naming of systemd, Docker, containerd, CRI-O, Podman and the kubelet. Never throws;
// names it does not recognise leave their fields empty.
Workload workloadFromCgroupPath(std::string_view path);

// The path of the process's cgroup in the hierarchy of `controller` ("" for the unified one)
// from the text of /proc/<pid>/cgroup ("0::/system.slice/nginx.service", "12:pids:/docker/...").
std::optional<std::string> cgroupPathIn(std::string_view proc_pid_cgroup,
                                        std::string_view controller);

// The workload of a process from the text of its /proc/<pid>/cgroup, whatever the host's
// hierarchies: the unified one's path first, then systemd's own (name=systemd) and the pids
// controller's, then any line, the first that names a unit or a container. No pod names (those
// need the pod log directory: WorkloadResolver::resolvePath).
Workload workloadOfCgroupFile(std::string_view proc_pid_cgroup);

// "opensips.service", "container 0123456789ab", "" when neither: a process's workload in a
// sentence (diagnose, check evidence).
std::string describeWorkload(const std::string& unit, const std::string& container_id);

// cgroup id -> workload, thread-safe, bounded memory. A cgroup id is the inode number of the
// cgroup's directory in its hierarchy (kernfs), so the ids are found by walking the mount.
class WorkloadResolver {
 public:
  // cgroup_root: the hierarchy's mount point; pod_logs: the kubelet's /var/log/pods (may not
  // exist). Nothing is read until the first question.
  // controller: the hierarchy's v1 controller, "" for the unified one (CgroupHierarchy).
  // min_walk_interval: after a walk, an id it did not find is taken as gone for that long
  // without walking again, so a scrape that asks about many gone cgroups walks once.
  WorkloadResolver(std::string cgroup_root, std::string pod_logs, std::string controller = "",
                   std::chrono::milliseconds min_walk_interval = kMinWalkInterval);

  const std::string& controller() const { return controller_; }

  // Empty Workload when the id is 0, unknown, or its cgroup was gone before it was first asked.
  // A cgroup removed after it was resolved keeps its Workload (counters keep their labels).
  Workload resolve(std::uint64_t cgroup_id);

  // The cgroup path of an id ("/system.slice/nginx.service"), if its cgroup exists.
  std::optional<std::string> cgroupPath(std::uint64_t cgroup_id);

  // The workload of a cgroup path (as /proc/<pid>/cgroup shows it), with the pod's namespace and
  // name: for the processes the host snapshot lists, which need no walk.
  Workload resolvePath(std::string_view path);

  // How many times the hierarchy was walked (tests; a walk costs a syscall or three per cgroup).
  std::uint64_t walks() const { return walks_.load(std::memory_order_relaxed); }

  // Bounds: a host has far fewer cgroups, so hitting one means something is wrong, not big.
  static constexpr int kMaxDepth = 32;
  static constexpr std::size_t kMaxDirectories = 200'000;
  static constexpr std::size_t kMaxRemembered = 65'536;  // misses, and resolved workloads
  static constexpr std::chrono::milliseconds kMinWalkInterval{50};
  // A miss is asked about again (one more walk) after this long: a cgroup made between a walk
  // and its first question within kMinWalkInterval gets its labels then.
  static constexpr std::chrono::seconds kMissRetry{60};

 private:
  // One directory of the last walk: the path is rebuilt from the parent links, which keeps a
  // long Kubernetes path's prefix stored once instead of in each of its pods' containers.
  struct Node {
    std::uint64_t parent = 0;
    std::string name;
  };

  std::optional<std::string> pathLocked(std::uint64_t cgroup_id);
  std::optional<std::string> pathFromNodes(std::uint64_t cgroup_id) const;
  void walkLocked();
  void walkDirectory(int dir_fd, dev_t dev, std::uint64_t dir_id, int depth);
  void fillPodLocked(Workload& workload);
  void scanPodLogsLocked(const std::optional<timespec>& mtime);

  const std::string cgroup_root_;
  const std::string pod_logs_;
  const std::string controller_;
  std::atomic<std::uint64_t> walks_{0};

  std::mutex mutex_;
  std::unordered_map<std::uint64_t, Node> nodes_;  // rebuilt by each walk
  std::uint64_t root_id_ = 0;
  bool warned_unreadable_ = false;
  bool warned_truncated_ = false;
  const std::chrono::milliseconds min_walk_interval_;
  std::chrono::steady_clock::time_point last_walk_{};
  // not found even after a rewalk, with when
  std::unordered_map<std::uint64_t, std::chrono::steady_clock::time_point> misses_;
  std::unordered_map<std::uint64_t, Workload> memo_;  // outlives the cgroups

  // uid -> (namespace, name) from the <namespace>_<name>_<uid> directories in pod_logs_.
  std::unordered_map<std::string, std::pair<std::string, std::string>> pods_;
  bool pods_scanned_ = false;
  bool pods_rescan_anyway_ = false;     // the last scan could not trust the directory's mtime
  std::optional<timespec> pods_mtime_;  // nullopt: pod_logs_ did not exist at the last scan
};

}  // namespace ipcwatch
