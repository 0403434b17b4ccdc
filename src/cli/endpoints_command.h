#pragma once

#include "cli/args.h"
#include "config/config.h"

namespace ipcwatch {

// `ipcwatch endpoints`: the host's IPC endpoints with their holders, filtered, as columns or
// JSON. Returns 0, 1 when the host cannot be read (not root, a walk that failed), 2 on bad
// flags.
int runEndpoints(const Args& args, const Config& config);

}  // namespace ipcwatch
