#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// The whole content of a (pseudo-)file, or nullopt when it cannot be opened or read. Reads to
// EOF with read(2), as procfs and sysfs files have no meaningful size.
std::optional<std::string> readProcFile(const std::string& path);

// Same, relative to a directory fd (openat).
std::optional<std::string> readProcFileAt(int dir_fd, const char* name);

// The pieces of text between separators, empty ones included ("a,,b" -> "a", "", "b"; "" ->
// one empty piece): the fields of a proc file's line, the lines of its text.
std::vector<std::string_view> splitOn(std::string_view text, char separator);

}  // namespace ipcwatch
