#include "unanswered_fuse_mount.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ipcwatch::testing {

UnansweredFuseMount::UnansweredFuseMount(const std::string& parent_dir)
    : mount_point_(parent_dir + "/stuck") {
  if (mkdir(mount_point_.c_str(), 0755) != 0) {
    why_ = "mkdir " + mount_point_ + ": " + std::strerror(errno);
    return;
  }
  // Close-on-exec: the agent and other children must not hold the device, or abort() would not
  // end the connection.
  fd_ = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd_ < 0) {
    why_ = std::string("cannot open /dev/fuse: ") + std::strerror(errno);
  }
}

UnansweredFuseMount::~UnansweredFuseMount() {
  abort();
  rmdir(mount_point_.c_str());
}

int UnansweredFuseMount::mountInPrivateNamespace() const {
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return 90;
  }
  const std::string options =
      "fd=" + std::to_string(fd_) + ",rootmode=40000,user_id=0,group_id=0,allow_other";
  if (mount("ipcwatch-test", mount_point_.c_str(), "fuse.ipcwatch-test", MS_NOSUID | MS_NODEV,
            options.c_str()) != 0) {
    return 91;
  }
  return 0;  // the child's copy of fd_ closes at exec
}

void UnansweredFuseMount::abort() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

bool threadWaitsInFuse(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream in(task.path() / "wchan");
    std::string wchan;
    std::getline(in, wchan);
    if (wchan.rfind("fuse_", 0) == 0 || wchan.find("request_wait_answer") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool waitForThreadInFuse(pid_t pid, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!threadWaitsInFuse(pid)) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval
  }
  return true;
}

ScrapeInFlight::ScrapeInFlight(UnansweredFuseMount& mount, int port)
    : mount_(mount), thread_([this, port] {
        response_ = httpRequest(port, "GET", "/metrics", std::chrono::seconds(60));
      }) {}

ScrapeInFlight::~ScrapeInFlight() {
  mount_.abort();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::optional<HttpResponse> ScrapeInFlight::response() {
  if (thread_.joinable()) {
    thread_.join();
  }
  return response_;
}

}  // namespace ipcwatch::testing
