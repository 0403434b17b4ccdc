#include "big_host.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace ipcwatch::testing {
namespace {

using Clock = std::chrono::steady_clock;

enum ChildKind { kGeneric = 0, kFifoReader = 1, kSocketListener = 2 };

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("big host: " + what + ": " + std::strerror(errno));
}

// A child inherits every descriptor of the benchmark; only the two it needs may stay, so that
// its descriptor count is exactly what the generator opens.
void closeAllExcept(int a, int b) {
  const int low = std::min(a, b);
  const int high = std::max(a, b);
  if (low > 3) {
    close_range(3, static_cast<unsigned>(low - 1), 0);
  }
  if (high > low + 1) {
    close_range(static_cast<unsigned>(low + 1), static_cast<unsigned>(high - 1), 0);
  }
  close_range(static_cast<unsigned>(high + 1), ~0U, 0);
}

// Children must be able to hold their descriptors, and the agent (which inherits the limit)
// must be able to open its own on top of walking everyone else's. The hard limit stays: root
// may lack CAP_SYS_RESOURCE (it does on our machines).
void raiseNofileLimit(int needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    fail("getrlimit(RLIMIT_NOFILE)");
  }
  if (limit.rlim_max < static_cast<rlim_t>(needed)) {
    errno = EMFILE;
    fail("RLIMIT_NOFILE hard limit " + std::to_string(limit.rlim_max) + " is below " +
         std::to_string(needed));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      fail("setrlimit(RLIMIT_NOFILE)");
    }
  }
}

// Opens descriptors until the process holds `target`: the regular files once each, then a
// mix of anonymous pipes, unix socketpairs and /dev/null. Returns false when one fails.
bool fillDescriptors(int held, int target, const std::vector<std::string>& regular_files) {
  for (const auto& file : regular_files) {
    if (held >= target) {
      return true;
    }
    if (open(file.c_str(), O_RDONLY) < 0) {
      return false;
    }
    ++held;
  }
  const int remaining = std::max(0, target - held);
  const int pipes = remaining / 8;        // 2 descriptors each
  const int socketpairs = remaining / 7;  // 2 descriptors each
  for (int i = 0; i < pipes && held + 2 <= target; ++i, held += 2) {
    int fds[2];
    if (pipe(fds) != 0) {
      return false;
    }
  }
  for (int i = 0; i < socketpairs && held + 2 <= target; ++i, held += 2) {
    int sv[2];
    if (socketpair(AF_UNIX, i % 2 == 0 ? SOCK_STREAM : SOCK_DGRAM, 0, sv) != 0) {
      return false;
    }
  }
  for (; held < target; ++held) {
    if (open("/dev/null", O_RDWR) < 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

BigHost::BigHost(const Options& options) : options_(options) {
  try {
    build();
  } catch (...) {
    teardown();
    throw;
  }
}

BigHost::~BigHost() {
  teardown();
}

std::string BigHost::childComm(int i) const {
  char comm[16];
  std::snprintf(comm, sizeof(comm), "ipcw-bh-%04d", i % 10000);
  return comm;
}

std::string BigHost::serverComm(int i) const {
  char comm[16];
  std::snprintf(comm, sizeof(comm), "ipcw-bh-srv%02d", i % 100);
  return comm;
}

void BigHost::build() {
  raiseNofileLimit(options_.fds_per_process + 64);
  char tmpl[] = "/tmp/ipcwatch-bighost-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    fail("mkdtemp");
  }
  dir_ = tmpl;
  // The endpoint checks run as `nobody` too: let it search the directory and write the FIFOs.
  if (chmod(dir_.c_str(), 0755) != 0) {
    fail("chmod " + dir_);
  }
  orphan_fifo_ = dir_ + "/orphan.fifo";
  if (mkfifo(orphan_fifo_.c_str(), 0600) != 0) {
    fail("mkfifo " + orphan_fifo_);
  }
  for (int e = 0; e < options_.fifo_endpoints; ++e) {
    char name[32];
    std::snprintf(name, sizeof(name), "/ep%02d.fifo", e);
    endpoint_fifos_.push_back(dir_ + name);
    // chmod, not the mkfifo mode, which the umask would narrow.
    if (mkfifo(endpoint_fifos_.back().c_str(), 0600) != 0 ||
        chmod(endpoint_fifos_.back().c_str(), 0622) != 0) {
      fail("mkfifo " + endpoint_fifos_.back());
    }
  }
  for (int e = 0; e < options_.socket_endpoints; ++e) {
    char name[32];
    std::snprintf(name, sizeof(name), "/ep%02d.sock", e);
    endpoint_sockets_.push_back(dir_ + name);
  }
  for (int f = 0; f < 4; ++f) {
    regular_files_.push_back(dir_ + "/data" + std::to_string(f));
    std::ofstream(regular_files_.back()) << "big host data file " << f << "\n";
  }
  int hold[2];
  int ready[2];
  if (pipe2(hold, O_CLOEXEC) != 0 || pipe2(ready, O_CLOEXEC) != 0) {
    fail("pipe2");
  }
  hold_read_ = hold[0];
  hold_write_ = hold[1];
  ready_read_ = ready[0];
  ready_write_ = ready[1];
  children_.reserve(static_cast<std::size_t>(options_.processes + options_.fifo_endpoints +
                                             options_.socket_endpoints));
  for (int i = 0; i < options_.processes; ++i) {
    spawn(childComm(i), kGeneric, i);
  }
  for (int e = 0; e < options_.fifo_endpoints; ++e) {
    spawn(serverComm(e), kFifoReader, e);
  }
  for (int e = 0; e < options_.socket_endpoints; ++e) {
    spawn(serverComm(options_.fifo_endpoints + e), kSocketListener, e);
  }
  // Only the children hold the write end now: if they all die, the read below sees EOF.
  close(ready_write_);
  ready_write_ = -1;
  waitUntilReady();
}

void BigHost::spawn(const std::string& comm, int kind, int index) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    fail("fork (child " + std::to_string(children_.size()) + ")");
  }
  if (pid > 0) {
    children_.push_back(pid);
    return;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(1);
  }
  prctl(PR_SET_NAME, comm.c_str());
  closeAllExcept(hold_read_, ready_write_);
  bool ok = true;
  if (kind == kGeneric) {
    int flags = 0;
    if (index < options_.network_namespaces) {
      flags |= CLONE_NEWNET;
    }
    if (index < options_.ipc_namespaces) {
      flags |= CLONE_NEWIPC;
    }
    ok = flags == 0 || unshare(flags) == 0;
    if (ok && (flags & CLONE_NEWIPC) != 0 && options_.shm_every > 0 &&
        index % options_.shm_every == 0) {
      ok = shmget(IPC_PRIVATE, 64 * 1024, IPC_CREAT | 0600) >= 0;
    }
    // 0, 1, 2, hold_read_ and ready_write_ are open; ready_write_ is closed once ready.
    ok = ok && fillDescriptors(5, options_.fds_per_process + 1, regular_files_);
  } else if (kind == kSocketListener) {
    const std::string& path = endpoint_sockets_[static_cast<std::size_t>(index)];
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
         listen(fd, 64) == 0 && chmod(path.c_str(), 0666) == 0;
  } else {
    // O_NONBLOCK: a reader's open does not wait for a writer, and the FIFO has a reader now.
    ok = open(endpoint_fifos_[static_cast<std::size_t>(index)].c_str(), O_RDONLY | O_NONBLOCK) >= 0;
  }
  const char status = ok ? 'R' : 'E';
  if (write(ready_write_, &status, 1) != 1 || !ok) {
    _exit(1);
  }
  close(ready_write_);
  char byte;
  while (read(hold_read_, &byte, 1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

void BigHost::waitUntilReady() {
  const auto deadline = Clock::now() + options_.ready_deadline;
  std::size_t ready = 0;
  while (ready < children_.size()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw std::runtime_error("big host: only " + std::to_string(ready) + " of " +
                               std::to_string(children_.size()) + " children ready in time");
    }
    pollfd pfd{ready_read_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      fail("poll");
    }
    if ((pfd.revents & (POLLIN | POLLHUP)) == 0) {
      continue;
    }
    char buf[4096];
    const ssize_t n = read(ready_read_, buf, sizeof(buf));
    if (n == 0) {
      throw std::runtime_error("big host: children exited before " +
                               std::to_string(children_.size() - ready) + " were ready");
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("read");
    }
    if (std::find(buf, buf + n, 'E') != buf + n) {
      throw std::runtime_error(
          "big host: a child could not set up (namespaces, descriptors "
          "or shm): raise the limits or lower the options");
    }
    ready += static_cast<std::size_t>(n);
  }
}

void BigHost::teardown() {
  for (const pid_t pid : children_) {
    kill(pid, SIGKILL);
  }
  for (const pid_t pid : children_) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  children_.clear();
  for (int* fd : {&hold_read_, &hold_write_, &ready_read_, &ready_write_}) {
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string BigHost::endpointsYaml() const {
  std::string yaml = "endpoints:\n";
  const int first_worker =
      options_.processes > options_.network_namespaces + options_.fifo_endpoints
          ? options_.network_namespaces
          : 0;
  const std::size_t count = endpoint_fifos_.size() + endpoint_sockets_.size();
  for (std::size_t e = 0; e < count; ++e) {
    const int worker = (first_worker + static_cast<int>(e)) % std::max(1, options_.processes);
    const bool fifo = e < endpoint_fifos_.size();
    const char* access = fifo ? "write" : "connect";
    char name[32];
    std::snprintf(name, sizeof(name), "bh_ep%02d", static_cast<int>(e % 100));
    yaml += std::string("  - name: ") + name + "\n" + "    path: \"" +
            (fifo ? endpoint_fifos_[e] : endpoint_sockets_[e - endpoint_fifos_.size()]) + "\"\n" +
            "    type: " + (fifo ? "fifo" : "unix_stream") + "\n" +
            "    server: { process: " + serverComm(static_cast<int>(e)) + " }\n" +
            "    clients:\n" +
            "      - name: nobody\n        user: nobody\n        access: " + access + "\n" +
            "      - name: worker\n        process: " + childComm(worker) +
            "\n        user: root\n        access: " + access + "\n";
  }
  return yaml;
}

}  // namespace ipcwatch::testing
