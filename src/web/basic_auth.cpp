#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

#include "web/bcrypt.h"

namespace ipcwatch {
namespace {

constexpr std::size_t kMaxCredentialsLength = 1024;  // base64 text; longer is refused unread

// A hash of a random password with the configured users' cost, so that rejecting an unknown
// user takes as long as rejecting a wrong password.
std::string makeDecoyHash(const std::string& like) {
  const unsigned long cost = std::stoul(like.substr(4, 2));
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", cost, nullptr, 0, setting, sizeof setting) == nullptr) {
    throw std::runtime_error(
        "crypt_gensalt_rn for bcrypt failed: the system's crypt() has no bcrypt");
  }
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_r(setting + 7, setting, data.get());
  if (hash == nullptr || hash[0] == '*') {
    throw std::runtime_error("crypt_r with bcrypt failed: the system's crypt() has no bcrypt");
  }
  return hash;
}

// Standard base64 with padding (RFC 7617 credentials); nullopt when `text` is not.
std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the zero bytes the padding stands for: drop them.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {
  if (!users_.empty()) {
    decoy_hash_ = makeDecoyHash(users_.begin()->second);
  }
}

bool BasicAuth::allows(const char* authorization) const {
  if (authorization == nullptr || strncasecmp(authorization, "Basic ", 6) != 0) {
    return false;
  }
  std::string_view encoded(authorization + 6);
  while (!encoded.empty() && encoded.front() == ' ') {
    encoded.remove_prefix(1);
  }
  if (encoded.empty() || encoded.size() > kMaxCredentialsLength) {
    return false;
  }
  const auto decoded = decodeBase64(encoded);
  if (!decoded) {
    return false;
  }
  const std::string_view credentials(*decoded);
  const auto colon = credentials.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  const std::string user(credentials.substr(0, colon));
  const std::string_view password = credentials.substr(colon + 1);
  const auto it = users_.find(user);
  if (it != users_.end() && recent_.contains(user, password, it->second)) {
    return true;
  }
  ++bcrypt_checks_;
  if (it == users_.end()) {
    bcryptMatches(password, decoy_hash_);
    return false;
  }
  if (!bcryptMatches(password, it->second)) {
    return false;
  }
  recent_.add(user, password, it->second);
  return true;
}

}  // namespace ipcwatch
