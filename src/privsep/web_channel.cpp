#include "privsep/web_channel.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ipcwatch {
namespace {

constexpr std::uint32_t kMagic = 0x57435049;  // "IPCW", little-endian
constexpr std::uint16_t kVersion = 1;

struct WireHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t type;
  std::uint64_t id;
  std::uint64_t value;
};
static_assert(sizeof(WireHeader) == 24);

bool knownType(std::uint16_t type) {
  switch (static_cast<WebMessage>(type)) {
    case WebMessage::kBound:
    case WebMessage::kStartFailed:
    case WebMessage::kServe:
    case WebMessage::kGetMetrics:
    case WebMessage::kGetDenials:
    case WebMessage::kBody:
    case WebMessage::kFailed:
      return true;
  }
  return false;
}

// Closes every descriptor a refused datagram carried.
void closeAttached(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < n; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
      }
    }
  }
}

}  // namespace

std::pair<WebChannel, WebChannel> WebChannel::pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {WebChannel(UniqueFd(fds[0])), WebChannel(UniqueFd(fds[1]))};
}

bool WebChannel::send(WebMessage type, std::uint64_t id, std::uint64_t value, std::string_view text,
                      int attach_fd) const {
  const WireHeader header{kMagic, kVersion, static_cast<std::uint16_t>(type), id, value};
  iovec iov[2] = {{const_cast<WireHeader*>(&header), sizeof header},
                  {const_cast<char*>(text.data()), std::min(text.size(), kMaxText)}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = text.empty() ? 1 : 2;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (attach_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &attach_fd, sizeof attach_fd);
  }
  for (;;) {
    if (sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) >= 0) {
      return true;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

bool WebChannel::sendBody(std::uint64_t id, std::string_view body) const {
  const UniqueFd memfd(memfd_create("ipcwatch-body", MFD_CLOEXEC));
  if (!memfd.valid()) {
    return send(WebMessage::kFailed, id, 0, std::string("memfd_create: ") + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < body.size()) {
    const ssize_t n = write(memfd.get(), body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return send(WebMessage::kFailed, id, 0,
                  std::string("writing the body: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return send(WebMessage::kBody, id, body.size(), {}, memfd.get());
}

WebChannel::Received WebChannel::receive(std::optional<std::chrono::milliseconds> timeout,
                                         int also_wake) const {
  Received out;
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {also_wake, POLLIN, 0}};
  const int wait_ms = timeout ? static_cast<int>(timeout->count()) : -1;
  int ready = 0;
  do {
    ready = poll(fds, also_wake >= 0 ? 2 : 1, wait_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
    return out;  // timed out, or woken
  }
  WireHeader header{};
  char text[kMaxText + 1];
  iovec iov[2] = {{&header, sizeof header}, {text, sizeof text}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = 0;
  do {
    n = recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    out.closed = true;
    return out;
  }
  if (n < 0) {
    if (errno == EAGAIN) {
      return out;
    }
    out.closed = errno == ECONNRESET;
    out.error = out.closed ? "" : std::string("recvmsg: ") + std::strerror(errno);
    return out;
  }
  const auto refuse = [&](std::string why) {
    closeAttached(msg);
    out.error = std::move(why);
    return std::move(out);
  };
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return refuse("a message larger than the protocol allows");
  }
  if (static_cast<std::size_t>(n) < sizeof header) {
    return refuse("a message of " + std::to_string(n) + " bytes, shorter than a header");
  }
  if (header.magic != kMagic || header.version != kVersion) {
    return refuse("a message that is not of this protocol version");
  }
  if (!knownType(header.type)) {
    return refuse("a message of unknown type " + std::to_string(header.type));
  }
  WebChannelMessage message;
  message.type = static_cast<WebMessage>(header.type);
  message.id = header.id;
  message.value = header.value;
  message.text.assign(text, static_cast<std::size_t>(n) - sizeof header);
  int attached = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      attached += static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    }
  }
  if (attached != (message.type == WebMessage::kBody ? 1 : 0)) {
    return refuse("a message with " + std::to_string(attached) + " descriptors attached");
  }
  if (attached == 1) {
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
    message.fd.reset(fd);
  }
  out.message = std::move(message);
  return out;
}

std::string WebChannel::readBody(const WebChannelMessage& message) {
  struct stat st {};
  if (!message.fd.valid() || fstat(message.fd.get(), &st) != 0 ||
      static_cast<std::uint64_t>(st.st_size) != message.value) {
    throw std::runtime_error("the body's memfd does not hold the announced " +
                             std::to_string(message.value) + " bytes");
  }
  std::string body(message.value, '\0');
  std::size_t done = 0;
  while (done < body.size()) {
    const ssize_t n =
        pread(message.fd.get(), body.data() + done, body.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw std::runtime_error(std::string("reading the body: ") +
                               (n < 0 ? std::strerror(errno) : "short read"));
    }
    done += static_cast<std::size_t>(n);
  }
  return body;
}

}  // namespace ipcwatch
