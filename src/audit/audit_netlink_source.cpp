#include "audit/audit_netlink_source.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

namespace ipcwatch {
namespace {

constexpr int kReceiveBufferBytes = 4 << 20;  // bursts of denials arrive faster than we parse

[[noreturn]] void throwErrno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

AuditNetlinkSource::AuditNetlinkSource(DenialStore& store) : store_(store) {
  socket_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!socket_.valid()) {
    throwErrno("audit netlink socket");
  }
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the default buffer still works.
  if (::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBufferBytes,
                   sizeof kReceiveBufferBytes) != 0) {
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUF, &kReceiveBufferBytes,
                 sizeof kReceiveBufferBytes);
  }
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1);
  if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throwErrno("bind to the audit multicast group AUDIT_NLGRP_READLOG (needs CAP_AUDIT_READ)");
  }
  store_.declareSource(kName);
  thread_.start(kThreadName, [this](int stop_fd) { run(stop_fd); });
}

AuditNetlinkSource::~AuditNetlinkSource() {
  thread_.stop();
}

void AuditNetlinkSource::run(int stop_fd) {
  // One record is at most 8970 bytes (MAX_AUDIT_MESSAGE_LENGTH); a datagram may hold several.
  std::vector<char> buffer(64 * 1024);
  pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      throwErrno("audit netlink source: poll");
    }
    if (fds[1].revents != 0) {
      return;
    }
    injectedFailurePoint(kThreadName);
    const ssize_t n = ::recv(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {
        // The kernel dropped records for us; how many is unknown, so count the overrun.
        store_.addLost(kName, 1);
      } else if (errno != EAGAIN && errno != EINTR) {
        throwErrno("audit netlink source: recv");
      }
      continue;
    }
    handleDatagram(buffer.data(), static_cast<std::size_t>(n));
  }
}

void AuditNetlinkSource::handleDatagram(const char* data, std::size_t size) {
  // The kernel sends one record per datagram, and its nlmsg_len is not padded to NLMSG_ALIGN,
  // so NLMSG_NEXT would step past the end: read the first message, bounded by what arrived.
  if (size < NLMSG_HDRLEN) {
    return;
  }
  nlmsghdr header;
  std::memcpy(&header, data, sizeof header);
  const std::uint16_t type = header.nlmsg_type;
  if (type == NLMSG_NOOP || type == NLMSG_ERROR || type == NLMSG_DONE) {
    return;
  }
  const std::size_t length = std::min<std::size_t>(header.nlmsg_len, size);
  std::string_view text(data + NLMSG_HDRLEN, length > NLMSG_HDRLEN ? length - NLMSG_HDRLEN : 0);
  text = text.substr(0, text.find('\0'));  // some payloads are NUL-terminated, some not
  const std::string_view name = auditTypeName(type);
  AuditRecord record;
  if (name == "other") {
    record.type = "other";  // SYSCALL, PATH, ...: counted, not parsed
  } else {
    record = parseAuditRecord(name, text);
    if (record.kind == AuditRecordKind::kMalformed) {
      spdlog::debug("audit netlink: cannot parse {} record ({}): {}", name, record.error, text);
    }
  }
  store_.add(kName, record);
}

}  // namespace ipcwatch
