#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace ipcwatch {

// Credentials that recently passed a bcrypt check, so that a scraper sending the same user and
// password every few seconds costs one bcrypt computation instead of one per request (as the
// exporters' web config does). Only SHA-256 digests of (user, password, stored hash) are kept,
// a fixed number of them, oldest replaced first; lookups compare against every slot in
// constant time. Thread-safe.
class CredentialCache {
 public:
  static constexpr std::size_t kSlots = 64;

  bool contains(std::string_view user, std::string_view password, const std::string& hash) const;
  void add(std::string_view user, std::string_view password, const std::string& hash);

 private:
  using Digest = std::array<unsigned char, 32>;

  static Digest digestOf(std::string_view user, std::string_view password, const std::string& hash);

  mutable std::mutex mutex_;
  std::array<Digest, kSlots> slots_{};
  std::size_t used_ = 0;  // slots filled so far
  std::size_t next_ = 0;  // the slot the next add overwrites
};

}  // namespace ipcwatch
