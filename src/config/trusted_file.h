#pragma once

#include <stdexcept>
#include <string>

namespace ipcwatch {

struct UntrustedFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a file the agent takes orders from (its configuration, its web configuration). The
// agent runs as root, so a file another user can change is a way to change what root does:
// refused unless it is owned by root or by the agent's own user and is not writable by group
// or others. The checks are made on the opened file (fstat), so a swap between check and read
// cannot slip another file in. Throws UntrustedFileError naming the file and the fix.
std::string readTrustedFile(const std::string& path);

}  // namespace ipcwatch
