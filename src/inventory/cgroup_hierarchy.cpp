#include "inventory/cgroup_hierarchy.h"

#include <algorithm>
#include <vector>

#include "inventory/proc_file.h"

namespace ipcwatch {

std::string CgroupHierarchy::describe() const {
  if (unified()) {
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

// The controller names /proc/cgroups lists (since Linux 6.12, only those with a v1 interface).
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
    return CgroupHierarchy{unified->mount_point, ""};
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
    if (std::find(subsystems.begin(), subsystems.end(), controller) == subsystems.end()) {
      setWhy(why, "cgroup v1 controller " + std::string(controller) + " is mounted but " +
                      (cgroups ? "not listed in " : "cannot read ") + cgroups_path);
      return std::nullopt;
    }
    return CgroupHierarchy{mount->mount_point, std::string(controller)};
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

std::string hostCgroupMount(const std::string& mount, const std::string& cgroup_root) {
  constexpr std::string_view kCgroupFs = "/sys/fs/cgroup";
  if (cgroup_root.empty() || !mount.starts_with(kCgroupFs) ||
      (mount.size() > kCgroupFs.size() && mount[kCgroupFs.size()] != '/')) {
    return mount;
  }
  return cgroup_root + mount.substr(kCgroupFs.size());
}

}  // namespace ipcwatch
