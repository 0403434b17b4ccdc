#include "audit/selinux_classmap.h"

#include <array>
#include <cstdio>

namespace ipcwatch {
namespace {

// COMMON_FILE_SOCK_PERMS ("map" since 4.13), in bit order.
#define IPCW_FILE_SOCK_PERMS                                                                   \
  "ioctl", "read", "write", "create", "getattr", "setattr", "lock", "relabelfrom", "relabelto", \
      "append", "map"
// COMMON_FILE_PERMS (the watch permissions since 5.3).
#define IPCW_FILE_PERMS                                                                       \
  IPCW_FILE_SOCK_PERMS, "unlink", "link", "rename", "execute", "quotaon", "mounton",         \
      "audit_access", "open", "execmod", "watch", "watch_mount", "watch_sb", "watch_with_perm", \
      "watch_reads"
// COMMON_SOCK_PERMS.
#define IPCW_SOCK_PERMS                                                                        \
  IPCW_FILE_SOCK_PERMS, "bind", "connect", "listen", "accept", "getopt", "setopt", "shutdown", \
      "recvfrom", "sendto", "name_bind"
// COMMON_IPC_PERMS.
#define IPCW_IPC_PERMS                                                                      \
  "create", "destroy", "getattr", "setattr", "read", "write", "associate", "unix_read", \
      "unix_write"

struct ClassPerms {
  std::string_view tclass;
  std::vector<std::string_view> perms;  // bit i is perms[i]
};

const std::array<ClassPerms, 11>& classTable() {
  static const std::array<ClassPerms, 11> table = {{
      {"fifo_file", {IPCW_FILE_PERMS}},
      {"sock_file", {IPCW_FILE_PERMS}},
      {"file", {IPCW_FILE_PERMS, "execute_no_trans", "entrypoint"}},
      {"dir", {IPCW_FILE_PERMS, "add_name", "remove_name", "reparent", "search", "rmdir"}},
      {"unix_stream_socket", {IPCW_SOCK_PERMS, "connectto"}},
      {"unix_dgram_socket", {IPCW_SOCK_PERMS}},
      {"sem", {IPCW_IPC_PERMS}},
      {"msg", {"send", "receive"}},
      {"msgq", {IPCW_IPC_PERMS, "enqueue"}},
      {"shm", {IPCW_IPC_PERMS, "lock"}},
      {"ipc", {IPCW_IPC_PERMS}},
  }};
  return table;
}

#undef IPCW_FILE_SOCK_PERMS
#undef IPCW_FILE_PERMS
#undef IPCW_SOCK_PERMS
#undef IPCW_IPC_PERMS

const ClassPerms* findClass(std::string_view tclass) {
  for (const auto& entry : classTable()) {
    if (entry.tclass == tclass) {
      return &entry;
    }
  }
  return nullptr;
}

std::string hexBit(std::uint32_t bit) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", bit);
  return buf;
}

}  // namespace

bool kernelClassKnown(std::string_view tclass) { return findClass(tclass) != nullptr; }

std::vector<std::string> kernelPermissionNames(std::string_view tclass, std::uint32_t bits) {
  const ClassPerms* known = findClass(tclass);
  std::vector<std::string> names;
  for (std::uint32_t i = 0; i < 32; ++i) {
    const std::uint32_t bit = 1U << i;
    if ((bits & bit) == 0) {
      continue;
    }
    if (known != nullptr && i < known->perms.size()) {
      names.emplace_back(known->perms[i]);
    } else {
      names.push_back(hexBit(bit));
    }
  }
  return names;
}

}  // namespace ipcwatch
