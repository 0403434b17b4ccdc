#include "probes/tracefs.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ipcwatch {
namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing";

bool hasEvents(const std::string& root) {
  return access((root + "/events").c_str(), F_OK) == 0;
}

}  // namespace

std::string ensureTracefsMounted() {
  // libbpf prefers the debugfs path whenever it exists, so check that one first.
  if (access(kDebugfsTracing, F_OK) == 0) {
    if (hasEvents(kDebugfsTracing)) {
      return {};
    }
  } else if (hasEvents(kTracefs)) {
    return {};
  }
  if (mount("tracefs", kTracefs, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
      errno != EBUSY) {
    return std::string("mount tracefs at ") + kTracefs + ": " + std::strerror(errno);
  }
  if (!hasEvents(kTracefs)) {
    return std::string(kTracefs) + "/events missing after mounting tracefs";
  }
  spdlog::info("mounted tracefs at {} (classic tracepoints need it)", kTracefs);
  return {};
}

}  // namespace ipcwatch
