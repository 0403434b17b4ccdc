#pragma once

#include <string>
#include <vector>

namespace ipcwatch {

// One BPF program the configuration enabled, and whether it is attached now. A program that
// failed to load or attach is "degraded": its error is kept for /metrics, logs and diagnose.
struct ProgramStatus {
  std::string name;
  bool attached = false;
  std::string error;
};

class Probe {
 public:
  virtual ~Probe() = default;
  virtual std::vector<ProgramStatus> programs() const = 0;
};

}  // namespace ipcwatch
