#pragma once

#include <string>
#include <vector>

#include "audit/denial_store.h"

namespace ipcwatch {

// The /denials page: the recent denials, newest first, as plain text for people, each with the
// audit2allow-style rule that would allow it.
std::string renderDenialsPage(const std::vector<RecentDenial>& recent);

}  // namespace ipcwatch
