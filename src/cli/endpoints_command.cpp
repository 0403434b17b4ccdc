#include "cli/endpoints_command.h"

#include <unistd.h>

#include <charconv>
#include <iostream>

#include "endpoints/endpoint_listing.h"
#include "inventory/host_snapshot.h"
#include "inventory/ipc_namespaces.h"

namespace ipcwatch {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

int usageError(const std::string& message) {
  std::cerr << "ipcwatch endpoints: " << message << "\n\n" << usage();
  return kUsage;
}

}  // namespace

int runEndpoints(const Args& args, const Config& config) {
  EndpointFilter filter;
  if (args.endpoints_type) {
    if (!knownEndpointType(*args.endpoints_type)) {
      return usageError("--type: '" + *args.endpoints_type +
                        "' is not one of fifo, unix, unix_stream, unix_dgram, unix_seqpacket, "
                        "mqueue, sysv, sysv_shm, sysv_sem, sysv_msg");
    }
    filter.type = *args.endpoints_type;
  }
  if (args.endpoints_pid) {
    std::uint32_t pid = 0;
    const std::string& text = *args.endpoints_pid;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || ptr != text.data() + text.size() || pid == 0) {
      return usageError("--pid: '" + text + "' is not a process id");
    }
    filter.pid = pid;
  }
  filter.path_prefix = args.endpoints_path.value_or("");
  filter.context = args.endpoints_context.value_or("");
  if (geteuid() != 0) {
    std::cerr << "ipcwatch endpoints: needs root (it reads every process's descriptors and "
                 "enters every network and IPC namespace)\n";
    return kFailed;
  }
  try {
    const auto snapshots = openHostSnapshots(config.paths.procfs, /*quiet=*/true);
    const auto snapshot = snapshots->current();
    SetnsIpcNamespaceVisitor visitor(config.paths.procfs,
                                     [&snapshot] { return snapshot->ipcNamespaces(); });
    std::vector<ListedEndpoint> shown;
    for (auto& endpoint : listHostEndpoints(*snapshot, config.paths.procfs, visitor)) {
      if (matchesFilter(endpoint, filter)) {
        shown.push_back(std::move(endpoint));
      }
    }
    std::cout << (args.json ? renderEndpointsJson(shown) : renderEndpointsText(shown));
  } catch (const std::exception& e) {
    std::cerr << "ipcwatch endpoints: " << e.what() << "\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace ipcwatch
