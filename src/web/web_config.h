#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipcwatch {

// tls_server_config.client_auth_type, with the meaning Go's crypto/tls gives these names.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // ask for a certificate, accept any or none
  kRequireAnyClientCert,        // require a certificate, do not verify it
  kVerifyClientCertIfGiven,     // verify a certificate against client_ca_file when one is sent
  kRequireAndVerifyClientCert,  // require a certificate verified against client_ca_file
};

enum class TlsVersion { kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;  // PEM certificate (chain); absolute after parsing
  std::string key_file;   // PEM private key
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
};

// A web configuration file in the format the Prometheus exporters share
// (prometheus/exporter-toolkit's web-config): TLS, basic auth, extra response headers.
struct WebSecurityConfig {
  std::optional<TlsServerConfig> tls;                        // no tls_server_config: plain HTTP
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash; empty: no auth
  std::vector<std::pair<std::string, std::string>> headers;  // http_server_config.headers
  std::string source = "<none>";
};

// Every problem found, one per line, each "SOURCE:LINE:COL: KEY: message".
struct WebConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses the YAML text of a web configuration; relative file names are taken relative to
// `base_dir` (the directory of the file, as the exporters do). Throws WebConfigError.
WebSecurityConfig parseWebConfig(std::string_view yaml, std::string_view source,
                                 const std::string& base_dir);

// Reads (refusing a file other users can write, see readTrustedFile) and parses `path`.
WebSecurityConfig loadWebConfigFile(const std::string& path);

}  // namespace ipcwatch
