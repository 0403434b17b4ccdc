#include "web/credential_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace ipcwatch {

CredentialCache::Digest CredentialCache::digestOf(std::string_view user, std::string_view password,
                                                  const std::string& hash) {
  // NUL separators: no user/password split of the same bytes gives the same input.
  std::string input;
  input.reserve(user.size() + password.size() + hash.size() + 2);
  input.append(user).append(1, '\0').append(password).append(1, '\0').append(hash);
  Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    throw std::runtime_error("SHA-256 failed");  // OpenSSL without SHA-256: cannot happen
  }
  OPENSSL_cleanse(input.data(), input.size());
  return digest;
}

bool CredentialCache::contains(std::string_view user, std::string_view password,
                               const std::string& hash) const {
  const Digest digest = digestOf(user, password, hash);
  const std::lock_guard lock(mutex_);
  bool found = false;
  for (std::size_t i = 0; i < used_; ++i) {
    found |= CRYPTO_memcmp(slots_[i].data(), digest.data(), digest.size()) == 0;
  }
  return found;
}

void CredentialCache::add(std::string_view user, std::string_view password,
                          const std::string& hash) {
  const Digest digest = digestOf(user, password, hash);
  const std::lock_guard lock(mutex_);
  slots_[next_] = digest;
  next_ = (next_ + 1) % kSlots;
  if (used_ < kSlots) {
    ++used_;
  }
}

}  // namespace ipcwatch
