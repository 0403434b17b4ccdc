#include "util/privileges.h"

#include <sys/capability.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <type_traits>

#include <spdlog/spdlog.h>

namespace ipcwatch {
namespace {

struct CapDeleter {
  void operator()(cap_t caps) const { cap_free(caps); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapDeleter>;

std::string failure(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

std::vector<std::string> keptCapabilities() {
  // Keep in step with docs/security.md.
  return {
      "cap_dac_read_search",  // /proc/PID/fd directories, scanned directories, pid files, mqueues
      "cap_setgid",           // the endpoint access helper takes the client's groups ...
      "cap_setuid",           // ... and user ...
      "cap_sys_chroot",       // ... inside the client's mount namespace and root
      "cap_sys_ptrace",       // /proc/PID/{fd,ns,root,exe} of other users' processes
      "cap_sys_admin",        // setns() into network, IPC and mount namespaces; mqueue fsmount
  };
}

std::string dropCapabilities(const std::vector<std::string>& kept) {
  std::vector<cap_value_t> values;
  for (const auto& name : kept) {
    cap_value_t value = 0;
    if (cap_from_name(name.c_str(), &value) != 0) {
      return "unknown capability " + name;
    }
    values.push_back(value);
  }
  const CapPtr current(cap_get_proc());
  if (!current) {
    return failure("cap_get_proc");
  }
  cap_flag_value_t has_setpcap = CAP_CLEAR;
  cap_get_flag(current.get(), CAP_SETPCAP, CAP_EFFECTIVE, &has_setpcap);
  // A service manager may have withheld some of them already (CapabilityBoundingSet=): keep
  // only what the process has, since no thread can add to its permitted set.
  values.erase(std::remove_if(values.begin(), values.end(),
                              [&current](cap_value_t cap) {
                                cap_flag_value_t held = CAP_CLEAR;
                                cap_get_flag(current.get(), cap, CAP_PERMITTED, &held);
                                return held != CAP_SET;
                              }),
               values.end());
  if (cap_reset_ambient() != 0) {
    return failure("clearing the ambient set");
  }
  // Shrinking the bounding set needs CAP_SETPCAP; without it a service manager has bounded the
  // process already, and the permitted set below is what counts.
  for (cap_value_t cap = 0;
       has_setpcap == CAP_SET && cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
    if (std::find(values.begin(), values.end(), cap) == values.end() && cap_drop_bound(cap) != 0) {
      return failure("dropping capability " + std::to_string(cap) + " from the bounding set");
    }
  }
  const CapPtr next(cap_init());
  if (!next) {
    return failure("cap_init");
  }
  if (!values.empty() && (cap_set_flag(next.get(), CAP_PERMITTED, static_cast<int>(values.size()),
                                       values.data(), CAP_SET) != 0 ||
                          cap_set_flag(next.get(), CAP_EFFECTIVE, static_cast<int>(values.size()),
                                       values.data(), CAP_SET) != 0)) {
    return failure("building the kept set");
  }
  if (cap_set_proc(next.get()) != 0) {
    return failure("cap_set_proc");
  }
  return "";
}

std::string currentCapabilities() {
  const CapPtr current(cap_get_proc());
  if (!current) {
    return failure("cap_get_proc");
  }
  char* text = cap_to_text(current.get(), nullptr);
  if (text == nullptr) {
    return failure("cap_to_text");
  }
  std::string out = text;
  cap_free(text);
  return out;
}

void dropThreadCapabilities(const char* thread) {
  if (const std::string error = dropCapabilities(keptCapabilities()); !error.empty()) {
    spdlog::error("{} thread: cannot drop capabilities: {}", thread, error);
  }
}

}  // namespace ipcwatch
