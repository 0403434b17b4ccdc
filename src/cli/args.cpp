#include "cli/args.h"

#include <utility>

namespace ipcwatch {
namespace {

struct Flag {
  const char* name;
  std::optional<std::string> Args::*field;
};

constexpr Flag kValueFlags[] = {
    {"--config", &Args::config_path},
    {"--web.listen-address", &Args::listen_address},
    {"--log.level", &Args::log_level},
    {"--log.format", &Args::log_format},
};

}  // namespace

std::string usage() {
  return R"(Usage:
  ipcwatch [--config FILE] [--web.listen-address ADDR] [--log.level LEVEL] [--log.format FORMAT]
  ipcwatch check-config FILE
  ipcwatch --version
  ipcwatch --help

Runs the ipcwatch agent: eBPF probes and collectors for inter-process communication health,
served as Prometheus metrics at http://ADDR/metrics.

Options:
  --config FILE              YAML configuration (default: the embedded default configuration)
  --web.listen-address ADDR  HOST:PORT, :PORT or [IPv6]:PORT to serve on (overrides web.listen_address)
  --log.level LEVEL          trace|debug|info|warn|error|critical|off (overrides log.level)
  --log.format FORMAT        text|json (overrides log.format)
  --version                  print the version and exit
  --help                     print this help and exit

Commands:
  check-config FILE          validate FILE and exit 0 when it is valid, 1 when it is not
)";
}

std::variant<Args, ArgsError> parseArgs(const std::vector<std::string>& argv) {
  Args args;
  bool command_seen = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      args.command = Command::kHelp;
      return args;
    }
    if (arg == "--version") {
      args.command = Command::kVersion;
      return args;
    }
    if (arg == "check-config" && !command_seen) {
      command_seen = true;
      args.command = Command::kCheckConfig;
      if (i + 1 >= argv.size() || argv[i + 1].rfind("--", 0) == 0) {
        return ArgsError{"check-config needs a FILE"};
      }
      args.config_path = argv[++i];
      continue;
    }
    bool matched = false;
    for (const auto& flag : kValueFlags) {
      const std::string name = flag.name;
      std::optional<std::string> value;
      if (arg == name) {
        if (i + 1 >= argv.size()) {
          return ArgsError{name + " needs a value"};
        }
        value = argv[++i];
      } else if (arg.rfind(name + "=", 0) == 0) {
        value = arg.substr(name.size() + 1);
      } else {
        continue;
      }
      if (value->empty()) {
        return ArgsError{name + " needs a non-empty value"};
      }
      args.*(flag.field) = std::move(value);
      matched = true;
      break;
    }
    if (!matched) {
      return ArgsError{"unknown argument '" + arg + "'"};
    }
  }
  return args;
}

}  // namespace ipcwatch
