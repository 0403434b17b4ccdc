#pragma once

#include <string>
#include <vector>

namespace ipcwatch {

// The capabilities the agent keeps once its probes are attached and its audit sockets bound
// (names as capabilities(7) spells them in lower case, e.g. "cap_sys_admin"): what scrape-time
// collectors, the fifo_open probe's path resolution and the endpoint access helper still need.
// docs/security.md, "Privileges", says which needs which. The web process, which binds the port
// and serves HTTP, keeps none (privsep/web_process.h).
std::vector<std::string> keptCapabilities();

// Drops every capability not in `kept` from the effective, permitted, inheritable, ambient and
// bounding sets of the calling thread; threads it creates afterwards inherit the result.
// Capabilities are per thread: a thread started before the drop must call this itself. Returns
// "" on success, else what failed. Without CAP_SETPCAP the bounding set is left as it is.
std::string dropCapabilities(const std::vector<std::string>& kept);

// The calling thread's capabilities in cap_to_text(3) form, e.g. "cap_setgid,cap_setuid=ep".
std::string currentCapabilities();

// For threads started while the agent still held every capability: drops to
// keptCapabilities() and logs a failure (`thread` names the thread in the log).
void dropThreadCapabilities(const char* thread);

}  // namespace ipcwatch
