#pragma once

#include "web/web_config.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace ipcwatch {

// Applies a tls_server_config to an OpenSSL server context: certificate chain and key, minimum
// version, client certificate policy. Throws std::runtime_error naming the file and OpenSSL's
// reason when a file cannot be loaded or the key does not match the certificate.
void configureTls(SSL_CTX* ctx, const TlsServerConfig& config);

// Loads `config` into a scratch context, to refuse an unusable one before anything starts.
// Throws as configureTls does.
void checkTls(const TlsServerConfig& config);

}  // namespace ipcwatch
