#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "config/listen_address.h"
#include "http/http_server.h"
#include "privsep/web_channel.h"
#include "util/stoppable_thread.h"

namespace ipcwatch {

// What the web process serves, and as whom.
struct WebProcessOptions {
  ListenAddress address;
  std::string address_text;     // as configured, for the log
  std::string web_config_file;  // TLS and basic auth; "" = plain HTTP, no authentication
  HttpLimits limits;
  bool denials_page = false;  // whether /denials is served (the selinux collector is on)
  // The user it runs as once confined (web.user: a name, UID or UID:GID); used when the agent
  // can change users (root, or CAP_SETUID and CAP_SETGID), else it keeps the agent's.
  std::string user = "nobody";
  // How long a request waits for the agent's answer before it is answered 503.
  std::chrono::milliseconds request_timeout{60000};
};

// The agent's unprivileged half: a child process that binds the listening socket, loads the
// TLS context, then gives up everything (another user, no capability in any set, no new
// privileges, not dumpable, an empty read-only root) before it reads a byte from the network.
// It parses HTTP and asks the agent for each page over a WebChannel; the agent keeps the probes
// and the privileges and answers only the channel's fixed requests (WebRequestServer).
// docs/security.md, "Privileges", says what each side holds.
class WebProcess {
 public:
  // Forks the web process and waits until it is bound and confined. The caller must be
  // single-threaded (no thread survives fork, and the child creates its own only after it is
  // confined). Throws std::runtime_error with the child's reason when it cannot start.
  static std::unique_ptr<WebProcess> start(const WebProcessOptions& options,
                                           std::chrono::milliseconds deadline);
  ~WebProcess();  // kills and reaps the process
  WebProcess(const WebProcess&) = delete;
  WebProcess& operator=(const WebProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const WebChannel& channel() const { return channel_; }
  // Lets it accept connections: every request now reaches a WebRequestServer.
  void serve();
  // Reaps the process if it has exited, and says how ("exited with status 1", "killed by
  // signal 9"); nullopt while it runs.
  std::optional<std::string> reapIfExited();

 private:
  WebProcess(pid_t pid, WebChannel channel, int port)
      : pid_(pid), channel_(std::move(channel)), port_(port) {}

  pid_t pid_;
  WebChannel channel_;
  int port_;
  bool reaped_ = false;
};

// The pages the agent renders for its web process.
struct WebPages {
  std::function<std::string()> metrics;
  std::function<std::string()> denials;  // empty: there is no /denials page
};

// The agent has closed its end of the channel: it is gone, and the web process goes with it.
class WebChannelClosed : public std::runtime_error {
 public:
  WebChannelClosed() : std::runtime_error("the agent has closed the channel") {}
};

// The web process's side of the channel: one request at a time (the HTTP server already shares
// one /metrics gathering among concurrent scrapes), each with its own id, so that an answer
// that arrives after its request gave up is recognised and dropped.
class WebClient {
 public:
  WebClient(const WebChannel& channel, std::chrono::milliseconds timeout);
  // The body the agent answers `request` with; throws std::runtime_error when it answers
  // kFailed or does not answer within the timeout, WebChannelClosed when it has closed the
  // channel.
  std::string fetch(WebMessage request);

 private:
  const WebChannel& channel_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::uint64_t last_id_ = 0;
};

// The agent's side of the channel: a thread that answers the web process's requests, one at a
// time, with what `pages` render. A datagram that is not one of the protocol's requests is
// refused and logged; it is never parsed further.
class WebRequestServer {
 public:
  WebRequestServer(const WebChannel& channel, WebPages pages);
  ~WebRequestServer();  // stops the thread; a page being rendered is finished first

 private:
  void serve(int stop_fd);

  const WebChannel& channel_;
  const WebPages pages_;
  bool refusal_logged_ = false;
  StoppableThread thread_;
};

}  // namespace ipcwatch
