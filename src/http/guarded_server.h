#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include <httplib.h>

namespace ipcwatch {

// What one connection may cost the agent.
struct ConnectionLimits {
  std::chrono::milliseconds request_timeout{5000};     // to receive a request head, all of it
  std::chrono::milliseconds io_timeout{5000};          // for each write
  std::chrono::milliseconds keep_alive_timeout{5000};  // idle between two requests
  std::size_t max_request_bytes = 16384;  // request line, headers and any body, per request
  std::size_t max_requests = 100;         // on one connection
};

// Serves one accepted connection (plain, or TLS when `ctx` is set) under `limits`: the request
// head must arrive whole within request_timeout and within max_request_bytes, whatever pace
// the client keeps; past either the request is answered 400 (if anything can still be written)
// and the connection closed. cpp-httplib 0.11.4 on its own bounds neither: its timeout applies
// to each read and its header lines grow without limit. `serve` is the server's
// process_request for one request. Closes the socket.
using ServeRequest =
    std::function<bool(httplib::Stream& stream, bool close_connection, bool& connection_closed)>;
void serveConnection(int sock, SSL_CTX* ctx, const ConnectionLimits& limits,
                     const std::atomic<socket_t>& listening, const ServeRequest& serve);

// Called while a response is being written (from the server's post-routing handler): the
// connection serving it is closed once it is sent.
void closeConnectionAfterResponse();

// cpp-httplib's Server (Base = httplib::Server) or SSLServer (Base = httplib::SSLServer) with
// each connection served by serveConnection.
template <typename Base>
class GuardedServer : public Base {
 public:
  template <typename... Args>
  explicit GuardedServer(ConnectionLimits limits, Args&&... args)
      : Base(std::forward<Args>(args)...), limits_(limits) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    SSL_CTX* ctx = nullptr;
    if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) {
      ctx = Base::ssl_context();
    }
    serveConnection(
        sock, ctx, limits_, this->svr_sock_,
        [this](httplib::Stream& stream, bool close_connection, bool& connection_closed) {
          return this->process_request(stream, close_connection, connection_closed, nullptr);
        });
    return true;
  }

  const ConnectionLimits limits_;
};

}  // namespace ipcwatch
