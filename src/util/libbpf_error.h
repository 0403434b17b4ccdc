#pragma once

#include <string>

#include <bpf/libbpf.h>

namespace ipcwatch {

// libbpf's text for a positive errno (its own error codes included).
inline std::string libbpfErrorText(int err) {
  char buf[128];
  libbpf_strerror(err, buf, sizeof(buf));
  return buf;
}

}  // namespace ipcwatch
