#pragma once

#include <optional>
#include <string>

namespace ipcwatch {

// The whole content of a (pseudo-)file, or nullopt when it cannot be opened or read. Reads to
// EOF with read(2), as procfs and sysfs files have no meaningful size.
std::optional<std::string> readProcFile(const std::string& path);

// Same, relative to a directory fd (openat).
std::optional<std::string> readProcFileAt(int dir_fd, const char* name);

}  // namespace ipcwatch
