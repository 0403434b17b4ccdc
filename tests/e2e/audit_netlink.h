#pragma once

#include <string>

namespace ipcwatch::testing {

// Sends one USER_AVC record over NETLINK_AUDIT, as dbus-daemon does, and waits for the kernel's
// acknowledgement; returns its error (0 on success), or -errno when the socket itself fails.
// Needs CAP_AUDIT_WRITE; works while SELinux is inactive.
int sendUserAvc(const std::string& text);

}  // namespace ipcwatch::testing
