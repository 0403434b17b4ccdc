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
    {"--web.config.file", &Args::web_config_file},
    {"--log.level", &Args::log_level},
    {"--log.format", &Args::log_format},
};

// Accepted only after `diagnose`.
constexpr Flag kDiagnoseFlags[] = {
    {"--endpoint", &Args::diagnose_endpoint}, {"--as", &Args::diagnose_user},
    {"--as-pid", &Args::diagnose_pid},        {"--access", &Args::diagnose_access},
    {"--type", &Args::diagnose_type},
};

// Accepted only after `endpoints`.
constexpr Flag kEndpointsFlags[] = {
    {"--type", &Args::endpoints_type},
    {"--path", &Args::endpoints_path},
    {"--pid", &Args::endpoints_pid},
    {"--context", &Args::endpoints_context},
};

// A command's own flags: "--flag VALUE" or "--flag=VALUE". Sets `matched` when `arg` is one;
// an error when it is but has no value.
template <std::size_t N>
std::optional<ArgsError> commandFlag(const Flag (&flags)[N], const std::vector<std::string>& argv,
                                     std::size_t& i, Args& args, bool& matched) {
  const std::string& arg = argv[i];
  for (const auto& flag : flags) {
    const std::string name = flag.name;
    if (arg == name) {
      if (i + 1 >= argv.size() || argv[i + 1].empty()) {
        return ArgsError{name + " needs a value"};
      }
      args.*(flag.field) = argv[++i];
      matched = true;
      return std::nullopt;
    }
    if (arg.rfind(name + "=", 0) == 0 && arg.size() > name.size() + 1) {
      args.*(flag.field) = arg.substr(name.size() + 1);
      matched = true;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<ArgsError> checkDiagnose(const Args& args) {
  if (args.diagnose_path.has_value() == args.diagnose_endpoint.has_value()) {
    return ArgsError{"diagnose needs either a PATH or --endpoint NAME"};
  }
  if (args.diagnose_user && args.diagnose_pid) {
    return ArgsError{"diagnose: --as and --as-pid exclude each other"};
  }
  if (args.diagnose_endpoint && (args.diagnose_user || args.diagnose_pid ||
                                 args.diagnose_access || args.diagnose_type)) {
    return ArgsError{"diagnose --endpoint takes the client and access from the configuration"};
  }
  if (args.diagnose_path && !args.diagnose_user && !args.diagnose_pid) {
    return ArgsError{"diagnose PATH needs --as USER or --as-pid PID"};
  }
  return std::nullopt;
}

}  // namespace

std::string usage() {
  return R"(Usage:
  ipcwatch [--config FILE] [--web.listen-address ADDR] [--web.config.file FILE]
           [--log.level LEVEL] [--log.format FORMAT]
  ipcwatch check-config FILE
  ipcwatch diagnose PATH (--as USER | --as-pid PID) [--access ACCESS] [--json]
  ipcwatch diagnose --endpoint NAME [--config FILE] [--json]
  ipcwatch endpoints [--type TYPE] [--path PREFIX] [--pid PID] [--context GLOB] [--json]
  ipcwatch --version
  ipcwatch --help

Runs the ipcwatch agent: eBPF probes and collectors for inter-process communication health,
served as Prometheus metrics at http://ADDR/metrics (https with a web config's TLS).

Options:
  --config FILE              YAML configuration (default: the embedded default configuration)
  --web.listen-address ADDR  HOST:PORT, :PORT or [IPv6]:PORT to serve on (overrides web.listen_address)
  --web.config.file FILE     TLS and basic auth in the Prometheus exporters' web-config format
                             (overrides web.config_file; see docs/security.md)
  --log.level LEVEL          trace|debug|info|warn|error|critical|off (overrides log.level)
  --log.format FORMAT        text|json (overrides log.format)
  --version                  print the version and exit
  --help                     print this help and exit

Commands:
  check-config FILE          validate FILE and exit 0 when it is valid, 1 when it is not
  diagnose PATH (--as USER | --as-pid PID) [--access read|write|read_write|connect]
           [--type fifo|unix_stream|unix_dgram|unix_seqpacket] [--json]
  diagnose --endpoint NAME [--config FILE] [--json]
                             check whether the client can reach the FIFO or unix socket, from
                             its point of view; prints each check with its evidence and a fix.
                             Exit 0 reachable, 1 not reachable, 2 usage error
  endpoints [--type fifo|unix|unix_stream|unix_dgram|unix_seqpacket|mqueue|sysv|sysv_shm|
            sysv_sem|sysv_msg] [--path PREFIX] [--pid PID] [--context GLOB] [--json]
                             list the host's IPC endpoints (FIFOs held open, bound unix sockets,
                             POSIX message queues, SysV objects) with owner, mode, SELinux label,
                             namespace and the processes holding each (pid/comm(direction
                             context)); --context matches a holder's context or the label, e.g.
                             '*:httpd_t:*'. Needs root. Exit 0, 1 when the host cannot be read,
                             2 usage error
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
    if (arg == "diagnose" && !command_seen) {
      command_seen = true;
      args.command = Command::kDiagnose;
      if (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) {
        args.diagnose_path = argv[++i];
      }
      continue;
    }
    if (arg == "endpoints" && !command_seen) {
      command_seen = true;
      args.command = Command::kEndpoints;
      continue;
    }
    if (arg == "--json" &&
        (args.command == Command::kDiagnose || args.command == Command::kEndpoints)) {
      args.json = true;
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
    if (!matched && args.command == Command::kDiagnose) {
      if (auto error = commandFlag(kDiagnoseFlags, argv, i, args, matched)) {
        return *error;
      }
    }
    if (!matched && args.command == Command::kEndpoints) {
      if (auto error = commandFlag(kEndpointsFlags, argv, i, args, matched)) {
        return *error;
      }
    }
    if (!matched) {
      return ArgsError{"unknown argument '" + arg + "'"};
    }
  }
  if (args.command == Command::kDiagnose) {
    if (auto error = checkDiagnose(args)) {
      return *error;
    }
  }
  return args;
}

}  // namespace ipcwatch
