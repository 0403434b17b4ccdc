#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ipcwatch {

struct ListenAddress {
  std::string host;  // empty: every address
  int port = 0;      // 0: the kernel picks a free port
  bool ipv6 = false;
};

// Parses "HOST:PORT", ":PORT" and "[V6ADDR]:PORT". Returns nullopt on malformed input.
std::optional<ListenAddress> parseListenAddress(std::string_view text);

// The same address in civetweb's listening_ports syntax. HOST must be a numeric address or
// resolvable name; names are resolved here (civetweb accepts only numeric addresses).
// Throws std::runtime_error when a name does not resolve.
std::string toCivetwebPorts(const ListenAddress& address);

}  // namespace ipcwatch
