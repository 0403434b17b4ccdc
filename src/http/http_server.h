#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "http/listen_address.h"

class CivetServer;
class CivetHandler;

namespace ipcwatch {

// A plain-text page rendered on each request (e.g. /denials).
struct TextPage {
  std::string uri;
  std::string title;  // its line on the landing page
  std::function<std::string()> render;
};

// Serves / (a landing page), /metrics (text exposition of `source`), /healthz and `pages`.
// Throws std::runtime_error when the address cannot be bound.
class HttpServer {
 public:
  HttpServer(const ListenAddress& address, const prometheus::Collectable& source,
             std::vector<TextPage> pages = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound (the kernel's choice when the configured port is 0).
  int port() const { return port_; }

 private:
  std::vector<std::unique_ptr<CivetHandler>> handlers_;
  std::unique_ptr<CivetServer> server_;  // destroyed first: stops threads before handlers go
  int port_ = 0;
};

// The body served at /metrics for `source` (exposed for tests).
std::string renderMetrics(const prometheus::Collectable& source);

}  // namespace ipcwatch
