#pragma once

#include <string>

namespace ipcwatch {

// Classic tracepoints are attached through tracefs (libbpf reads the event id from
// <tracefs>/events/...). A fresh host may have it unmounted; mount it at /sys/kernel/tracing
// then. Returns an empty string on success, else what went wrong.
std::string ensureTracefsMounted();

}  // namespace ipcwatch
