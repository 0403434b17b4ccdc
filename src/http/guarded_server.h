#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

namespace ipcwatch {

// What one connection may cost the agent.
struct ConnectionLimits {
  std::chrono::milliseconds request_timeout{5000};     // to receive a request head, all of it
  std::chrono::milliseconds io_timeout{5000};          // for each write
  std::chrono::milliseconds keep_alive_timeout{5000};  // idle between two requests
  std::size_t max_request_bytes = 16384;  // request line, headers and any body, per request
  std::size_t max_requests = 100;         // on one connection
  // Connections open at once, waiting or served; past it the one waiting longest is closed.
  std::size_t max_connections = 4096;
};

// Called while a response is being written (from the server's post-routing handler): the
// connection serving it is closed once it is sent.
void closeConnectionAfterResponse();

// The server's process_request for one request on `stream`; returns false when the connection
// cannot go on.
using ServeRequest =
    std::function<bool(httplib::Stream& stream, bool close_connection, bool& connection_closed)>;

// The event-driven front of the HTTP server: one thread holds every accepted connection (plain,
// or TLS when `ctx` is set) in an epoll set while it handshakes, idles between requests or
// sends its request head, reading whatever arrives without blocking. Only a connection whose
// head is complete — or over max_request_bytes, or past request_timeout, which the server then
// answers 400 — is handed to one of `workers` threads, which serves that one request and gives
// the connection back. A client that is slow or stalls, however many, costs a descriptor and a
// buffer, never a worker: a scrape is served as soon as its own head has arrived. cpp-httplib
// 0.11.4 on its own serves each connection on a worker from accept to close, and bounds
// neither the time nor the size of a request head.
class ConnectionFront {
 public:
  ConnectionFront(SSL_CTX* ctx, const ConnectionLimits& limits, std::size_t workers,
                  ServeRequest serve);
  ~ConnectionFront();  // closes what it holds, after the requests in service are answered
  ConnectionFront(const ConnectionFront&) = delete;
  ConnectionFront& operator=(const ConnectionFront&) = delete;

  // Takes an accepted socket over (and closes it in the end); returns at once.
  void adopt(int sock);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What HttpServer does with a GuardedServer besides cpp-httplib's own interface.
class GuardedFront {
 public:
  virtual ~GuardedFront() = default;
  // After bind: listen(2) again on the bound socket, which sets the new backlog. cpp-httplib
  // (Debian builds it as a library, so its CPPHTTPLIB_LISTEN_BACKLOG cannot be changed here)
  // listens with a backlog of 5, and a burst of clients connecting at once would wait out SYN
  // retransmits before the front could hold them.
  virtual bool setListenBacklog(int backlog) = 0;
  // Starts the ConnectionFront's threads, before the server accepts its first connection.
  virtual void startFront() = 0;
};

// cpp-httplib's Server (Base = httplib::Server) or SSLServer (Base = httplib::SSLServer) whose
// accepted connections go to a ConnectionFront. Constructing it starts no thread.
template <typename Base>
class GuardedServer : public Base, public GuardedFront {
 public:
  bool setListenBacklog(int backlog) override { return ::listen(this->svr_sock_, backlog) == 0; }

  template <typename... Args>
  explicit GuardedServer(ConnectionLimits limits, std::size_t workers, Args&&... args)
      : Base(std::forward<Args>(args)...), limits_(limits), workers_(workers) {}

  void startFront() override {
    SSL_CTX* ctx = nullptr;
    if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) {
      ctx = Base::ssl_context();
      if (ctx == nullptr) {
        return;  // TLS could not be set up: the server is never started (is_valid() is false)
      }
    }
    front_ = std::make_unique<ConnectionFront>(
        ctx, limits_, workers_,
        [this](httplib::Stream& stream, bool close_connection, bool& connection_closed) {
          return this->process_request(stream, close_connection, connection_closed, nullptr);
        });
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    if (front_ == nullptr) {
      close(sock);
      return false;
    }
    front_->adopt(sock);
    return true;
  }

  const ConnectionLimits limits_;
  const std::size_t workers_;
  std::unique_ptr<ConnectionFront> front_;
};

}  // namespace ipcwatch
