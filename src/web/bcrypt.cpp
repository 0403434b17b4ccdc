#include "web/bcrypt.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cstring>
#include <memory>
#include <regex>

namespace ipcwatch {

bool isBcryptHash(const std::string& hash) {
  // $2x$CC$ then 53 characters of bcrypt's base64 (22 of salt, 31 of hash); cost 04..31.
  static const std::regex kBcrypt(R"(\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53})");
  return std::regex_match(hash, kBcrypt) && crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK;
}

bool bcryptMatches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) {
    return false;  // crypt() would see a shorter password
  }
  const std::string text(password);
  auto data = std::make_unique<crypt_data>();  // zeroed, as crypt_r requires; ~32 KiB
  const char* computed = crypt_r(text.c_str(), hash.c_str(), data.get());
  if (computed == nullptr || computed[0] == '*') {
    return false;  // libxcrypt's failure token: the stored hash is not a valid setting
  }
  const std::size_t length = std::strlen(computed);
  return length == hash.size() && CRYPTO_memcmp(computed, hash.data(), length) == 0;
}

}  // namespace ipcwatch
