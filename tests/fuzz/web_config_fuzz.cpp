// libFuzzer target: any bytes as a web config either parse into a configuration that keeps the
// promises the HTTP server relies on, or are refused with a WebConfigError, never anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "web/bcrypt.h"
#include "web/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ipcwatch;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  WebSecurityConfig config;
  try {
    config = parseWebConfig(text, "fuzz.yml", "/etc/ipcwatch");
  } catch (const WebConfigError& e) {
    if (std::string_view(e.what()).rfind("fuzz.yml:", 0) != 0) {
      std::abort();  // every error names the file
    }
    return 0;
  }
  for (const auto& [user, hash] : config.basic_auth_users) {
    if (user.empty() || user.find(':') != std::string::npos || !isBcryptHash(hash)) {
      std::abort();
    }
  }
  if (config.tls) {
    const TlsServerConfig& tls = *config.tls;
    if (tls.cert_file.empty() || tls.cert_file[0] != '/' || tls.key_file.empty() ||
        tls.key_file[0] != '/') {
      std::abort();
    }
    const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                          tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
    if (verifies == tls.client_ca_file.empty()) {
      std::abort();
    }
  }
  for (const auto& [name, value] : config.headers) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      std::abort();  // a header value must never split the response
    }
  }
  return 0;
}
