#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// Names the permission bits of an AVC decision as the kernel numbers them
// (security/selinux/include/classmap.h): bit i of a class is the i-th permission in the
// kernel's list for it, which is not the policy's numbering in /sys/fs/selinux/class/*/perms.
// Only the IPC-relevant classes are known, and only the bits whose position has been the same
// in every kernel since the avc:selinux_audited tracepoint appeared (5.10); a bit outside that
// table, or any bit of another class, is named by its value ("0x2000000") rather than guessed.
std::vector<std::string> kernelPermissionNames(std::string_view tclass, std::uint32_t bits);

// Whether `tclass` is one of the classes kernelPermissionNames decodes.
bool kernelClassKnown(std::string_view tclass);

}  // namespace ipcwatch
