#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "audit/avc_record_parser.h"
#include "metrics/label_caps.h"

namespace ipcwatch {

constexpr const char* kDenialsMetric = "ipc_selinux_denials_total";
constexpr const char* kErrorsMetric = "ipc_selinux_errors_total";

// One denial as people read it on /denials.
struct RecentDenial {
  std::int64_t seconds = 0;
  std::uint32_t millis = 0;
  std::string source;  // which source saw it first
  std::string origin;  // kernel | userspace
  std::string comm;
  std::optional<std::int64_t> pid;
  std::string path;
  std::optional<std::uint64_t> ino;
  std::string scontext;
  std::string tcontext;
  std::string tclass;
  std::vector<std::string> permissions;
  std::string permissive;
};

// The audit2allow-style rule that would allow `denial`: allow httpd_t user_tmp_t:fifo_file write;
std::string allowRule(const RecentDenial& denial);

// Counters fed by the audit sources (netlink, audit.log, BPF) from their own threads and read
// at scrape time. Label values are capped when counted, so memory is bounded by the caps; the
// same event seen by two sources (same audit id and same denial) is counted once.
class DenialStore {
 public:
  struct DenialKey {
    std::string tclass, perm, source_type, target_type, permissive, origin;
    auto operator<=>(const DenialKey&) const = default;
  };
  struct Snapshot {
    std::map<DenialKey, std::uint64_t> denials;
    std::map<std::string, std::uint64_t> errors;                           // op
    std::map<std::pair<std::string, std::string>, std::uint64_t> records;  // source, type
    std::map<std::string, std::uint64_t> parse_errors;                     // source
    std::map<std::string, std::uint64_t> lost;                             // source
    // Denials and errors a source saw after another had counted them (the same audit id, or
    // the tracepoint twin of an audit record): how the de-duplication shows it is at work.
    std::map<std::string, std::uint64_t> duplicates;  // source
    std::vector<RecentDenial> recent;                 // newest last
  };

  DenialStore(LabelCaps& caps, std::size_t recent_capacity,
              std::size_t dedupe_capacity = kDefaultDedupeCapacity);

  // Counts one record read by `source` (its type in ipcwatch_audit_records_total, a malformed
  // record as a parse error, an SELinux denial or error unless another source counted it).
  void add(std::string_view source, const AuditRecord& record);
  // Records the source knows it missed (netlink ENOBUFS, a truncated log line).
  void addLost(std::string_view source, std::uint64_t n);
  // Makes `source` appear with zero counts from the first scrape. An audit source (anything
  // but the tracepoint) declared here makes kernel-tracepoint denials wait for its record.
  void declareSource(std::string_view source);

  // A denial the avc:selinux_audited tracepoint saw, at wall time seconds.millis. It has no
  // audit id, so while an audit source runs it is held for kMatchWindow: the same denial from
  // that source (same pid, class, contexts and number of permissions) is counted instead,
  // since its record carries the id and the path. Unmatched, it counts once the window ends.
  void addTracepointDenial(const AvcMessage& avc, std::int64_t seconds, std::uint32_t millis,
                           std::chrono::steady_clock::time_point now);
  // Counts the tracepoint denials whose window ended by `now` (the tracepoint source calls it
  // as it polls).
  void expireTracepointDenials(std::chrono::steady_clock::time_point now);

  Snapshot snapshot() const;
  // Only the recent denials (newest last): what /denials and the endpoint check read, without
  // copying every counter.
  std::vector<RecentDenial> recent() const;

  static constexpr const char* kTracepointSource = "tracepoint";
  static constexpr std::chrono::milliseconds kMatchWindow{3000};
  // Tracepoint denials waiting for a match and audit records remembered for one; past it the
  // oldest waiting denial is counted at once and the oldest remembered record forgotten.
  static constexpr std::size_t kMaxMatchBacklog = 4096;
  static constexpr std::size_t kDefaultDedupeCapacity = 16384;
  // Distinct denial label sets kept apart; past it they fold into one all-"other" series.
  static constexpr std::size_t kMaxDenialSeries = 20000;

 private:
  // What the tracepoint and an audit record of the same denial have in common.
  struct KernelDenialSignature {
    std::optional<std::int64_t> pid;
    std::string tclass, scontext, tcontext;
    std::size_t permissions = 0;
    bool operator==(const KernelDenialSignature&) const = default;
  };
  struct PendingDenial {
    KernelDenialSignature signature;
    std::chrono::steady_clock::time_point deadline;
    AuditRecord record;
    std::int64_t seconds;
    std::uint32_t millis;
  };
  struct AuditSighting {
    KernelDenialSignature signature;
    std::chrono::steady_clock::time_point expires;
  };

  static KernelDenialSignature signatureOf(const AvcMessage& avc);
  bool firstSighting(const AuditRecord& record);
  void countDenial(std::string_view source, const AuditRecord& record, std::int64_t seconds,
                   std::uint32_t millis);
  // An audit source counted a kernel denial: drop its tracepoint twin or remember it.
  void matchAuditDenial(const AuditRecord& record, std::chrono::steady_clock::time_point now);
  void expireLocked(std::chrono::steady_clock::time_point now);

  LabelCap& tclass_cap_;
  LabelCap& perm_cap_;
  LabelCap& source_type_cap_;
  LabelCap& target_type_cap_;
  LabelCap& op_cap_;
  const std::size_t recent_capacity_;
  const std::size_t dedupe_capacity_;

  mutable std::mutex mutex_;
  Snapshot counts_;
  std::deque<RecentDenial> recent_;
  std::deque<std::size_t> seen_order_;
  std::unordered_set<std::size_t> seen_;
  bool audit_sources_ = false;
  std::deque<PendingDenial> pending_;          // tracepoint denials, oldest first
  std::deque<AuditSighting> audit_sightings_;  // audit denials no tracepoint event matched yet
};

}  // namespace ipcwatch
