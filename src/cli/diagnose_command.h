#pragma once

#include "cli/args.h"
#include "config/config.h"

namespace ipcwatch {

// `ipcwatch diagnose`: prints the checklist of one path (as a user or process) or of every
// client of a configured endpoint. Returns 0 when reachable, 1 when not, 2 on usage errors.
int runDiagnose(const Args& args, const Config& config);

}  // namespace ipcwatch
