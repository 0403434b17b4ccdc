#include "audit/denial_store.h"

#include <functional>

#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

std::string_view recordTypeLabel(std::string_view type) {
  for (std::string_view known : {"AVC", "USER_AVC", "SELINUX_ERR"}) {
    if (type == known) {
      return known;
    }
  }
  return "other";
}

void mix(std::size_t& seed, std::string_view value) {
  seed ^= std::hash<std::string_view>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

// The same event reaches netlink and audit.log with the same id; several AVC records of one
// event (a search on the directory, then a write on the file) differ in what they deny.
std::size_t fingerprint(const AuditRecord& record) {
  std::size_t seed = 0;
  mix(seed, std::to_string(record.id->seconds));
  mix(seed, std::to_string(record.id->millis));
  mix(seed, std::to_string(record.id->serial));
  mix(seed, record.type);
  mix(seed, record.op);
  mix(seed, record.avc.tclass);
  mix(seed, record.avc.scontext);
  mix(seed, record.avc.tcontext);
  for (const auto& perm : record.avc.permissions) {
    mix(seed, perm);
  }
  return seed;
}

std::string typeLabel(LabelCap& cap, std::string_view context) {
  const std::string_view type = contextType(context);
  return cap.admit(sanitizeLabelValue(type.empty() ? std::string_view("unknown") : type));
}

}  // namespace

std::string allowRule(const RecentDenial& denial) {
  std::string perms;
  for (const auto& perm : denial.permissions) {
    perms += (perms.empty() ? "" : " ") + perm;
  }
  if (denial.permissions.size() > 1) {
    perms = "{ " + perms + " }";
  }
  return "allow " + std::string(contextType(denial.scontext)) + " " +
         std::string(contextType(denial.tcontext)) + ":" + denial.tclass + " " + perms + ";";
}

DenialStore::DenialStore(LabelCaps& caps, std::size_t recent_capacity, std::size_t dedupe_capacity)
    : tclass_cap_(caps.label(kDenialsMetric, "tclass")),
      perm_cap_(caps.label(kDenialsMetric, "perm")),
      source_type_cap_(caps.label(kDenialsMetric, "source_type")),
      target_type_cap_(caps.label(kDenialsMetric, "target_type")),
      op_cap_(caps.label(kErrorsMetric, "op")),
      recent_capacity_(recent_capacity),
      dedupe_capacity_(dedupe_capacity) {}

void DenialStore::declareSource(std::string_view source) {
  std::lock_guard lock(mutex_);
  audit_sources_ = audit_sources_ || source != kTracepointSource;
  counts_.parse_errors[std::string(source)] += 0;
  counts_.lost[std::string(source)] += 0;
  counts_.duplicates[std::string(source)] += 0;
}

void DenialStore::addLost(std::string_view source, std::uint64_t n) {
  std::lock_guard lock(mutex_);
  counts_.lost[std::string(source)] += n;
}

bool DenialStore::firstSighting(const AuditRecord& record) {
  if (!record.id || dedupe_capacity_ == 0) {
    return true;
  }
  const std::size_t key = fingerprint(record);
  if (!seen_.insert(key).second) {
    return false;
  }
  seen_order_.push_back(key);
  if (seen_order_.size() > dedupe_capacity_) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

void DenialStore::add(std::string_view source, const AuditRecord& record) {
  std::lock_guard lock(mutex_);
  counts_.records[{std::string(source), std::string(recordTypeLabel(record.type))}] += 1;
  switch (record.kind) {
    case AuditRecordKind::kMalformed:
      counts_.parse_errors[std::string(source)] += 1;
      return;
    case AuditRecordKind::kSelinuxError:
      if (!firstSighting(record)) {
        counts_.duplicates[std::string(source)] += 1;
        return;
      }
      counts_.errors[op_cap_.admit(sanitizeLabelValue(record.op))] += 1;
      return;
    case AuditRecordKind::kAvc:
      if (!record.avc.denied) {
        return;
      }
      if (!firstSighting(record)) {
        counts_.duplicates[std::string(source)] += 1;
        return;
      }
      countDenial(source, record, record.id ? record.id->seconds : 0,
                  record.id ? record.id->millis : 0);
      if (!record.avc.userspace) {
        matchAuditDenial(record, std::chrono::steady_clock::now());
      }
      return;
    default:
      return;
  }
}

DenialStore::KernelDenialSignature DenialStore::signatureOf(const AvcMessage& avc) {
  return {avc.pid, avc.tclass, avc.scontext, avc.tcontext, avc.permissions.size()};
}

void DenialStore::addTracepointDenial(const AvcMessage& avc, std::int64_t seconds,
                                      std::uint32_t millis,
                                      std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  AuditRecord record;
  record.kind = AuditRecordKind::kAvc;
  record.type = "AVC";
  record.avc = avc;
  counts_.records[{kTracepointSource, record.type}] += 1;
  if (!avc.denied) {
    return;
  }
  expireLocked(now);
  if (!audit_sources_) {
    countDenial(kTracepointSource, record, seconds, millis);
    return;
  }
  const auto signature = signatureOf(avc);
  for (auto it = audit_sightings_.begin(); it != audit_sightings_.end(); ++it) {
    if (it->signature == signature) {
      audit_sightings_.erase(it);  // the audit source has counted this one
      counts_.duplicates[kTracepointSource] += 1;
      return;
    }
  }
  pending_.push_back({signature, now + kMatchWindow, std::move(record), seconds, millis});
  if (pending_.size() > kMaxMatchBacklog) {
    const PendingDenial& oldest = pending_.front();
    countDenial(kTracepointSource, oldest.record, oldest.seconds, oldest.millis);
    pending_.pop_front();
  }
}

void DenialStore::expireTracepointDenials(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  expireLocked(now);
}

void DenialStore::expireLocked(std::chrono::steady_clock::time_point now) {
  while (!pending_.empty() && pending_.front().deadline <= now) {
    const PendingDenial& oldest = pending_.front();
    countDenial(kTracepointSource, oldest.record, oldest.seconds, oldest.millis);
    pending_.pop_front();
  }
  while (!audit_sightings_.empty() && audit_sightings_.front().expires <= now) {
    audit_sightings_.pop_front();
  }
}

void DenialStore::matchAuditDenial(const AuditRecord& record,
                                   std::chrono::steady_clock::time_point now) {
  const auto signature = signatureOf(record.avc);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->signature == signature) {
      pending_.erase(it);  // counted from the audit record instead
      counts_.duplicates[kTracepointSource] += 1;
      return;
    }
  }
  audit_sightings_.push_back({signature, now + kMatchWindow});
  if (audit_sightings_.size() > kMaxMatchBacklog) {
    audit_sightings_.pop_front();
  }
}

void DenialStore::countDenial(std::string_view source, const AuditRecord& record,
                              std::int64_t seconds, std::uint32_t millis) {
  const AvcMessage& avc = record.avc;
  DenialKey key;
  key.tclass = tclass_cap_.admit(sanitizeLabelValue(avc.tclass));
  key.source_type = typeLabel(source_type_cap_, avc.scontext);
  key.target_type = typeLabel(target_type_cap_, avc.tcontext);
  key.permissive = avc.permissive;
  key.origin = avc.userspace ? "userspace" : "kernel";
  for (const auto& perm : avc.permissions) {
    key.perm = perm_cap_.admit(sanitizeLabelValue(perm));
    if (counts_.denials.size() >= kMaxDenialSeries && !counts_.denials.contains(key)) {
      const std::string other(LabelCap::kOther);
      counts_.denials[{other, other, other, other, key.permissive, key.origin}] += 1;
      continue;
    }
    counts_.denials[key] += 1;
  }
  if (recent_capacity_ == 0) {
    return;
  }
  RecentDenial recent;
  recent.seconds = seconds;
  recent.millis = millis;
  recent.source = std::string(source);
  recent.origin = key.origin;
  recent.comm = avc.comm;
  recent.pid = avc.pid;
  recent.path = avc.path;
  recent.ino = avc.ino;
  recent.scontext = avc.scontext;
  recent.tcontext = avc.tcontext;
  recent.tclass = avc.tclass;
  recent.permissions = avc.permissions;
  recent.permissive = avc.permissive;
  recent_.push_back(std::move(recent));
  if (recent_.size() > recent_capacity_) {
    recent_.pop_front();
  }
}

std::vector<RecentDenial> DenialStore::recent() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

DenialStore::Snapshot DenialStore::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot copy = counts_;
  copy.recent.assign(recent_.begin(), recent_.end());
  return copy;
}

}  // namespace ipcwatch
