#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/listen_address.h"
#include "http/guarded_server.h"
#include "metrics/metric_family.h"
#include "util/fresh_single_flight.h"
#include "web/web_config.h"

namespace httplib {
class Server;
}

namespace ipcwatch {

// A plain-text page rendered on each request (e.g. /denials).
struct TextPage {
  std::string uri;
  std::string title;  // its line on the landing page
  std::function<std::string()> render;
};

// The limits the server is held to (docs/security.md, "HTTP limits").
struct HttpLimits {
  // Requests served at once; connections still sending their request hold no worker (the
  // ConnectionFront holds them, up to connection.max_connections).
  int worker_threads = 8;
  ConnectionLimits connection;
};

class RequestGate;

// Serves / (a landing page), /metrics (the body `metrics` renders), /healthz and `pages`, GET
// and HEAD only, over TLS and behind basic auth when `security` asks for them. The constructor
// binds the listening socket and sets TLS up, starting no thread (so that a process can give up
// its privileges after it, single-threaded); nothing is accepted before start(). Throws
// std::runtime_error when the address cannot be bound or TLS cannot be set up.
class HttpServer {
 public:
  HttpServer(const ListenAddress& address, std::function<std::string()> metrics,
             std::vector<TextPage> pages = {}, const WebSecurityConfig& security = {},
             const HttpLimits& limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the threads that accept and serve connections; call once.
  void start();
  // The port actually bound (the kernel's choice when the configured port is 0).
  int port() const { return port_; }

 private:
  // Scrapes that arrive while /metrics is being gathered share the next gathering (see
  // FreshSingleFlight): first, so that it outlives the handlers that use it.
  std::unique_ptr<FreshSingleFlight<std::string>> metrics_flight_;
  std::unique_ptr<RequestGate> gate_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;  // accepts connections until the destructor stops the server
  int port_ = 0;
};

// The text exposition of `source`: what /metrics serves.
std::string renderMetrics(const MetricSource& source);

}  // namespace ipcwatch
