#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

enum class UnixSocketState {
  kUnconnected,
  kConnecting,
  kConnected,
  kListening,
  kDisconnecting,
  kOther
};

// One unix socket as sock_diag (UNIX_DIAG) or /proc/net/unix describes it.
struct UnixSocket {
  std::uint32_t inode = 0;
  std::uint8_t type = 0;  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  UnixSocketState state = UnixSocketState::kOther;
  // The address as bound: a path, or an abstract name starting with '\0'; empty when unbound.
  std::string name;
  // UNIX_DIAG_VFS: the bound socket file. vfs_dev is the kernel's internal dev_t (see
  // devFromKernel), vfs_ino the low 32 bits of the file's inode number.
  bool has_vfs = false;
  std::uint32_t vfs_dev = 0;
  std::uint32_t vfs_ino = 0;
  // UNIX_DIAG_RQLEN: for listeners, rqueue = connections waiting in the accept queue and
  // wqueue = the backlog given to listen(); for others, bytes queued for reading / writing.
  bool has_rqlen = false;
  std::uint32_t rqueue = 0;
  std::uint32_t wqueue = 0;
};

std::string_view unixSocketTypeName(std::uint8_t type);
std::string_view unixSocketStateName(UnixSocketState state);

// The label value of a socket address: paths as they are, abstract names as "@name"; bytes
// that are not printable UTF-8 (the NULs abstract names may contain) are escaped as \xNN.
std::string unixSocketDisplayName(std::string_view name);

// unix_diag_vfs.udiag_vfs_dev is the superblock's s_dev in the kernel's internal encoding
// (major << 20 | minor), not the encoding stat() returns in st_dev.
dev_t devFromKernel(std::uint32_t kernel_dev);

// The kernel's sk_state (TCP_* values reused by unix sockets) as a UnixSocketState.
UnixSocketState unixStateFromKernel(std::uint8_t sk_state);

struct ProcNetUnix {
  std::vector<UnixSocket> sockets;
  std::vector<std::string> errors;  // one per line that could not be parsed
};

// Parses /proc/net/unix. Paths may contain spaces and newlines (the kernel prints the raw
// bytes: a line that does not start a record continues the previous record's path);
// abstract names are printed with '@' for every NUL and come back starting with '\0'.
ProcNetUnix parseProcNetUnix(std::string_view text);

// The outcome of decoding one buffer of a NETLINK_SOCK_DIAG dump.
struct UnixDiagBatch {
  std::size_t decoded = 0;          // sockets appended to the output
  bool done = false;                // NLMSG_DONE seen: the dump is complete
  int error = 0;                    // negative errno of an NLMSG_ERROR message, else 0
  std::vector<std::string> errors;  // malformed messages or attributes
};

// Decodes the netlink messages in `buffer` (as recv() returned them), appending every
// SOCK_DIAG_BY_FAMILY message to `out`. Never reads outside the buffer.
UnixDiagBatch decodeUnixDiag(std::span<const std::uint8_t> buffer, std::vector<UnixSocket>& out);

}  // namespace ipcwatch
