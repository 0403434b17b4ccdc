#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace ipcwatch {

// Parses trace|debug|info|warn|error|critical|off.
std::optional<spdlog::level::level_enum> parseLogLevel(std::string_view name);

// Configures the default spdlog logger on stderr: human text (control characters and invalid
// UTF-8 in messages written as \xNN), or one JSON object per line (message JSON-escaped, kept
// valid UTF-8). Either way one record is one line. Routes libbpf's own messages through it.
void setupLogging(spdlog::level::level_enum level, bool json);

// Changes the level and format of the logger setupLogging made, while other threads log
// (the sink's lock covers the formatter swap): configuration reload.
void reconfigureLogging(spdlog::level::level_enum level, bool json);

// JSON string escaping used by the JSON log format (exposed for tests).
std::string jsonEscape(std::string_view text);

}  // namespace ipcwatch
