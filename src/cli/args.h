#pragma once

#include <optional>
#include <variant>
#include <string>
#include <vector>

namespace ipcwatch {

enum class Command { kRun, kCheckConfig, kDiagnose, kEndpoints, kVersion, kHelp };

struct Args {
  Command command = Command::kRun;
  std::optional<std::string> config_path;     // --config FILE, or check-config's FILE
  std::optional<std::string> listen_address;  // --web.listen-address overrides the config
  std::optional<std::string> web_config_file;  // --web.config.file overrides web.config_file
  std::optional<std::string> log_level;       // --log.level overrides the config
  std::optional<std::string> log_format;      // --log.format overrides the config
  // diagnose PATH [--as USER | --as-pid PID] [--access A] [--type T] [--json]
  // diagnose --endpoint NAME [--config FILE] [--json]
  std::optional<std::string> diagnose_path;
  std::optional<std::string> diagnose_endpoint;  // --endpoint NAME
  std::optional<std::string> diagnose_user;      // --as USER
  std::optional<std::string> diagnose_pid;       // --as-pid PID
  std::optional<std::string> diagnose_access;    // --access read|write|read_write|connect
  std::optional<std::string> diagnose_type;      // --type fifo|unix_stream|...
  // endpoints [--type T] [--path PREFIX] [--pid PID] [--context GLOB] [--json]
  std::optional<std::string> endpoints_type;
  std::optional<std::string> endpoints_path;
  std::optional<std::string> endpoints_pid;
  std::optional<std::string> endpoints_context;
  bool json = false;  // --json (diagnose, endpoints)
};

struct ArgsError {
  std::string message;
};

// Parses argv (without argv[0]). Flags accept "--flag VALUE" and "--flag=VALUE".
// Returns the error text for the user on bad input.
std::variant<Args, ArgsError> parseArgs(const std::vector<std::string>& argv);

std::string usage();

}  // namespace ipcwatch
