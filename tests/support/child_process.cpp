#include "child_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

namespace ipcwatch::testing {

int runAs(const std::string& comm, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NAME, comm.c_str());
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return status;
}

int writeToBrokenPipe(int writes) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (pipe(fds) != 0) {
    return 2;
  }
  close(fds[0]);
  const char byte = 'x';
  for (int i = 0; i < writes; ++i) {
    if (write(fds[1], &byte, 1) != -1 || errno != EPIPE) {
      close(fds[1]);
      return 3;
    }
  }
  close(fds[1]);
  return 0;
}

bool exitedCleanly(int status) {
  return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

HeldChild::HeldChild(const std::string& comm, const std::function<int()>& setup) {
  int fds[2];
  if (pipe(fds) != 0) {
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    close(fds[0]);
    prctl(PR_SET_NAME, comm.c_str());
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int result = setup();
    if (write(fds[1], &result, sizeof(result)) != sizeof(result)) {
      _exit(1);
    }
    for (;;) {
      pause();
    }
  }
  close(fds[1]);
  if (pid_ > 0 && read(fds[0], &result_, sizeof(result_)) != sizeof(result_)) {
    result_ = -1;
  }
  close(fds[0]);
}

void HeldChild::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

long procStatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = field + ":";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) {
      return std::stol(line.substr(prefix.size()));
    }
  }
  return -1;
}

std::vector<pid_t> liveChildren(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child = 0; in >> child;) {
      children.push_back(child);
    }
  }
  return children;
}

long processTreeStatusKiB(pid_t pid, const std::string& field) {
  long total = procStatusKiB(pid, field);
  for (const pid_t child : liveChildren(pid)) {
    total += std::max(0L, procStatusKiB(child, field));
  }
  return total;
}

}  // namespace ipcwatch::testing
