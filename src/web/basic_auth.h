#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "web/credential_cache.h"

namespace ipcwatch {

// HTTP basic authentication against bcrypt hashes (web-config basic_auth_users).
class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }

  // Whether `authorization` (the Authorization header's value; null when absent) carries the
  // name and password of a configured user. Credentials that passed recently are found in a
  // cache; otherwise a bcrypt computation decides, also for an unknown user, so response times
  // do not tell which user names exist.
  bool allows(const char* authorization) const;

  // How many bcrypt computations allows() has made (what the cache saves, for tests).
  std::uint64_t bcryptChecks() const { return bcrypt_checks_.load(); }

 private:
  std::map<std::string, std::string> users_;
  std::string decoy_hash_;  // verified against when the user is unknown
  mutable CredentialCache recent_;
  mutable std::atomic<std::uint64_t> bcrypt_checks_{0};
};

}  // namespace ipcwatch
