// libFuzzer target for the parsers of what the kernel hands the collectors: /proc/sysvipc/*,
// the IPC limits under /proc/sys, /proc/net/unix and NETLINK_SOCK_DIAG replies. Any bytes must
// parse without crashing or reading out of bounds, and the decoders' counts must add up.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "inventory/parsers/ipc_parsers.h"
#include "inventory/parsers/unix_socket_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ipcwatch::parseSysvShm(text);
  (void)ipcwatch::parseSysvSem(text);
  (void)ipcwatch::parseSysvMsg(text);
  (void)ipcwatch::parseSysvSemLimits(text);
  (void)ipcwatch::parseSysctlUnsigned(text);
  (void)ipcwatch::parseMqueueQsize(text);
  (void)ipcwatch::parseNamespaceLink(text, "net");
  for (const auto& socket : ipcwatch::parseProcNetUnix(text).sockets) {
    (void)ipcwatch::unixSocketDisplayName(socket.name);
  }
  std::vector<ipcwatch::UnixSocket> sockets(1);  // decoding appends
  const auto batch = ipcwatch::decodeUnixDiag(std::span(data, size), sockets);
  if (sockets.size() != 1 + batch.decoded || (batch.error > 0)) {
    std::abort();
  }
  for (const auto& socket : sockets) {
    (void)ipcwatch::unixSocketDisplayName(socket.name);
  }
  return 0;
}
