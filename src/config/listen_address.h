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

// The numeric host to bind for `address`: 0.0.0.0 (every IPv4 address) when HOST is empty,
// the address itself when numeric, a name resolved to its first IPv4 address, so that the
// agent binds one predictable address. Throws std::runtime_error when a name does not resolve.
std::string bindHost(const ListenAddress& address);

}  // namespace ipcwatch
