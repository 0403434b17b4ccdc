#include "config/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <stdexcept>

namespace ipcwatch {
namespace {

std::optional<int> parsePort(std::string_view text) {
  int port = -1;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, port);
  if (text.empty() || ec != std::errc() || ptr != end || port < 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos || close == 1) {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    out.ipv6 = true;
    port_text = text.substr(close + 2);
    in6_addr probe{};
    if (inet_pton(AF_INET6, out.host.c_str(), &probe) != 1) {
      return std::nullopt;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return std::nullopt;  // a bare IPv6 address needs brackets
    }
    port_text = text.substr(colon + 1);
  }
  const auto port = parsePort(port_text);
  if (!port) {
    return std::nullopt;
  }
  out.port = *port;
  return out;
}

std::string bindHost(const ListenAddress& address) {
  if (address.host.empty()) {
    return "0.0.0.0";
  }
  if (address.ipv6) {
    return address.host;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    return address.host;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* result = nullptr;
  if (getaddrinfo(address.host.c_str(), nullptr, &hints, &result) != 0 || result == nullptr) {
    throw std::runtime_error("cannot resolve listen host '" + address.host + "'");
  }
  char buf[INET_ADDRSTRLEN] = {};
  const auto* sin = reinterpret_cast<const sockaddr_in*>(result->ai_addr);
  inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
  freeaddrinfo(result);
  return buf;
}

}  // namespace ipcwatch
