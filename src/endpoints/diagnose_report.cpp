#include "endpoints/diagnose_report.h"

#include <cstdio>
#include <sstream>

#include "log/logging.h"

namespace ipcwatch {
namespace {

std::string_view mark(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass:
      return "✓";
    case CheckStatus::kFail:
      return "✗";
    case CheckStatus::kWarn:
      return "!";
    case CheckStatus::kNotApplicable:
      return "-";
    case CheckStatus::kSkipped:
      return "?";
  }
  return "?";
}

// Paths, process names and evidence come from other users: escaped, and kept valid UTF-8, by
// the same rules as the JSON log.
std::string jsonString(std::string_view text) {
  return "\"" + jsonEscape(text) + "\"";
}

}  // namespace

std::string renderReportText(const EndpointReport& report) {
  std::ostringstream out;
  out << "endpoint " << (report.endpoint.empty() ? "" : report.endpoint + " ") << "'" << report.path
      << "' (" << endpointTypeName(report.type) << "), access " << endpointAccessName(report.access)
      << "\n";
  out << "client   " << (report.client.empty() ? "" : report.client + ": ")
      << report.identity.description << "\n\n";
  std::size_t failed = 0;
  std::size_t unsafe = 0;
  for (const auto& check : report.checks) {
    unsafe += check.status == CheckStatus::kFail && isSafetyCheck(check.name) ? 1 : 0;
    char name[16];
    std::snprintf(name, sizeof name, "%-11s", check.name.c_str());
    out << "  " << mark(check.status) << " " << name << " " << check.evidence << "\n";
    if (!check.fix.empty()) {
      out << "      fix: " << check.fix << "\n";
    }
    failed += check.status == CheckStatus::kFail ? 1 : 0;
  }
  out << "\n"
      << (!report.reachable ? "NOT reachable (" + std::to_string(failed) + " check(s) failed)"
          : unsafe > 0      ? std::string("reachable, but others could swap it (path_safe)")
                            : std::string("reachable"))
      << "\n";
  return out.str();
}

std::string renderReportJson(const EndpointReport& report) {
  std::ostringstream out;
  out << "{\"endpoint\":" << jsonString(report.endpoint)
      << ",\"client\":" << jsonString(report.client) << ",\"path\":" << jsonString(report.path)
      << ",\"type\":" << jsonString(endpointTypeName(report.type))
      << ",\"access\":" << jsonString(endpointAccessName(report.access))
      << ",\"identity\":{\"pid\":" << report.identity.pid << ",\"uid\":" << report.identity.uid
      << ",\"gid\":" << report.identity.gid << ",\"mnt_ns\":" << report.identity.mnt_ns
      << ",\"net_ns\":" << report.identity.net_ns
      << ",\"description\":" << jsonString(report.identity.description) << "}"
      << ",\"reachable\":" << (report.reachable ? "true" : "false") << ",\"peers\":" << report.peers
      << ",\"checks\":[";
  for (std::size_t i = 0; i < report.checks.size(); ++i) {
    const auto& check = report.checks[i];
    out << (i == 0 ? "" : ",") << "{\"name\":" << jsonString(check.name)
        << ",\"status\":" << jsonString(checkStatusName(check.status))
        << ",\"evidence\":" << jsonString(check.evidence) << ",\"fix\":" << jsonString(check.fix)
        << "}";
  }
  out << "]}\n";
  return out.str();
}

}  // namespace ipcwatch
