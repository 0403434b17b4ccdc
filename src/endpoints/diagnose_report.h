#pragma once

#include <string>

#include "endpoints/endpoint_checker.h"

namespace ipcwatch {

// The checklist for a terminal: one ✓/✗ line per check with its evidence, and the fix under
// every failure or warning.
std::string renderReportText(const EndpointReport& report);
// The same as one JSON object.
std::string renderReportJson(const EndpointReport& report);

}  // namespace ipcwatch
