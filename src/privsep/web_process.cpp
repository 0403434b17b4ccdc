#include "privsep/web_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/config.h"
#include "web/web_config.h"

namespace ipcwatch {
namespace {

// How long the agent waits for its web process to exit once the channel is closed.
constexpr int kExitWaitMs = 2000;

std::string errnoText(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Every descriptor but 0-2 and `keep` is closed: the web process starts with none of the
// agent's (a fork before the probes load holds few, but nothing is left to chance).
void closeOtherDescriptors(int keep) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return;
  }
  std::vector<int> open;
  while (const dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] != '.' && fd > 2 && fd != keep && fd != dirfd(dir)) {
      open.push_back(fd);
    }
  }
  closedir(dir);
  for (const int fd : open) {
    close(fd);
  }
}

// Makes an empty, read-only tmpfs the process's root: a detached mount (fsopen/fsmount, no
// mount point needed, nothing appears in any mount table) entered with fchdir + chroot. After it
// the process can open no file of the host. Returns "" or why it could not.
std::string enterEmptyRoot() {
  const UniqueFd fs(fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fs.valid()) {
    return errnoText("fsopen(tmpfs)");
  }
  if (fsconfig(fs.get(), FSCONFIG_SET_STRING, "size", "4k", 0) != 0 ||
      fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", "0555", 0) != 0 ||
      fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return errnoText("creating the tmpfs");
  }
  const UniqueFd mount(
      fsmount(fs.get(), FSMOUNT_CLOEXEC,
              MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!mount.valid()) {
    return errnoText("fsmount");
  }
  if (fchdir(mount.get()) != 0) {
    return errnoText("fchdir");
  }
  if (chroot(".") != 0) {
    const std::string why = errnoText("chroot");
    (void)!chdir("/");
    return why;
  }
  return "";
}

bool hasEffective(cap_value_t cap) {
  cap_t caps = cap_get_proc();
  cap_flag_value_t value = CAP_CLEAR;
  if (caps != nullptr) {
    cap_get_flag(caps, cap, CAP_EFFECTIVE, &value);
    cap_free(caps);
  }
  return value == CAP_SET;
}

struct Confinement {
  std::string user;  // as the log names it
  std::string root;  // "an empty read-only root", or why the host's file system stays
};

// Gives the calling (only) thread's process up: the empty root, then no capability in any set
// (bounding and ambient included), `user`'s uid, gid and no supplementary groups, no new
// privileges, not dumpable (so that no other process of that user may ptrace it or read its
// memory). Throws std::runtime_error when any step fails: the web process never serves with
// more than this.
Confinement confine(const std::string& user) {
  Confinement out;
  tzset();  // log timestamps keep the local time zone without /etc/localtime
  const bool can_switch = geteuid() == 0 || (hasEffective(CAP_SETUID) && hasEffective(CAP_SETGID));
  ResolvedUser target{geteuid(), getegid(), ""};
  if (can_switch) {
    if (!resolveUser(user, target)) {
      throw std::runtime_error("web.user: no user '" + user + "' on this host");
    }
    if (target.uid == 0) {
      throw std::runtime_error("web.user: '" + user +
                               "' is uid 0; the web process must not run as root");
    }
  }
  // After the user lookup (NSS reads /etc/passwd and may load modules), before the capabilities
  // that allow it go.
  const std::string root_error = enterEmptyRoot();
  out.root = root_error.empty() ? "an empty read-only root"
                                : "the host's file system (" + root_error + ")";
  if (hasEffective(CAP_SETPCAP)) {
    for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
      if (cap_drop_bound(cap) != 0) {
        throw std::runtime_error(
            errnoText("dropping capability " + std::to_string(cap) + " from the bounding set"));
      }
    }
  }
  if (cap_reset_ambient() != 0) {
    throw std::runtime_error(errnoText("clearing the ambient capabilities"));
  }
  if (can_switch) {
    if (setgroups(0, nullptr) != 0 || setresgid(target.gid, target.gid, target.gid) != 0 ||
        setresuid(target.uid, target.uid, target.uid) != 0) {
      throw std::runtime_error(errnoText("becoming " + user));
    }
  }
  cap_t none = cap_init();
  const int set = none != nullptr ? cap_set_proc(none) : -1;
  cap_free(none);
  if (set != 0) {
    throw std::runtime_error(errnoText("clearing the capabilities"));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw std::runtime_error(errnoText("prctl"));
  }
  // What the kernel now says, not what was asked for.
  cap_t now = cap_get_proc();
  cap_t empty = cap_init();
  const bool clear = now != nullptr && empty != nullptr && cap_compare(now, empty) == 0;
  cap_free(now);
  cap_free(empty);
  if (!clear) {
    throw std::runtime_error("capabilities remain after dropping them all");
  }
  const uid_t uid = getuid();
  const gid_t gid = getgid();
  out.user = (target.name.empty() ? "" : target.name + " ") + "(uid " + std::to_string(uid) +
             ", gid " + std::to_string(gid) + ")";
  if (!can_switch) {
    out.user += ", the agent's own user: it cannot change users";
  }
  return out;
}

// The web process from fork to exit: it never returns. It exits when the agent closes its end
// of the channel (or is killed with it while it still runs as root, PR_SET_PDEATHSIG), and
// ignores SIGTERM, SIGINT and SIGHUP (blocked since before the fork): the agent alone decides
// when it stops.
[[noreturn]] void runWebProcess(const WebProcessOptions& options, const WebChannel& channel,
                                pid_t agent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != agent) {
    _exit(1);
  }
  prctl(PR_SET_NAME, "ipcwatch-web", 0, 0, 0);
  try {
    closeOtherDescriptors(channel.fd());
    const WebSecurityConfig security = options.web_config_file.empty()
                                           ? WebSecurityConfig{}
                                           : loadWebConfigFile(options.web_config_file);
    WebClient client(channel, options.request_timeout);
    // A request that finds the agent gone gets no answer: the process ends with the agent.
    const auto fetch = [&client](WebMessage request) {
      try {
        return client.fetch(request);
      } catch (const WebChannelClosed&) {
        _exit(0);
      }
    };
    std::vector<TextPage> pages;
    if (options.denials_page) {
      pages.push_back({"/denials", "recent SELinux denials and the rules that would allow them",
                       [fetch] { return fetch(WebMessage::kGetDenials); }});
    }
    HttpServer server(
        options.address, [fetch] { return fetch(WebMessage::kGetMetrics); }, std::move(pages),
        security, options.limits);
    const Confinement confinement = confine(options.user);
    channel.send(WebMessage::kBound, 0, static_cast<std::uint64_t>(server.port()));
    for (;;) {
      auto received = channel.receive(std::nullopt);
      if (received.closed) {
        _exit(0);  // the agent gave up starting
      }
      if (received.message && received.message->type == WebMessage::kServe) {
        break;
      }
    }
    server.start();
    spdlog::info("serving metrics on {} (port {}) over {} with {}", options.address_text,
                 server.port(), security.tls ? "TLS" : "plain HTTP",
                 security.basic_auth_users.empty() ? "no authentication" : "basic auth");
    spdlog::info("web process {} serves HTTP as {} with no capabilities, in {}", getpid(),
                 confinement.user, confinement.root);
    // The agent may no longer signal this process (it holds no CAP_KILL for another user's
    // process, and the kernel clears the parent-death signal when the credentials change): the
    // channel is what ties the two. The agent's end closes when it exits, however it exits.
    for (;;) {
      pollfd hangup{channel.fd(), 0, 0};
      if (poll(&hangup, 1, -1) > 0 && (hangup.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        _exit(0);
      }
    }
  } catch (const std::exception& e) {
    channel.send(WebMessage::kStartFailed, 0, 0, e.what());
  }
  _exit(1);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

}  // namespace

std::unique_ptr<WebProcess> WebProcess::start(const WebProcessOptions& options,
                                              std::chrono::milliseconds deadline) {
  auto [agent_end, web_end] = WebChannel::pair();
  const pid_t agent = getpid();
  spdlog::default_logger()->flush();
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(errnoText("cannot start the web process: fork"));
  }
  if (pid == 0) {
    agent_end = WebChannel();
    runWebProcess(options, web_end, agent);
  }
  web_end = WebChannel();
  std::unique_ptr<WebProcess> process(new WebProcess(pid, std::move(agent_end), 0));
  const auto received = process->channel_.receive(deadline);
  if (received.message && received.message->type == WebMessage::kBound &&
      received.message->value > 0 && received.message->value <= 65535) {
    process->port_ = static_cast<int>(received.message->value);
    return process;
  }
  if (received.message && received.message->type == WebMessage::kStartFailed) {
    throw std::runtime_error(received.message->text);
  }
  if (received.closed) {
    int status = 0;
    waitpid(pid, &status, 0);
    process->reaped_ = true;
    throw std::runtime_error("the web process " + describeStatus(status) + " while starting");
  }
  throw std::runtime_error(received.error.empty()
                               ? "the web process did not start within " +
                                     std::to_string(deadline.count() / 1000) + " s"
                               : "the web process sent " + received.error);
}

WebProcess::~WebProcess() {
  if (reaped_) {
    return;
  }
  // Closing the channel ends it (see runWebProcess); SIGKILL works only while it is still root.
  channel_ = WebChannel();
  kill(pid_, SIGKILL);
  const UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
  if (pidfd.valid()) {
    pollfd exited{pidfd.get(), POLLIN, 0};
    if (poll(&exited, 1, kExitWaitMs) <= 0) {
      spdlog::warn("the web process {} did not exit within {} ms", pid_, kExitWaitMs);
      return;
    }
  }
  waitpid(pid_, nullptr, 0);
}

void WebProcess::serve() {
  channel_.send(WebMessage::kServe, 0, 0);
}

std::optional<std::string> WebProcess::reapIfExited() {
  if (reaped_) {
    return "has been reaped";
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) {
    return std::nullopt;
  }
  reaped_ = true;
  return describeStatus(status);
}

WebClient::WebClient(const WebChannel& channel, std::chrono::milliseconds timeout)
    : channel_(channel), timeout_(timeout) {}

std::string WebClient::fetch(WebMessage request) {
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = ++last_id_;
  if (!channel_.send(request, id, 0)) {
    if (errno == EPIPE || errno == ECONNRESET) {
      throw WebChannelClosed();
    }
    throw std::runtime_error("the agent does not take requests: " +
                             std::string(std::strerror(errno)));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw std::runtime_error("the agent did not answer within " +
                               std::to_string(timeout_.count()) + " ms");
    }
    auto received = channel_.receive(left);
    if (received.closed) {
      throw WebChannelClosed();
    }
    if (!received.message || received.message->id != id) {
      continue;  // timed out (checked above), or the answer to a request that gave up
    }
    if (received.message->type == WebMessage::kBody) {
      return WebChannel::readBody(*received.message);
    }
    throw std::runtime_error("the agent could not answer: " + received.message->text);
  }
}

WebRequestServer::WebRequestServer(const WebChannel& channel, WebPages pages)
    : channel_(channel), pages_(std::move(pages)) {
  thread_.start("web requests", [this](int stop_fd) { serve(stop_fd); });
}

WebRequestServer::~WebRequestServer() {
  thread_.stop();
}

void WebRequestServer::serve(int stop_fd) {
  const auto stopping = [stop_fd](int timeout_ms) {
    pollfd stop{stop_fd, POLLIN, 0};
    return poll(&stop, 1, timeout_ms) > 0;
  };
  for (;;) {
    auto received = channel_.receive(std::nullopt, stop_fd);
    if (received.closed) {
      // The web process is gone: the agent's main thread reaps it and stops.
      stopping(-1);
      return;
    }
    if (!received.error.empty()) {
      if (!refusal_logged_) {
        spdlog::error("web process: refused {} (logged once)", received.error);
        refusal_logged_ = true;
      }
      continue;
    }
    if (!received.message) {
      if (stopping(0)) {
        return;
      }
      continue;
    }
    const WebChannelMessage& request = *received.message;
    const std::function<std::string()>* render = nullptr;
    if (request.type == WebMessage::kGetMetrics) {
      render = &pages_.metrics;
    } else if (request.type == WebMessage::kGetDenials && pages_.denials) {
      render = &pages_.denials;
    }
    if (render == nullptr) {
      channel_.send(WebMessage::kFailed, request.id, 0, "not a request this agent answers");
      continue;
    }
    try {
      channel_.sendBody(request.id, (*render)());
    } catch (const std::exception& e) {
      channel_.send(WebMessage::kFailed, request.id, 0, e.what());
    }
  }
}

}  // namespace ipcwatch
