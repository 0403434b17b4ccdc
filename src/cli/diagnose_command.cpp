#include "cli/diagnose_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <iostream>

#include "audit/audit_log_tail.h"
#include "endpoints/diagnose_report.h"
#include "endpoints/endpoint_checker.h"
#include "util/in_root.h"

namespace ipcwatch {
namespace {

constexpr int kReachable = 0;
constexpr int kUnreachable = 1;
constexpr int kUsage = 2;

template <typename Enum>
std::optional<Enum> parseEnum(const std::string& text, int count, std::string_view (*name)(Enum)) {
  for (int i = 0; i < count; ++i) {
    if (name(static_cast<Enum>(i)) == text) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

// What is at `path` for the client: a socket in a container is not one at the agent's path.
EndpointType guessType(const std::string& path, const ClientIdentity& identity) {
  struct stat st {};
  const RootedView client(identity.root.empty() ? "/" : identity.root);
  if (path.starts_with("@") || (client.stat(path, st) == 0 && S_ISSOCK(st.st_mode))) {
    return EndpointType::kUnixStream;
  }
  return EndpointType::kFifo;
}

// Where SELinux is active, the recent denials the selinux check consults: diagnose runs apart
// from the agent, so it reads them from the end of the configured audit.log.
class DiagnoseDenials {
 public:
  explicit DiagnoseDenials(const Config& config)
      : caps_(config.labels.comm, config.labels.path, config.labels.folded_values_remembered),
        store_(caps_, kKept) {
    const std::string enforce = config.paths.sysfs + "/fs/selinux/enforce";
    if (::access(enforce.c_str(), F_OK) == 0 &&
        !readAuditLogHistory(store_, config.selinux.audit_log, kHistoryBytes)) {
      std::cerr << "ipcwatch diagnose: cannot read " << config.selinux.audit_log
                << ": the selinux check sees no denials\n";
    }
  }
  const DenialStore* store() const { return &store_; }

 private:
  static constexpr std::size_t kKept = 1000;
  static constexpr std::size_t kHistoryBytes = 8 * 1024 * 1024;
  LabelCaps caps_;
  DenialStore store_;
};

int usageError(const std::string& message) {
  std::cerr << "ipcwatch diagnose: " << message << "\n";
  return kUsage;
}

void print(const EndpointReport& report, bool json) {
  std::cout << (json ? renderReportJson(report) : renderReportText(report));
}

int diagnosePath(const Args& args, const Config& config) {
  EndpointConfig endpoint;
  endpoint.path = *args.diagnose_path;
  if (endpoint.path.empty() || (endpoint.path.find_first_not_of(" \t") == std::string::npos) ||
      (endpoint.path[endpoint.path.find_first_not_of(" \t")] != '/' &&
       endpoint.path.front() != '@')) {
    return usageError("PATH must be absolute (or @name for an abstract socket)");
  }
  ClientIdentity identity;
  if (args.diagnose_pid) {
    std::uint32_t pid = 0;
    const std::string& text = *args.diagnose_pid;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || ptr != text.data() + text.size() || pid == 0) {
      return usageError("--as-pid: '" + text + "' is not a process id");
    }
    identity = identityOfProcess(config.paths.procfs, pid);
  } else {
    identity = identityOfUser(config.paths.procfs, *args.diagnose_user);
  }
  if (!identity.resolved) {
    return usageError(identity.description);
  }
  endpoint.type = guessType(endpoint.path, identity);
  if (args.diagnose_type) {
    const auto type = parseEnum<EndpointType>(*args.diagnose_type, 4, endpointTypeName);
    if (!type) {
      return usageError("--type: '" + *args.diagnose_type +
                        "' is not one of fifo, unix_stream, unix_dgram, unix_seqpacket");
    }
    endpoint.type = *type;
  }
  EndpointAccess access =
      endpoint.type == EndpointType::kFifo ? EndpointAccess::kWrite : EndpointAccess::kConnect;
  if (args.diagnose_access) {
    const auto parsed = parseEnum<EndpointAccess>(*args.diagnose_access, 4, endpointAccessName);
    if (!parsed) {
      return usageError("--access: '" + *args.diagnose_access +
                        "' is not one of read, write, read_write, connect");
    }
    access = *parsed;
  }
  const DiagnoseDenials denials(config);
  const EndpointChecker checker(config.paths.procfs, config.paths.sysfs, denials.store());
  const auto snapshots = openHostSnapshots(config.paths.procfs, /*quiet=*/true);
  const auto report =
      checker.checkAs(endpoint, "", access, std::move(identity), *snapshots->current());
  print(report, args.json);
  return report.reachable ? kReachable : kUnreachable;
}

int diagnoseEndpoint(const Args& args, const Config& config) {
  const auto it = std::find_if(config.endpoints.begin(), config.endpoints.end(),
                               [&](const auto& e) { return e.name == *args.diagnose_endpoint; });
  if (it == config.endpoints.end()) {
    std::string known;
    for (const auto& e : config.endpoints) {
      known += (known.empty() ? "" : ", ") + e.name;
    }
    return usageError("no endpoint named '" + *args.diagnose_endpoint + "' in " + config.source +
                      " (known: " + (known.empty() ? "none" : known) + ")");
  }
  const DiagnoseDenials denials(config);
  const EndpointChecker checker(config.paths.procfs, config.paths.sysfs, denials.store());
  const auto snapshots = openHostSnapshots(config.paths.procfs, /*quiet=*/true);
  const auto snapshot = snapshots->current();  // every client sees the same host
  bool reachable = true;
  for (std::size_t i = 0; i < it->clients.size(); ++i) {
    const auto report = checker.check(*it, it->clients[i], *snapshot);
    if (i > 0 && !args.json) {
      std::cout << "\n";
    }
    print(report, args.json);
    reachable = reachable && report.reachable;
  }
  return reachable ? kReachable : kUnreachable;
}

}  // namespace

int runDiagnose(const Args& args, const Config& config) {
  return args.diagnose_endpoint ? diagnoseEndpoint(args, config) : diagnosePath(args, config);
}

}  // namespace ipcwatch
