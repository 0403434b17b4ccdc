#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace ipcwatch {

// What a SIGHUP reload applies: `loaded` with every setting that only a restart can change
// taken back from `running`. Those settings own kernel or network resources whose state a
// rebuild would lose or which need privileges the agent gave up after start-up:
//   web              the listening socket
//   probes, watch_paths, labels, paths
//                    BPF programs and maps (their counters, map sizes follow the label caps,
//                    and loading needs CAP_BPF/CAP_PERFMON) and the label caps' fold counts
//   selinux, collectors.selinux
//                    the audit sockets, the denial counts and the /denials page
// `not_applied` receives one human-readable line per setting that changed but was kept.
Config reloadableConfig(const Config& running, Config loaded,
                        std::vector<std::string>& not_applied);

}  // namespace ipcwatch
