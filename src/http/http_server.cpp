#include "http/http_server.h"

#include <CivetServer.h>

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "metrics/text_format.h"

namespace ipcwatch {
namespace {

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

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
    html += "<li><a href=\"" + relative + "\">" + page.uri + "</a> &mdash; " + page.title +
            "</li>\n";
  }
  return html + "</ul>\n</body>\n</html>\n";
}

void sendOk(mg_connection* conn, const char* type, const std::string& body, bool head) {
  mg_send_http_ok(conn, type, static_cast<long long>(body.size()));
  if (!head) {
    mg_write(conn, body.data(), body.size());
  }
}

class StaticHandler : public CivetHandler {
 public:
  StaticHandler(std::string uri, const char* type, std::string body)
      : uri_(std::move(uri)), type_(type), body_(std::move(body)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override { return serve(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return serve(conn, true); }

 private:
  bool serve(mg_connection* conn, bool head) {
    // Handlers registered for "/" also receive every unknown path.
    if (std::string_view(mg_get_request_info(conn)->local_uri) != uri_) {
      mg_send_http_error(conn, 404, "%s", "Not Found\n");
      return true;
    }
    sendOk(conn, type_, body_, head);
    return true;
  }

  const std::string uri_;
  const char* type_;
  const std::string body_;
};

class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(const prometheus::Collectable& source) : source_(source) {}
  bool handleGet(CivetServer*, mg_connection* conn) override { return serve(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return serve(conn, true); }

 private:
  bool serve(mg_connection* conn, bool head) {
    std::string body;
    try {
      body = renderMetrics(source_);
    } catch (const std::exception& e) {
      spdlog::error("rendering /metrics failed: {}", e.what());
      mg_send_http_error(conn, 500, "%s", "Internal Server Error\n");
      return true;
    }
    sendOk(conn, kExpositionType, body, head);
    return true;
  }

  const prometheus::Collectable& source_;
};

class TextPageHandler : public CivetHandler {
 public:
  explicit TextPageHandler(TextPage page) : page_(std::move(page)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override { return serve(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return serve(conn, true); }

 private:
  bool serve(mg_connection* conn, bool head) {
    std::string body;
    try {
      body = page_.render();
    } catch (const std::exception& e) {
      spdlog::error("rendering {} failed: {}", page_.uri, e.what());
      mg_send_http_error(conn, 500, "%s", "Internal Server Error\n");
      return true;
    }
    sendOk(conn, "text/plain; charset=utf-8", body, head);
    return true;
  }

  const TextPage page_;
};

}  // namespace

std::string renderMetrics(const prometheus::Collectable& source) {
  std::string out;
  appendExposition(out, source.Collect());
  return out;
}

HttpServer::HttpServer(const ListenAddress& address, const prometheus::Collectable& source,
                       std::vector<TextPage> pages) {
  const std::vector<std::string> options = {
      "listening_ports", toCivetwebPorts(address),
      "num_threads", "4",
      "request_timeout_ms", "10000",
      "enable_keep_alive", "yes",
      "keep_alive_timeout_ms", "10000",
  };
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot listen on " + toCivetwebPorts(address) + ": " + e.what());
  }
  handlers_.push_back(
      std::make_unique<StaticHandler>("/", "text/html; charset=utf-8", landingPage(pages)));
  handlers_.push_back(std::make_unique<StaticHandler>("/healthz", "text/plain; charset=utf-8", "ok\n"));
  handlers_.push_back(std::make_unique<MetricsHandler>(source));
  server_->addHandler("/", handlers_[0].get());
  server_->addHandler("/healthz", handlers_[1].get());
  server_->addHandler("/metrics", handlers_[2].get());
  for (auto& page : pages) {
    const std::string uri = page.uri;
    handlers_.push_back(std::make_unique<TextPageHandler>(std::move(page)));
    server_->addHandler(uri, handlers_.back().get());
  }
  const auto ports = server_->getListeningPorts();
  port_ = ports.empty() ? address.port : ports.front();
}

HttpServer::~HttpServer() {
  if (server_) {
    server_->close();
  }
}

}  // namespace ipcwatch
