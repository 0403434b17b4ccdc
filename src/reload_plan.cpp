#include "reload_plan.h"

#include "collectors/collector_table.h"

namespace ipcwatch {
namespace {

template <typename T>
void keepRunning(const T& running, T& loaded, const char* key,
                 std::vector<std::string>& not_applied) {
  if (!(running == loaded)) {
    not_applied.push_back(std::string(key) + " changed: not applied, restart ipcwatch to apply");
    loaded = running;
  }
}

}  // namespace

Config reloadableConfig(const Config& running, Config loaded,
                        std::vector<std::string>& not_applied) {
  keepRunning(running.web, loaded.web, "web", not_applied);
  keepRunning(running.probes, loaded.probes, "probes", not_applied);
  keepRunning(running.watch_paths, loaded.watch_paths, "watch_paths", not_applied);
  keepRunning(running.labels, loaded.labels, "labels", not_applied);
  keepRunning(running.paths, loaded.paths, "paths", not_applied);
  keepRunning(running.selinux, loaded.selinux, "selinux", not_applied);
  keepRunning(running.workload, loaded.workload, "workload", not_applied);
  const bool running_selinux = collectorEnabled(running, "selinux");
  if (collectorEnabled(loaded, "selinux") != running_selinux) {
    not_applied.push_back("collectors.selinux changed: not applied, restart ipcwatch to apply");
    loaded.collectors["selinux"] = running_selinux;
  }
  return loaded;
}

}  // namespace ipcwatch
