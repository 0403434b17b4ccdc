#include "web/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace ipcwatch {
namespace {

// OpenSSL's queued errors as one line (and the queue emptied).
std::string opensslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += (text.empty() ? "" : "; ") + std::string(buffer);
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

// RequestClientCert and RequireAnyClientCert ask for a certificate without verifying it.
int acceptAnyCertificate(int, X509_STORE_CTX*) {
  return 1;
}

void setClientPolicy(SSL_CTX* ctx, const TlsServerConfig& config) {
  if (!config.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.client_ca_file.c_str(), nullptr) != 1) {
      throw std::runtime_error("tls_server_config.client_ca_file " + config.client_ca_file + ": " +
                               opensslErrors());
    }
    // Tells clients which CAs are accepted, so they pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (names == nullptr) {
      throw std::runtime_error("tls_server_config.client_ca_file " + config.client_ca_file +
                               ": no certificate in it: " + opensslErrors());
    }
    SSL_CTX_set_client_CA_list(ctx, names);
  }
  switch (config.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, acceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         acceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
}

}  // namespace

void configureTls(SSL_CTX* ctx, const TlsServerConfig& config) {
  SSL_CTX_set_min_proto_version(
      ctx, config.min_version == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
    throw std::runtime_error("tls_server_config.cert_file " + config.cert_file + ": " +
                             opensslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    throw std::runtime_error(
        "tls_server_config.key_file " + config.key_file +
        (mismatch ? " is not the key of cert_file " + config.cert_file : std::string()) + ": " +
        opensslErrors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw std::runtime_error("tls_server_config.key_file " + config.key_file +
                             " is not the key of cert_file " + config.cert_file + ": " +
                             opensslErrors());
  }
  setClientPolicy(ctx, config);
  // Session resumption with client certificates needs a context id.
  static constexpr unsigned char kSessionContext[] = "ipcwatch";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
}

void checkTls(const TlsServerConfig& config) {
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                              SSL_CTX_free);
  if (ctx == nullptr) {
    throw std::runtime_error("cannot create a TLS context: " + opensslErrors());
  }
  configureTls(ctx.get(), config);
}

}  // namespace ipcwatch
