#include "web/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "config/trusted_file.h"
#include "config/yaml_validator.h"
#include "web/bcrypt.h"

namespace ipcwatch {
namespace {

// Keys the exporter-toolkit format defines that ipcwatch does not implement: refused by name so
// that a file written for another exporter fails loudly instead of silently losing a setting.
const std::map<std::string, std::string> kUnsupportedTlsKeys = {
    {"cert", "give the certificate as a file with cert_file"},
    {"key", "give the key as a file with key_file"},
    {"client_ca", "give the client CA as a file with client_ca_file"},
    {"cipher_suites", "OpenSSL's default TLS 1.2/1.3 suites are used"},
    {"curve_preferences", "OpenSSL's default groups are used"},
    {"prefer_server_cipher_suites", "the server's order is always preferred"},
    {"max_version", "the newest version both sides support is used"},
    {"client_allowed_sans", "any certificate client_ca_file verifies is accepted"},
};

// The response headers exporter-toolkit lets a web-config set.
const std::vector<std::string> kSettableHeaders = {"Content-Security-Policy", "X-Frame-Options",
                                                   "X-Content-Type-Options", "X-XSS-Protection",
                                                   "Strict-Transport-Security"};

// The configuration's validator, plus what the web config needs: file names relative to the
// file's own directory, non-empty scalars, and choices some of which are refused with a reason.
class Checker : public YamlValidator {
 public:
  Checker(std::string_view source, std::string base_dir)
      : YamlValidator(source), base_dir_(std::move(base_dir)) {}

  // Hides YamlValidator::scalar: an empty value is as good as none here.
  bool scalar(const YAML::Node& node, const std::string& path, const std::string& expected) {
    if (!node.IsScalar() || node.Scalar().empty()) {
      error(node, path, "expected " + expected);
      return false;
    }
    return true;
  }

  void file(const YAML::Node& node, const std::string& path, std::string& out) {
    if (!scalar(node, path, "a file name")) {
      return;
    }
    const std::string& name = node.Scalar();
    out = name.front() == '/' ? name : base_dir_ + "/" + name;
  }

  template <typename Enum>
  void oneOf(const YAML::Node& node, const std::string& path,
             const std::vector<std::pair<std::string, Enum>>& allowed,
             const std::map<std::string, std::string>& refused, Enum& out) {
    std::vector<std::string> names;
    for (const auto& [name, value] : allowed) {
      names.push_back(name);
    }
    if (!scalar(node, path, "one of " + joined(names))) {
      return;
    }
    const std::string& text = node.Scalar();
    for (const auto& [name, value] : allowed) {
      if (text == name) {
        out = value;
        return;
      }
    }
    if (const auto why = refused.find(text); why != refused.end()) {
      error(node, path, "'" + text + "' is refused: " + why->second);
      return;
    }
    error(node, path, "'" + text + "' is not one of " + joined(names));
  }

 private:
  std::string base_dir_;
};

void parseTls(Checker& c, const YAML::Node& node, const std::string& path, WebSecurityConfig& out) {
  if (node.IsNull()) {
    return;  // "tls_server_config:" with nothing under it: no TLS, as in the exporters
  }
  TlsServerConfig tls;
  bool has_auth_type = false;
  c.mapping(node, path,
            {
                {"cert_file",
                 [&](const YAML::Node& n, const std::string& p) { c.file(n, p, tls.cert_file); }},
                {"key_file",
                 [&](const YAML::Node& n, const std::string& p) { c.file(n, p, tls.key_file); }},
                {"client_ca_file", [&](const YAML::Node& n,
                                       const std::string& p) { c.file(n, p, tls.client_ca_file); }},
                {"client_auth_type",
                 [&](const YAML::Node& n, const std::string& p) {
                   has_auth_type = true;
                   c.oneOf<ClientAuth>(
                       n, p,
                       {{"NoClientCert", ClientAuth::kNoClientCert},
                        {"RequestClientCert", ClientAuth::kRequestClientCert},
                        {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
                        {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
                        {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert}},
                       {}, tls.client_auth);
                 }},
                {"min_version",
                 [&](const YAML::Node& n, const std::string& p) {
                   const std::string why = "TLS 1.0 and 1.1 are deprecated (RFC 8996)";
                   c.oneOf<TlsVersion>(
                       n, p, {{"TLS12", TlsVersion::kTls12}, {"TLS13", TlsVersion::kTls13}},
                       {{"TLS10", why}, {"TLS11", why}}, tls.min_version);
                 }},
            },
            kUnsupportedTlsKeys);
  if (!node.IsMap()) {
    return;
  }
  if (tls.cert_file.empty()) {
    c.error(node, path + ".cert_file", "missing: TLS needs a certificate");
  }
  if (tls.key_file.empty()) {
    c.error(node, path + ".key_file", "missing: TLS needs the certificate's private key");
  }
  const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && tls.client_ca_file.empty()) {
    c.error(node, path + ".client_ca_file",
            "missing: client_auth_type verifies client certificates against it");
  }
  if (!tls.client_ca_file.empty() && !verifies) {
    c.error(node, path + ".client_auth_type",
            std::string(has_auth_type ? "does not verify"
                                      : "is NoClientCert by default, which "
                                        "does not verify") +
                " client certificates, but client_ca_file is set: use "
                "RequireAndVerifyClientCert or VerifyClientCertIfGiven");
  }
  out.tls = tls;
}

void parseUsers(Checker& c, const YAML::Node& node, const std::string& path,
                WebSecurityConfig& out) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    c.error(node, path, "expected a mapping of user names to bcrypt hashes");
    return;
  }
  for (const auto& entry : node) {
    const std::string user = entry.first.Scalar();
    const std::string child = path + "." + user;
    if (user.empty() || user.find(':') != std::string::npos ||
        std::any_of(user.begin(), user.end(),
                    [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; })) {
      c.error(entry.first, child,
              "a user name must be non-empty, without ':' or control characters");
      continue;
    }
    if (out.basic_auth_users.count(user) != 0) {
      c.error(entry.first, child, "duplicate key");
      continue;
    }
    if (!entry.second.IsScalar() || !isBcryptHash(entry.second.Scalar())) {
      c.error(entry.second, child,
              "expected a bcrypt hash ($2y$10$ followed by 53 characters), e.g. the part after "
              "':' of `htpasswd -nbBC 10 USER PASSWORD`");
      continue;
    }
    out.basic_auth_users.emplace(user, entry.second.Scalar());
  }
}

void parseHttp(Checker& c, const YAML::Node& node, const std::string& path,
               WebSecurityConfig& out) {
  c.mapping(
      node, path,
      {
          {"http2",
           [&](const YAML::Node& n, const std::string& p) {
             if (!c.scalar(n, p, "true or false")) {
               return;
             }
             if (n.Scalar() == "true") {
               c.error(n, p, "ipcwatch serves HTTP/1.1 only: set it to false or remove it");
             } else if (n.Scalar() != "false") {
               c.error(n, p, "expected true or false, got '" + n.Scalar() + "'");
             }
           }},
          {"headers",
           [&](const YAML::Node& n, const std::string& p) {
             if (n.IsNull()) {
               return;
             }
             if (!n.IsMap()) {
               c.error(n, p, "expected a mapping of header names to values");
               return;
             }
             for (const auto& entry : n) {
               const std::string name = entry.first.Scalar();
               const std::string child = p + "." + name;
               if (std::find(kSettableHeaders.begin(), kSettableHeaders.end(), name) ==
                   kSettableHeaders.end()) {
                 c.error(entry.first, child,
                         "not a header a web config may set (allowed: " + joined(kSettableHeaders) +
                             ")");
                 continue;
               }
               if (!c.scalar(entry.second, child, "a header value")) {
                 continue;
               }
               const std::string& value = entry.second.Scalar();
               if (std::any_of(value.begin(), value.end(),
                               [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; })) {
                 c.error(entry.second, child, "control characters are not allowed in a header");
                 continue;
               }
               out.headers.emplace_back(name, value);
             }
           }},
      });
}

}  // namespace

WebSecurityConfig parseWebConfig(std::string_view yaml, std::string_view source,
                                 const std::string& base_dir) {
  Checker c(source, base_dir);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    c.errorAtMark(e.mark, e.msg);
    throw WebConfigError(c.errorText());
  }
  WebSecurityConfig config;
  config.source = std::string(source);
  if (!root.IsNull() && !root.IsMap()) {
    c.error(root, "(top level)",
            "expected a mapping (tls_server_config, basic_auth_users, http_server_config)");
  } else {
    c.mapping(root, "",
              {
                  {"tls_server_config",
                   [&](const YAML::Node& n, const std::string& p) { parseTls(c, n, p, config); }},
                  {"basic_auth_users",
                   [&](const YAML::Node& n, const std::string& p) { parseUsers(c, n, p, config); }},
                  {"http_server_config",
                   [&](const YAML::Node& n, const std::string& p) { parseHttp(c, n, p, config); }},
              });
  }
  if (!c.errors().empty()) {
    throw WebConfigError(c.errorText());
  }
  return config;
}

WebSecurityConfig loadWebConfigFile(const std::string& path) {
  std::string text;
  try {
    text = readTrustedFile(path);
  } catch (const UntrustedFileError& e) {
    throw WebConfigError(e.what());
  }
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return parseWebConfig(text, path, dir);
}

}  // namespace ipcwatch
