#pragma once

#include <string>
#include <string_view>

namespace ipcwatch {

// Whether `hash` is a bcrypt hash ($2a$, $2b$ or $2y$, as htpasswd -B and mkpasswd -m bcrypt
// write them) that the system's crypt() accepts.
bool isBcryptHash(const std::string& hash);

// Whether `password` hashes to `hash` under the system's crypt() (libxcrypt). The comparison
// of the computed and stored hashes takes the same time wherever they differ.
bool bcryptMatches(std::string_view password, const std::string& hash);

}  // namespace ipcwatch
