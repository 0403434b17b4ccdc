#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ipcwatch {

// Names of network namespaces, from the bind mounts `ip netns add NAME` leaves in /run/netns
// (and /var/run/netns): inode number -> name.
std::map<std::uint64_t, std::string> namedNetns(
    const std::vector<std::string>& dirs = {"/run/netns", "/var/run/netns"});

}  // namespace ipcwatch
