#include "http/guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ipcwatch {
namespace {

using Clock = std::chrono::steady_clock;

thread_local bool close_after_response = false;  // set for the connection this thread serves

// One connection as cpp-httplib's Stream: non-blocking socket, optional TLS, a byte budget and
// a deadline for the reads of each request.
class GuardedStream : public httplib::Stream {
 public:
  GuardedStream(int sock, SSL* ssl, const ConnectionLimits& limits)
      : sock_(sock), ssl_(ssl), limits_(limits) {}

  // The budget and deadline start again for each request.
  void beginRequest() {
    read_bytes_ = 0;
    deadline_ = Clock::now() + limits_.request_timeout;
    over_limit_ = false;
  }
  bool overLimit() const { return over_limit_; }

  // Waits for the first byte of the next request, ending early when the server stops.
  bool awaitRequest(const std::atomic<socket_t>& listening) const {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) {
      return true;
    }
    const auto end = Clock::now() + limits_.keep_alive_timeout;
    while (listening != INVALID_SOCKET) {
      const auto left = end - Clock::now();
      if (left <= Clock::duration::zero()) {
        return false;
      }
      const auto slice = std::min<Clock::duration>(left, std::chrono::milliseconds(100));
      pollfd p{sock_, POLLIN, 0};
      const int ready = poll(
          &p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
      if (ready > 0) {
        return (p.revents & POLLIN) != 0;
      }
      if (ready < 0 && errno != EINTR) {
        return false;
      }
    }
    return false;
  }

  bool is_readable() const override {
    return (ssl_ != nullptr && SSL_pending(ssl_) > 0) || waitFor(POLLIN, readWait());
  }
  bool is_writable() const override { return waitFor(POLLOUT, limits_.io_timeout); }

  ssize_t read(char* ptr, size_t size) override {
    if (read_bytes_ >= limits_.max_request_bytes) {
      over_limit_ = true;
      return -1;
    }
    size = std::min(size, limits_.max_request_bytes - read_bytes_);
    for (;;) {
      short want = POLLIN;
      ssize_t n;
      if (ssl_ != nullptr) {
        const int r = SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
        n = r;
        if (r <= 0) {
          const int error = SSL_get_error(ssl_, r);
          if (error == SSL_ERROR_ZERO_RETURN) {
            return 0;
          }
          if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return -1;
          }
          want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        }
      } else {
        n = recv(sock_, ptr, size, MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return -1;
        }
      }
      if (n >= 0) {
        read_bytes_ += static_cast<size_t>(n);
        return n;
      }
      if (!waitFor(want, readWait())) {
        over_limit_ = true;  // the request took too long
        return -1;
      }
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      short want = POLLOUT;
      ssize_t n;
      if (ssl_ != nullptr) {
        const int r = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
        n = r;
        if (r <= 0) {
          const int error = SSL_get_error(ssl_, r);
          if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return -1;
          }
          want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        }
      } else {
        n = send(sock_, ptr, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return -1;
        }
      }
      if (n >= 0) {
        return n;
      }
      if (!waitFor(want, limits_.io_timeout)) {
        return -1;
      }
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    describe(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    describe(getsockname, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // What is left of the request deadline (never negative).
  std::chrono::milliseconds readWait() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  bool waitFor(short events, std::chrono::milliseconds timeout) const {
    const auto end = Clock::now() + timeout;
    for (;;) {
      pollfd p{sock_, events, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      const int ready = poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0)));
      if (ready > 0) {
        return true;  // readable, writable, or an error the next call reports
      }
      if (ready == 0 || errno != EINTR) {
        return false;
      }
    }
  }

  void describe(int (*name)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ip.clear();
    port = 0;
    if (name(sock_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  const int sock_;
  SSL* const ssl_;
  const ConnectionLimits limits_;
  size_t read_bytes_ = 0;
  Clock::time_point deadline_ = Clock::now();
  bool over_limit_ = false;
};

// The TLS handshake, within request_timeout in all.
SSL* acceptTls(int sock, SSL_CTX* ctx, const ConnectionLimits& limits) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, sock) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  const auto end = Clock::now() + limits.request_timeout;
  for (;;) {
    const int r = SSL_accept(ssl);
    if (r == 1) {
      return ssl;
    }
    const int error = SSL_get_error(ssl, r);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) || left.count() <= 0) {
      break;  // a failed handshake (wrong protocol, refused certificate) or a stalled one
    }
    pollfd p{sock, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
  return nullptr;
}

}  // namespace

void closeConnectionAfterResponse() {
  close_after_response = true;
}

void serveConnection(int sock, SSL_CTX* ctx, const ConnectionLimits& limits,
                     const std::atomic<socket_t>& listening, const ServeRequest& serve) {
  const int flags = fcntl(sock, F_GETFL);
  SSL* ssl = nullptr;
  if (flags >= 0 && fcntl(sock, F_SETFL, flags | O_NONBLOCK) == 0 &&
      (ctx == nullptr || (ssl = acceptTls(sock, ctx, limits)) != nullptr)) {
    GuardedStream stream(sock, ssl, limits);
    bool clean = true;
    for (std::size_t left = limits.max_requests; left > 0 && stream.awaitRequest(listening);
         --left) {
      stream.beginRequest();
      close_after_response = false;
      bool connection_closed = false;
      clean = serve(stream, left == 1, connection_closed);
      if (!clean || connection_closed || stream.overLimit() || close_after_response) {
        break;
      }
    }
    if (ssl != nullptr) {
      if (clean && !stream.overLimit()) {
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
    }
  }
  shutdown(sock, SHUT_RDWR);
  close(sock);
}

}  // namespace ipcwatch
