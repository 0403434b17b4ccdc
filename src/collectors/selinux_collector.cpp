#include "collectors/selinux_collector.h"

#include <fstream>
#include <optional>

#include "metrics/family.h"

namespace ipcwatch {
namespace {

// The first line of a selinuxfs file, nullopt when it is missing (SELinux off or selinuxfs not
// mounted).
std::optional<std::string> readFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  return line;
}

void push(std::vector<MetricFamily>& out, FamilyBuilder& family) {
  if (!family.empty()) {
    out.push_back(family.build());
  }
}

}  // namespace

void SelinuxCollector::collectState(std::vector<MetricFamily>& out) const {
  const auto enforce = readFirstLine(selinuxfs_ + "/enforce");
  FamilyBuilder enabled("ipc_selinux_enabled",
                        "1 when SELinux is active (selinuxfs mounted with a policy), else 0.",
                        MetricType::Gauge);
  enabled.set({}, enforce ? 1 : 0);
  FamilyBuilder enforcing("ipc_selinux_enforcing",
                          "1 when SELinux enforces its policy, 0 when permissive or inactive.",
                          MetricType::Gauge);
  enforcing.set({}, enforce && *enforce == "1" ? 1 : 0);
  push(out, enabled);
  push(out, enforcing);
  if (!enforce) {
    return;
  }
  // Without extended_socket_class, SCTP, ICMP, ... sockets are checked as rawip_socket or
  // socket, which changes the tclass a denial names.
  const auto extended = readFirstLine(selinuxfs_ + "/policy_capabilities/extended_socket_class");
  const auto version = readFirstLine(selinuxfs_ + "/policyvers");
  FamilyBuilder info("ipc_selinux_policy_info",
                     "The loaded policy: its version and whether it has the extended socket "
                     "classes (sctp_socket, icmp_socket, ...); always 1.",
                     MetricType::Gauge);
  info.set({{"extended_socket_class", extended ? *extended : "unknown"},
            {"policyvers", version ? *version : "unknown"}},
           1);
  push(out, info);
}

void SelinuxCollector::collect(std::vector<MetricFamily>& out) {
  collectState(out);
  const DenialStore::Snapshot s = store_.snapshot();
  FamilyBuilder denials(kDenialsMetric,
                        "SELinux denials, one per denied permission, by target class, "
                        "permission, source and target type, permissive (0, 1, unknown) and "
                        "origin (kernel AVC or userspace USER_AVC).",
                        MetricType::Counter);
  for (const auto& [key, n] : s.denials) {
    denials.add({{"origin", key.origin},
                 {"perm", key.perm},
                 {"permissive", key.permissive},
                 {"source_type", key.source_type},
                 {"target_type", key.target_type},
                 {"tclass", key.tclass}},
                static_cast<double>(n));
  }
  FamilyBuilder errors(kErrorsMetric, "SELINUX_ERR records (invalid contexts, bounds), by op.",
                       MetricType::Counter);
  for (const auto& [op, n] : s.errors) {
    errors.add({{"op", op}}, static_cast<double>(n));
  }
  FamilyBuilder records("ipcwatch_audit_records_total",
                        "Audit records read, by source and record type (AVC, USER_AVC, "
                        "SELINUX_ERR, other); the same event read by two sources counts twice.",
                        MetricType::Counter);
  for (const auto& [key, n] : s.records) {
    records.add({{"source", key.first}, {"type", key.second}}, static_cast<double>(n));
  }
  FamilyBuilder parse_errors("ipcwatch_audit_parse_errors_total",
                             "AVC, USER_AVC and SELINUX_ERR records that could not be parsed.",
                             MetricType::Counter);
  for (const auto& [source, n] : s.parse_errors) {
    parse_errors.add({{"source", source}}, static_cast<double>(n));
  }
  FamilyBuilder lost("ipcwatch_audit_lost_total",
                     "Times a source knows it missed records (netlink receive queue overruns, "
                     "over-long log lines).",
                     MetricType::Counter);
  for (const auto& [source, n] : s.lost) {
    lost.add({{"source", source}}, static_cast<double>(n));
  }
  FamilyBuilder duplicates("ipcwatch_audit_duplicates_total",
                           "SELinux denials and errors a source read after another source had "
                           "counted the same event, so not counted again.",
                           MetricType::Counter);
  for (const auto& [source, n] : s.duplicates) {
    duplicates.add({{"source", source}}, static_cast<double>(n));
  }
  for (auto* family : {&denials, &errors, &records, &parse_errors, &lost, &duplicates}) {
    push(out, *family);
  }
}

}  // namespace ipcwatch
