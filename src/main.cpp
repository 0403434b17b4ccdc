#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <variant>

#include <spdlog/spdlog.h>

#include "agent.h"
#include "cli/args.h"
#include "cli/diagnose_command.h"
#include "cli/endpoints_command.h"
#include "collectors/collector_table.h"
#include "collectors/self_collector.h"
#include "config/config.h"
#include "log/logging.h"
#include "web/tls_context.h"
#include "web/web_config.h"

namespace {

using namespace ipcwatch;

// Exit codes: 0 success, 1 invalid configuration or start-up failure, 2 usage error.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

Config loadConfig(const Args& args) {
  Config config = args.config_path ? loadConfigFile(*args.config_path)
                                   : parseConfig(embeddedDefaultConfig(), "<embedded default>");
  if (args.listen_address) {
    if (!parseListenAddress(*args.listen_address)) {
      throw ConfigError("--web.listen-address: '" + *args.listen_address +
                        "' is not HOST:PORT, :PORT or [IPv6]:PORT");
    }
    config.web.listen_address = *args.listen_address;
  }
  if (args.web_config_file) {
    config.web.config_file = *args.web_config_file;
  }
  if (!config.web.config_file.empty() && args.command != Command::kDiagnose) {
    // Checked before anything starts: a web config that cannot be used stops the agent, it
    // never falls back to serving without TLS or authentication.
    try {
      const WebSecurityConfig web = loadWebConfigFile(config.web.config_file);
      if (web.tls) {
        checkTls(*web.tls);
      }
    } catch (const std::runtime_error& e) {
      throw ConfigError(std::string("web config: ") + e.what());
    }
  }
  if (args.log_level) {
    if (!parseLogLevel(*args.log_level)) {
      throw ConfigError("--log.level: '" + *args.log_level +
                        "' is not one of trace, debug, info, warn, error, critical, off");
    }
    config.log.level = *args.log_level;
  }
  if (args.log_format) {
    if (*args.log_format != "text" && *args.log_format != "json") {
      throw ConfigError("--log.format: '" + *args.log_format + "' is not one of text, json");
    }
    config.log.format = *args.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  }
  return config;
}

int runAgent(const Config& config, const Args& args) {
  setupLogging(*parseLogLevel(config.log.level), config.log.format == LogFormat::kJson);
  if (geteuid() != 0) {
    spdlog::warn(
        "not running as root: BPF probes will not load and will be reported as "
        "ipcwatch_probe_attached 0");
  }
  const BuildInfo build = currentBuildInfo();
  spdlog::info("ipcwatch {} (revision {}, libbpf {}, kernel {}) starting with {}", build.version,
               build.revision, build.libbpf_version, build.kernel_release, config.source);
  blockAgentSignals();
  try {
    Agent agent(config, [&args] { return loadConfig(args); });
    const int status = agent.run();
    agent.detachProbes();
    spdlog::info("stopped");
    // The process is going away: the kernel closes the listening socket, the audit sockets and
    // the BPF objects (already detached) with it, and the web process dies with it
    // (PR_SET_PDEATHSIG). An orderly teardown would add the wait for a page being rendered to
    // the one second a stop may take.
    _exit(status);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Each HTTP worker would otherwise get its own malloc arena and keep a whole scrape's worth of
  // freed memory in it: with 8 workers and 20 000 series that was ~50 MiB of RSS. Scrapes are
  // serialised, so the workers do not contend for one arena.
  mallopt(M_ARENA_MAX, 1);
  const auto parsed = parseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (const auto* error = std::get_if<ArgsError>(&parsed)) {
    std::cerr << "ipcwatch: " << error->message << "\n\n" << usage();
    return kExitUsage;
  }
  const Args& args = std::get<Args>(parsed);
  switch (args.command) {
    case Command::kHelp:
      std::cout << usage();
      return 0;
    case Command::kVersion: {
      const BuildInfo build = currentBuildInfo();
      std::cout << "ipcwatch " << build.version << " (revision " << build.revision << ", libbpf "
                << build.libbpf_version << ")\n";
      return 0;
    }
    default:
      break;
  }
  setKnownCollectors(collectorNames());
  Config config;
  try {
    config = loadConfig(args);
  } catch (const ConfigError& e) {
    std::cerr << "ipcwatch: invalid configuration:\n" << e.what() << "\n";
    // diagnose keeps 1 for "not reachable", endpoints for a host it cannot read.
    return args.command == Command::kDiagnose || args.command == Command::kEndpoints ? kExitUsage
                                                                                     : kExitFailure;
  }
  if (args.command == Command::kCheckConfig) {
    std::cout << *args.config_path << ": configuration is valid\n";
    return 0;
  }
  if (args.command == Command::kDiagnose) {
    return runDiagnose(args, config);
  }
  if (args.command == Command::kEndpoints) {
    return runEndpoints(args, config);
  }
  return runAgent(config, args);
}
