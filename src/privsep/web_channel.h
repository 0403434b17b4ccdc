#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/unique_fd.h"

namespace ipcwatch {

// The messages the web process and the agent exchange over their socketpair (SOCK_SEQPACKET,
// one message per datagram). The web process parses HTTP from the network and holds no
// capability; the agent holds the probes and the privileges and answers only these requests.
enum class WebMessage : std::uint16_t {
  // web process -> agent, at start-up
  kBound = 1,        // the listening socket is bound and the process confined; value = port
  kStartFailed = 2,  // text = why (cannot bind, TLS, the confinement)
  // agent -> web process, at start-up
  kServe = 3,  // everything is up: start answering
  // web process -> agent: requests (the only messages the agent answers)
  kGetMetrics = 10,  // the /metrics exposition
  kGetDenials = 11,  // the /denials page
  // agent -> web process: answers, with the request's id
  kBody = 20,    // an attached memfd holds the body; value = its length
  kFailed = 21,  // text = why the request could not be answered
};

// One received message. `fd` is the descriptor attached to kBody.
struct WebChannelMessage {
  WebMessage type{};
  std::uint64_t id = 0;
  std::uint64_t value = 0;
  std::string text;
  UniqueFd fd;
};

// One end of the socketpair. Every message is a fixed header (magic, version, type, id, value)
// followed by at most kMaxText bytes of text; a datagram of another size, magic or version, or of
// an unknown type, is refused (receive returns an error), so the agent's side parses nothing
// free-form from the unprivileged process.
class WebChannel {
 public:
  static constexpr std::size_t kMaxText = 4096;

  // A connected pair (SOCK_SEQPACKET, close-on-exec); throws std::system_error.
  static std::pair<WebChannel, WebChannel> pair();

  WebChannel() = default;
  explicit WebChannel(UniqueFd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

  // Sends one message (text is cut at kMaxText); returns false when the peer is gone.
  bool send(WebMessage type, std::uint64_t id, std::uint64_t value, std::string_view text = {},
            int attach_fd = -1) const;
  // Sends `body` as a kBody answer: written to a memfd whose descriptor goes with the message,
  // so that a body of any size costs the sender one datagram and never waits for the reader.
  bool sendBody(std::uint64_t id, std::string_view body) const;

  struct Received {
    std::optional<WebChannelMessage> message;  // nullopt: closed, timed out or refused
    bool closed = false;                       // the peer closed its end
    std::string error;                         // why a datagram was refused ("" otherwise)
  };
  // Waits up to `timeout` (nullopt: forever) for one message; `also_wake` (when >= 0) ends the
  // wait when it becomes readable, with no message and no error.
  Received receive(std::optional<std::chrono::milliseconds> timeout, int also_wake = -1) const;

  // Reads a kBody message's body from its memfd; throws std::runtime_error when it is short.
  static std::string readBody(const WebChannelMessage& message);

 private:
  UniqueFd fd_;
};

}  // namespace ipcwatch
