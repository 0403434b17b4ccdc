#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ipcwatch {

// Which hierarchy the kernel side reads a task's cgroup from.
struct CgroupHierarchy {
  std::string root;        // where it is mounted in the agent's view, e.g. "/sys/fs/cgroup/pids"
  std::string controller;  // the v1 controller ("pids"); empty for the unified hierarchy
  bool unified() const { return controller.empty(); }
  // "cgroup2 at /sys/fs/cgroup", "cgroup v1 controller pids at /sys/fs/cgroup/pids"
  std::string describe() const;
};

// Reads <procfs>/self/mountinfo and <procfs>/cgroups. preference: "auto", "unified", or a v1
// controller name ("pids", "memory", ...). auto: the unified hierarchy when no v1 controller
// hierarchy is mounted (a pure v2 host); else the first mounted of the v1 controllers pids,
// memory, cpu (pids first: systemd puts every unit there with its default TasksAccounting, and
// container runtimes create every container there); else the unified hierarchy if mounted.
// nullopt with *why set (when why is not null) when nothing suitable is mounted, the named
// controller is not mounted or not a controller the kernel lists in <procfs>/cgroups (a named
// hierarchy such as name=systemd has none), or the files cannot be read. The kernel side finds
// the controller's subsystem id itself (CO-RE), so none is derived here.
std::optional<CgroupHierarchy> detectCgroupHierarchy(const std::string& procfs,
                                                     std::string_view preference, std::string* why);

// Where the agent reads the hierarchy mounted at `mount`: below cgroup_root, the host's
// /sys/fs/cgroup as a container sees it (/host/sys/fs/cgroup), when one is configured; else,
// or when the mount is not under /sys/fs/cgroup, the mount itself.
std::string hostCgroupMount(const std::string& mount, const std::string& cgroup_root);

}  // namespace ipcwatch
