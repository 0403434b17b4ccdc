#include "http/guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/worker_pool.h"

namespace ipcwatch {
namespace {

using Clock = std::chrono::steady_clock;

thread_local bool close_after_response = false;  // set for the connection this thread serves

// One connection as cpp-httplib's Stream while a worker serves one request on it: the bytes
// of the request the front has read already come first, then the non-blocking socket (or its
// TLS session), within a byte budget and the request's deadline.
class GuardedStream : public httplib::Stream {
 public:
  GuardedStream(int sock, SSL* ssl, const ConnectionLimits& limits, std::string read_ahead,
                Clock::time_point deadline)
      : sock_(sock),
        ssl_(ssl),
        limits_(limits),
        read_ahead_(std::move(read_ahead)),
        deadline_(deadline) {}

  bool overLimit() const { return over_limit_; }
  // What the front read that this request did not use: the start of the next one.
  std::string takeReadAhead() { return read_ahead_.substr(read_ahead_used_); }

  bool is_readable() const override {
    return read_ahead_used_ < read_ahead_.size() || (ssl_ != nullptr && SSL_pending(ssl_) > 0) ||
           waitFor(POLLIN, readWait());
  }
  bool is_writable() const override { return waitFor(POLLOUT, limits_.io_timeout); }

  ssize_t read(char* ptr, size_t size) override {
    if (read_bytes_ >= limits_.max_request_bytes) {
      over_limit_ = true;
      return -1;
    }
    size = std::min(size, limits_.max_request_bytes - read_bytes_);
    if (read_ahead_used_ < read_ahead_.size()) {
      const std::size_t n = std::min(size, read_ahead_.size() - read_ahead_used_);
      std::memcpy(ptr, read_ahead_.data() + read_ahead_used_, n);
      read_ahead_used_ += n;
      read_bytes_ += n;
      return static_cast<ssize_t>(n);
    }
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
  std::string read_ahead_;
  std::size_t read_ahead_used_ = 0;
  size_t read_bytes_ = 0;
  const Clock::time_point deadline_;
  bool over_limit_ = false;
};

// One accepted connection while the front holds it.
struct Connection {
  enum class State { kHandshake, kIdle, kReading };
  int sock = -1;
  SSL* ssl = nullptr;
  State state = State::kIdle;
  std::string head;            // what has arrived of the next request
  Clock::time_point deadline;  // of the handshake, the idle wait or the request head
  std::size_t requests_left = 0;
};

void closeConnection(Connection& connection, bool clean) {
  if (connection.ssl != nullptr) {
    if (clean) {
      SSL_shutdown(connection.ssl);
    }
    SSL_free(connection.ssl);
    ERR_clear_error();
  }
  if (connection.sock >= 0) {
    shutdown(connection.sock, SHUT_RDWR);
    close(connection.sock);
  }
  connection.sock = -1;
  connection.ssl = nullptr;
}

// Whether `head` holds a whole request head (the blank line after the headers).
bool headComplete(const std::string& head) {
  return head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos;
}

}  // namespace

void closeConnectionAfterResponse() {
  close_after_response = true;
}

struct ConnectionFront::Impl {
  Impl(SSL_CTX* ctx, const ConnectionLimits& limits, std::size_t workers, ServeRequest serve)
      : ctx_(ctx),
        limits_(limits),
        serve_(std::move(serve)),
        // Every connection the front holds may be waiting for a worker at once: the queue is
        // never what blocks the front.
        pool_(workers, limits.max_connections + 1) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event);
    thread_ = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake();
    thread_.join();
    // The requests in service are answered; their connections then find the front stopped.
    pool_.shutdown();
    const std::lock_guard lock(mutex_);
    for (auto& connection : incoming_) {
      closeConnection(*connection, false);
    }
    close(wake_);
    close(epoll_);
  }

  void adopt(int sock) {
    auto connection = std::make_unique<Connection>();
    connection->sock = sock;
    connection->requests_left = limits_.max_requests;
    const int flags = fcntl(sock, F_GETFL);
    if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) != 0) {
      closeConnection(*connection, false);
      return;
    }
    if (ctx_ != nullptr) {
      connection->ssl = SSL_new(ctx_);
      if (connection->ssl == nullptr || SSL_set_fd(connection->ssl, sock) != 1) {
        closeConnection(*connection, false);
        return;
      }
      connection->state = Connection::State::kHandshake;
      connection->deadline = Clock::now() + limits_.request_timeout;
    } else {
      connection->state = Connection::State::kIdle;
      connection->deadline = Clock::now() + limits_.keep_alive_timeout;
    }
    hand(std::move(connection));
  }

 private:
  // Gives a connection to the front thread (from the acceptor or a worker).
  void hand(std::unique_ptr<Connection> connection) {
    {
      const std::lock_guard lock(mutex_);
      if (!stopping_) {
        incoming_.push_back(std::move(connection));
      }
    }
    if (connection) {
      closeConnection(*connection, false);  // the front has stopped
      return;
    }
    wake();
  }

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof one);
  }

  void run() {
    std::vector<epoll_event> events(256);
    for (;;) {
      std::vector<std::unique_ptr<Connection>> arrived;
      {
        const std::lock_guard lock(mutex_);
        if (stopping_) {
          break;
        }
        arrived.swap(incoming_);
      }
      for (auto& connection : arrived) {
        const int sock = connection->sock;
        Connection* raw = connection.get();
        held_[sock] = std::move(connection);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = sock;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, sock, &event);
        progress(*raw);  // data may be waiting already (TLS records read ahead, pipelining)
      }
      evictOverCapacity();
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(waitMillis()));
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_) {
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t r = read(wake_, &count, sizeof count);
          continue;
        }
        if (const auto it = held_.find(events[i].data.fd); it != held_.end()) {
          progress(*it->second);
        }
      }
      expire();
    }
    for (auto& [sock, connection] : held_) {
      closeConnection(*connection, false);
    }
    held_.clear();
  }

  // How long epoll may sleep: until the nearest deadline, at most 100 ms.
  long waitMillis() const {
    auto wait = std::chrono::milliseconds(100);
    const auto now = Clock::now();
    for (const auto& [sock, connection] : held_) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(connection->deadline - now);
      wait = std::max(std::chrono::milliseconds(0), std::min(wait, left));
    }
    return wait.count();
  }

  // Reads what has arrived without blocking; hands a connection on as soon as its head is
  // complete or over budget.
  void progress(Connection& connection) {
    if (connection.state == Connection::State::kHandshake) {
      const int r = SSL_accept(connection.ssl);
      if (r != 1) {
        const int error = SSL_get_error(connection.ssl, r);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          watch(connection, error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        } else {
          drop(connection);  // a failed handshake: wrong protocol, refused certificate
        }
        return;
      }
      connection.state = Connection::State::kIdle;
      connection.deadline = Clock::now() + limits_.keep_alive_timeout;
      watch(connection, EPOLLIN);
    }
    char buffer[4096];
    while (!headComplete(connection.head) && connection.head.size() < limits_.max_request_bytes) {
      const std::size_t room =
          std::min(sizeof buffer, limits_.max_request_bytes - connection.head.size());
      ssize_t n;
      if (connection.ssl != nullptr) {
        const int r = SSL_read(connection.ssl, buffer, static_cast<int>(room));
        n = r;
        if (r <= 0) {
          const int error = SSL_get_error(connection.ssl, r);
          if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            watch(connection, error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
          }
          drop(connection);
          return;
        }
      } else {
        n = recv(connection.sock, buffer, room, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          return;
        }
        if (n <= 0) {
          drop(connection);  // closed by the client, or a socket error
          return;
        }
      }
      if (connection.state == Connection::State::kIdle) {
        connection.state = Connection::State::kReading;
        connection.deadline = Clock::now() + limits_.request_timeout;
      }
      connection.head.append(buffer, static_cast<std::size_t>(n));
    }
    dispatch(connection);
  }

  void watch(Connection& connection, std::uint32_t events) const {
    epoll_event event{};
    event.events = events;
    event.data.fd = connection.sock;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.sock, &event);
  }

  std::unique_ptr<Connection> release(Connection& connection) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, connection.sock, nullptr);
    auto it = held_.find(connection.sock);
    auto owned = std::move(it->second);
    held_.erase(it);
    return owned;
  }

  void drop(Connection& connection) {
    auto owned = release(connection);
    closeConnection(*owned, false);
  }

  // One request of the connection on a worker; the connection then comes back or is closed.
  void dispatch(Connection& connection) {
    pool_.enqueue([this, owned = std::shared_ptr<Connection>(release(connection))]() mutable {
      Connection& c = *owned;
      GuardedStream stream(c.sock, c.ssl, limits_, std::move(c.head), c.deadline);
      c.head.clear();
      close_after_response = false;
      bool connection_closed = false;
      const bool clean = serve_(stream, c.requests_left == 1, connection_closed);
      --c.requests_left;
      if (!clean || connection_closed || stream.overLimit() || close_after_response ||
          c.requests_left == 0) {
        closeConnection(c, clean && !stream.overLimit());
        return;
      }
      c.head = stream.takeReadAhead();
      c.state = c.head.empty() ? Connection::State::kIdle : Connection::State::kReading;
      c.deadline =
          Clock::now() + (c.head.empty() ? limits_.keep_alive_timeout : limits_.request_timeout);
      auto back = std::make_unique<Connection>(std::move(c));
      c.sock = -1;
      c.ssl = nullptr;
      hand(std::move(back));
    });
  }

  // Past its deadline a handshake or an idle connection is closed; a request head that has
  // started goes to a worker, which answers it 400 once the bytes that came are used up.
  void expire() {
    const auto now = Clock::now();
    std::vector<Connection*> late;
    for (const auto& [sock, connection] : held_) {
      if (connection->deadline <= now) {
        late.push_back(connection.get());
      }
    }
    for (Connection* connection : late) {
      if (connection->state == Connection::State::kReading) {
        dispatch(*connection);
      } else {
        drop(*connection);
      }
    }
  }

  // At max_connections, the connection that has waited longest (the nearest deadline) makes room.
  void evictOverCapacity() {
    while (held_.size() > limits_.max_connections) {
      auto oldest = std::min_element(held_.begin(), held_.end(), [](const auto& a, const auto& b) {
        return a.second->deadline < b.second->deadline;
      });
      drop(*oldest->second);
    }
  }

  SSL_CTX* const ctx_;
  const ConnectionLimits limits_;
  const ServeRequest serve_;
  int epoll_ = -1;
  int wake_ = -1;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> incoming_;  // for the front thread to take
  bool stopping_ = false;
  std::unordered_map<int, std::unique_ptr<Connection>> held_;  // front thread only
  WorkerPool pool_;
  std::thread thread_;
};

ConnectionFront::ConnectionFront(SSL_CTX* ctx, const ConnectionLimits& limits, std::size_t workers,
                                 ServeRequest serve)
    : impl_(std::make_unique<Impl>(ctx, limits, workers, std::move(serve))) {}

ConnectionFront::~ConnectionFront() = default;

void ConnectionFront::adopt(int sock) {
  impl_->adopt(sock);
}

}  // namespace ipcwatch
