#pragma once

#include <optional>
#include <variant>
#include <string>
#include <vector>

namespace ipcwatch {

enum class Command { kRun, kCheckConfig, kVersion, kHelp };

struct Args {
  Command command = Command::kRun;
  std::optional<std::string> config_path;     // --config FILE, or check-config's FILE
  std::optional<std::string> listen_address;  // --web.listen-address overrides the config
  std::optional<std::string> log_level;       // --log.level overrides the config
  std::optional<std::string> log_format;      // --log.format overrides the config
};

struct ArgsError {
  std::string message;
};

// Parses argv (without argv[0]). Flags accept "--flag VALUE" and "--flag=VALUE".
// Returns the error text for the user on bad input.
std::variant<Args, ArgsError> parseArgs(const std::vector<std::string>& argv);

std::string usage();

}  // namespace ipcwatch
