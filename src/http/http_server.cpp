#include "http/http_server.h"

#include <sys/resource.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "http/request_gate.h"
#include "http/worker_pool.h"
#include "metrics/text_format.h"
#include "web/tls_context.h"

namespace ipcwatch {
namespace {

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextType = "text/plain; charset=utf-8";
// Connections the kernel may queue before the acceptor takes them (SOMAXCONN caps it).
constexpr int kListenBacklog = 1024;

// The landing page links every endpoint the agent serves (titles are the agent's own text).
std::string landingPage(const std::vector<TextPage>& pages) {
  std::string html = R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ipcwatch</title></head>
<body>
<h1>ipcwatch</h1>
<p>Inter-process communication health of this host, for Prometheus.</p>
<ul>
<li><a href="metrics">/metrics</a> &mdash; Prometheus metrics</li>
<li><a href="healthz">/healthz</a> &mdash; liveness</li>
)";
  for (const auto& page : pages) {
    const std::string relative = page.uri.substr(page.uri.find_first_not_of('/'));
    html +=
        "<li><a href=\"" + relative + "\">" + page.uri + "</a> &mdash; " + page.title + "</li>\n";
  }
  return html + "</ul>\n</body>\n</html>\n";
}

// Serves one path: its body is rendered on each request (GET, and HEAD, for which the server
// sends the headers only). A rendering failure is logged and answered with 500.
void servePage(httplib::Server& server, const std::string& uri, const char* type,
               std::function<std::string()> render) {
  server.Get(uri, [uri, type, render = std::move(render)](const httplib::Request&,
                                                          httplib::Response& response) {
    try {
      // What set_content does, but moving the body in: /metrics can be megabytes.
      response.body = render();
      response.headers.erase("Content-Type");
      response.set_header("Content-Type", type);
    } catch (const std::exception& e) {
      spdlog::error("rendering {} failed: {}", uri, e.what());
      response.status = 500;
    }
  });
}

std::string reasonPhrase(int status) {
  static const std::map<int, std::string> kPhrases = {
      {400, "Bad Request"},           {401, "Unauthorized"},          {404, "Not Found"},
      {405, "Method Not Allowed"},    {413, "Payload Too Large"},     {414, "URI Too Long"},
      {416, "Range Not Satisfiable"}, {500, "Internal Server Error"},
  };
  const auto it = kPhrases.find(status);
  return it != kPhrases.end() ? it->second : "Error";
}

// The server's own answers (404, 400, 500...) carry their reason as plain text. Unhandled:
// the response is otherwise sent as it is (no byte ranges applied to it).
httplib::Server::HandlerResponse describeError(const httplib::Request&,
                                               httplib::Response& response) {
  if (response.body.empty()) {
    response.set_content(reasonPhrase(response.status) + "\n", kTextType);
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// An HTTPS server set up from `tls`; throws what configureTls throws.
std::unique_ptr<httplib::Server> makeTlsServer(const TlsServerConfig& tls,
                                               const HttpLimits& limits) {
  std::string error;
  auto server = std::make_unique<GuardedServer<httplib::SSLServer>>(
      limits.connection, static_cast<std::size_t>(limits.worker_threads), [&](SSL_CTX& ctx) {
        try {
          configureTls(&ctx, tls);
          return true;
        } catch (const std::exception& e) {
          error = e.what();  // not thrown through the library: it frees the context on false
          return false;
        }
      });
  if (!server->is_valid()) {
    throw std::runtime_error(error.empty() ? "cannot create a TLS context" : error);
  }
  return server;
}

// Each connection the front holds is a descriptor: the soft limit (1 024 by default) goes up to
// the hard one (capped), so that a burst of slow clients does not starve the agent's own opens.
void raiseOpenFileLimit(std::size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) {
    return;
  }
  const rlim_t target = std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(wanted));
  if (target > limit.rlim_cur) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("cannot raise the open file limit to {}: {}", target, std::strerror(errno));
    }
  }
}

}  // namespace

std::string renderMetrics(const MetricSource& source) {
  // Sized like the previous scrape: a megabyte string grown by doubling is reallocated 17 times.
  static std::atomic<std::size_t> last_size{0};
  std::string out;
  out.reserve(last_size.load(std::memory_order_relaxed));
  appendExposition(out, source.collect());
  last_size.store(out.size(), std::memory_order_relaxed);
  return out;
}

HttpServer::HttpServer(const ListenAddress& address, std::function<std::string()> metrics,
                       std::vector<TextPage> pages, const WebSecurityConfig& security,
                       const HttpLimits& limits)
    : metrics_flight_(std::make_unique<FreshSingleFlight<std::string>>()),
      gate_(std::make_unique<RequestGate>(security.basic_auth_users)),
      server_(security.tls
                  ? makeTlsServer(*security.tls, limits)
                  : std::make_unique<GuardedServer<httplib::Server>>(
                        limits.connection, static_cast<std::size_t>(limits.worker_threads))) {
  raiseOpenFileLimit(limits.connection.max_connections + 1024);
  httplib::Server& server = *server_;
  // The accepting thread's hand-off to the ConnectionFront, which returns at once.
  server.new_task_queue = [] { return new WorkerPool(1, 64); };
  // What the Keep-Alive response header announces; the ConnectionFront applies them.
  server.set_keep_alive_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(limits.connection.keep_alive_timeout)
          .count());
  server.set_keep_alive_max_count(limits.connection.max_requests);
  server.set_payload_max_length(0);  // every page is read-only: a request has no body
  server.set_pre_routing_handler(
      [gate = gate_.get()](const httplib::Request& request, httplib::Response& response) {
        return gate->admit(request, response);
      });
  httplib::Headers headers;  // http_server_config.headers, on every response
  for (const auto& [name, value] : security.headers) {
    headers.emplace(name, value);
  }
  server.set_default_headers(std::move(headers));
  // After an error the rest of what the client sent (a body, the tail of a refused head)
  // cannot be trusted to start a request: the connection is closed.
  server.set_post_routing_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.status >= 400) {
      response.headers.erase("Keep-Alive");
      response.headers.erase("Connection");
      response.set_header("Connection", "close");
      closeConnectionAfterResponse();
    }
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse(describeError));
  server.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr) {
        spdlog::error("serving {} failed", request.path);
        response.status = 500;
      });

  const std::string landing = landingPage(pages);
  servePage(server, "/", "text/html; charset=utf-8", [landing] { return landing; });
  servePage(server, "/healthz", kTextType, [] { return std::string("ok\n"); });
  // Concurrent scrapers (an HA Prometheus pair, a dashboard refresh) do not gather the host once
  // each: a scrape waits for the one in progress and shares the next, which starts after it
  // arrived, so nothing that happened before the request is missing from its answer.
  servePage(server, "/metrics", kExpositionType,
            [metrics = std::move(metrics), flight = metrics_flight_.get()] {
              return *flight->get(metrics);
            });
  for (auto& page : pages) {
    servePage(server, page.uri, kTextType, std::move(page.render));
  }

  const std::string host = bindHost(address);
  port_ = address.port == 0 ? server.bind_to_any_port(host)
                            : (server.bind_to_port(host, address.port) ? address.port : -1);
  if (port_ < 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(address.port) +
                             ": " + std::strerror(errno));
  }
  if (!dynamic_cast<GuardedFront&>(*server_).setListenBacklog(kListenBacklog)) {
    spdlog::warn("cannot raise the listen backlog to {}: {}", kListenBacklog, std::strerror(errno));
  }
}

void HttpServer::start() {
  dynamic_cast<GuardedFront&>(*server_).startFront();
  listener_ = std::thread([server = server_.get()] { server->listen_after_bind(); });
}

HttpServer::~HttpServer() {
  if (listener_.joinable()) {
    server_->stop();
    listener_.join();
  }
}

}  // namespace ipcwatch
