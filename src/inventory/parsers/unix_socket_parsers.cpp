#include "inventory/parsers/unix_socket_parsers.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

// Values of the kernel's sk_state that unix sockets use (include/net/tcp_states.h).
constexpr std::uint8_t kTcpEstablished = 1;
constexpr std::uint8_t kTcpSynSent = 2;
constexpr std::uint8_t kTcpClose = 7;
constexpr std::uint8_t kTcpListen = 10;

// /proc/net/unix: __SO_ACCEPTCON in the flags column marks a listener.
constexpr std::uint32_t kAcceptCon = 1u << 16;

// ---- /proc/net/unix -------------------------------------------------------------------------

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void skipSpaces(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
}

// Takes one whitespace-delimited number in `base` from the front of `s`.
template <typename T>
std::optional<T> takeNumber(std::string_view& s, int base) {
  skipSpaces(s);
  T value{};
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || ptr == s.data()) {
    return std::nullopt;
  }
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  if (!s.empty() && s.front() != ' ') {
    return std::nullopt;
  }
  return value;
}

// The "Num:" column: the socket's kernel address in hex (zeros when kptr_restrict hides it).
bool takeSlot(std::string_view& s) {
  std::size_t i = 0;
  while (i < s.size() && isHex(s[i])) {
    ++i;
  }
  if (i == 0 || i >= s.size() || s[i] != ':') {
    return false;
  }
  s.remove_prefix(i + 1);
  return true;
}

// A line that starts like a record ("<hex>: "), whether or not the rest parses: such a line is
// a damaged record, not the continuation of a path.
bool looksLikeRecord(std::string_view line) {
  return takeSlot(line) && line.starts_with(' ');
}

UnixSocketState stateFromProc(std::uint32_t flags, std::uint32_t st) {
  if ((flags & kAcceptCon) != 0) {
    return UnixSocketState::kListening;
  }
  switch (st) {  // socket_state: SS_UNCONNECTED = 1 .. SS_DISCONNECTING = 4
    case 1: return UnixSocketState::kUnconnected;
    case 2: return UnixSocketState::kConnecting;
    case 3: return UnixSocketState::kConnected;
    case 4: return UnixSocketState::kDisconnecting;
    default: return UnixSocketState::kOther;
  }
}

// One record line, or nullopt when the line does not start a record.
std::optional<UnixSocket> parseRecord(std::string_view line) {
  if (!takeSlot(line)) {
    return std::nullopt;
  }
  const auto refcount = takeNumber<std::uint32_t>(line, 16);
  const auto protocol = takeNumber<std::uint32_t>(line, 16);
  const auto flags = takeNumber<std::uint32_t>(line, 16);
  const auto type = takeNumber<std::uint32_t>(line, 16);
  const auto st = takeNumber<std::uint32_t>(line, 16);
  const auto inode = takeNumber<std::uint64_t>(line, 10);
  if (!refcount || !protocol || !flags || !type || !st || !inode || *type > 0xff) {
    return std::nullopt;
  }
  UnixSocket socket;
  socket.inode = static_cast<std::uint32_t>(*inode);
  socket.type = static_cast<std::uint8_t>(*type);
  socket.state = stateFromProc(*flags, *st);
  if (!line.empty()) {
    line.remove_prefix(1);  // the one space before the path; the path itself may start with one
    socket.name = std::string(line);
    if (!socket.name.empty() && socket.name.front() == '@') {
      socket.name.front() = '\0';  // abstract
    }
  }
  return socket;
}

// ---- UNIX_DIAG ------------------------------------------------------------------------------

template <typename T>
T readStruct(const std::uint8_t* data) {
  T value;
  std::memcpy(&value, data, sizeof value);
  return value;
}

std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Applies the attributes after a unix_diag_msg; returns an error text for a malformed one.
std::optional<std::string> decodeAttributes(std::span<const std::uint8_t> attrs, UnixSocket& s) {
  while (attrs.size() >= sizeof(rtattr)) {
    const auto attr = readStruct<rtattr>(attrs.data());
    if (attr.rta_len < sizeof(rtattr) || attr.rta_len > attrs.size()) {
      return "attribute length " + std::to_string(attr.rta_len) + " out of bounds";
    }
    const auto payload = attrs.subspan(sizeof(rtattr), attr.rta_len - sizeof(rtattr));
    switch (attr.rta_type) {
      case UNIX_DIAG_NAME:
        s.name.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
        if (!s.name.empty() && s.name.front() != '\0') {
          // A path's address includes its terminating NUL; paths cannot contain NULs.
          s.name.resize(std::min(s.name.find('\0'), s.name.size()));
        }
        break;
      case UNIX_DIAG_VFS:
        if (payload.size() < sizeof(unix_diag_vfs)) {
          return std::string("short UNIX_DIAG_VFS");
        }
        s.has_vfs = true;
        s.vfs_ino = readStruct<unix_diag_vfs>(payload.data()).udiag_vfs_ino;
        s.vfs_dev = readStruct<unix_diag_vfs>(payload.data()).udiag_vfs_dev;
        break;
      case UNIX_DIAG_RQLEN:
        if (payload.size() < sizeof(unix_diag_rqlen)) {
          return std::string("short UNIX_DIAG_RQLEN");
        }
        s.has_rqlen = true;
        s.rqueue = readStruct<unix_diag_rqlen>(payload.data()).udiag_rqueue;
        s.wqueue = readStruct<unix_diag_rqlen>(payload.data()).udiag_wqueue;
        break;
      default:
        break;  // attributes we did not ask for, or newer ones
    }
    attrs = attrs.subspan(std::min(align4(attr.rta_len), attrs.size()));
  }
  return std::nullopt;
}

std::optional<std::string> decodeDiagMessage(std::span<const std::uint8_t> payload,
                                             std::vector<UnixSocket>& out) {
  if (payload.size() < sizeof(unix_diag_msg)) {
    return std::string("short unix_diag_msg");
  }
  const auto msg = readStruct<unix_diag_msg>(payload.data());
  if (msg.udiag_family != AF_UNIX) {
    return "unexpected family " + std::to_string(msg.udiag_family);
  }
  UnixSocket socket;
  socket.inode = msg.udiag_ino;
  socket.type = msg.udiag_type;
  socket.state = unixStateFromKernel(msg.udiag_state);
  static_assert(sizeof(unix_diag_msg) % 4 == 0, "attributes follow the message unpadded");
  if (auto error = decodeAttributes(payload.subspan(sizeof(unix_diag_msg)), socket)) {
    return error;
  }
  out.push_back(std::move(socket));
  return std::nullopt;
}

}  // namespace

std::string_view unixSocketTypeName(std::uint8_t type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    default: return "other";
  }
}

std::string_view unixSocketStateName(UnixSocketState state) {
  switch (state) {
    case UnixSocketState::kUnconnected: return "unconnected";
    case UnixSocketState::kConnecting: return "connecting";
    case UnixSocketState::kConnected: return "connected";
    case UnixSocketState::kListening: return "listening";
    case UnixSocketState::kDisconnecting: return "disconnecting";
    default: return "other";
  }
}

std::string unixSocketDisplayName(std::string_view name) {
  if (!name.empty() && name.front() == '\0') {
    return "@" + sanitizeLabelValue(name.substr(1));
  }
  return sanitizeLabelValue(name);
}

dev_t devFromKernel(std::uint32_t kernel_dev) {
  return makedev(kernel_dev >> 20, kernel_dev & 0xfffffu);
}

UnixSocketState unixStateFromKernel(std::uint8_t sk_state) {
  switch (sk_state) {
    case kTcpEstablished: return UnixSocketState::kConnected;
    case kTcpSynSent: return UnixSocketState::kConnecting;
    case kTcpClose: return UnixSocketState::kUnconnected;
    case kTcpListen: return UnixSocketState::kListening;
    default: return UnixSocketState::kOther;
  }
}

ProcNetUnix parseProcNetUnix(std::string_view text) {
  ProcNetUnix result;
  bool previous_has_path = false;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line_number == 1 && line.starts_with("Num")) {
      continue;
    }
    if (auto socket = parseRecord(line)) {
      previous_has_path = !socket->name.empty();
      result.sockets.push_back(std::move(*socket));
    } else if (previous_has_path && !looksLikeRecord(line)) {
      // A newline inside the previous socket's path.
      result.sockets.back().name += '\n';
      result.sockets.back().name += line;
    } else {
      result.errors.push_back("line " + std::to_string(line_number) + ": not a socket record: '" +
                              sanitizeLabelValue(line.substr(0, 80)) + "'");
      previous_has_path = false;  // what follows cannot be attributed to a path any more
    }
  }
  return result;
}

UnixDiagBatch decodeUnixDiag(std::span<const std::uint8_t> buffer, std::vector<UnixSocket>& out) {
  UnixDiagBatch batch;
  while (!buffer.empty()) {
    if (buffer.size() < sizeof(nlmsghdr)) {
      batch.errors.push_back("truncated netlink header");
      break;
    }
    const auto header = readStruct<nlmsghdr>(buffer.data());
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > buffer.size()) {
      batch.errors.push_back("netlink message length " + std::to_string(header.nlmsg_len) +
                             " out of bounds");
      break;
    }
    const auto payload = buffer.subspan(sizeof(nlmsghdr), header.nlmsg_len - sizeof(nlmsghdr));
    if (header.nlmsg_type == NLMSG_DONE) {
      batch.done = true;
      break;
    }
    if (header.nlmsg_type == NLMSG_ERROR) {
      if (payload.size() < sizeof(int)) {
        batch.errors.push_back("short NLMSG_ERROR");
      } else if (const int code = readStruct<int>(payload.data()); code > 0 || code < -4095) {
        // Only 0 (an acknowledgement) and a negative errno are valid: anything else is noise.
        batch.errors.push_back("NLMSG_ERROR with invalid code " + std::to_string(code));
        batch.error = -EPROTO;
      } else {
        batch.error = code;
      }
      batch.done = true;
      break;
    }
    if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      if (auto error = decodeDiagMessage(payload, out)) {
        batch.errors.push_back(std::move(*error));
      } else {
        ++batch.decoded;
      }
    }
    buffer = buffer.subspan(std::min(align4(header.nlmsg_len), buffer.size()));
  }
  return batch;
}

}  // namespace ipcwatch
