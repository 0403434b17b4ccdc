#include "endpoints/posix_acl.h"

#include <algorithm>
#include <cstring>

namespace ipcwatch {
namespace {

constexpr std::uint32_t kAclVersion = 2;

std::uint32_t readLe(const char* p, int bytes) {
  std::uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(p[i]);
  }
  return value;
}

void writeLe(std::string& out, std::uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

std::optional<AclEntry::Tag> tagFromKernel(std::uint32_t tag) {
  switch (tag) {
    case 0x01:
      return AclEntry::Tag::kUserObj;
    case 0x02:
      return AclEntry::Tag::kUser;
    case 0x04:
      return AclEntry::Tag::kGroupObj;
    case 0x08:
      return AclEntry::Tag::kGroup;
    case 0x10:
      return AclEntry::Tag::kMask;
    case 0x20:
      return AclEntry::Tag::kOther;
    default:
      return std::nullopt;
  }
}

std::uint32_t tagToKernel(AclEntry::Tag tag) {
  switch (tag) {
    case AclEntry::Tag::kUserObj:
      return 0x01;
    case AclEntry::Tag::kUser:
      return 0x02;
    case AclEntry::Tag::kGroupObj:
      return 0x04;
    case AclEntry::Tag::kGroup:
      return 0x08;
    case AclEntry::Tag::kMask:
      return 0x10;
    case AclEntry::Tag::kOther:
      return 0x20;
  }
  return 0x20;
}

std::string missingBits(unsigned have, unsigned wanted) {
  const unsigned lacking = wanted & ~have;
  std::string out;
  out += (lacking & 4) != 0 ? "r" : "";
  out += (lacking & 2) != 0 ? "w" : "";
  out += (lacking & 1) != 0 ? "x" : "";
  return out;
}

AccessExplanation decide(unsigned have, unsigned wanted, std::string rule) {
  AccessExplanation out;
  out.granted = (have & wanted) == wanted;
  out.missing = missingBits(have, wanted);
  out.rule = std::move(rule) + " grants " + permString(have);
  return out;
}

}  // namespace

std::optional<std::vector<AclEntry>> decodePosixAcl(std::string_view value) {
  if (value.size() < 4 || (value.size() - 4) % 8 != 0 || readLe(value.data(), 4) != kAclVersion) {
    return std::nullopt;
  }
  std::vector<AclEntry> entries;
  for (std::size_t at = 4; at < value.size(); at += 8) {
    const auto tag = tagFromKernel(readLe(value.data() + at, 2));
    if (!tag) {
      return std::nullopt;
    }
    entries.push_back(
        AclEntry{*tag, readLe(value.data() + at + 2, 2) & 7u, readLe(value.data() + at + 4, 4)});
  }
  return entries;
}

std::string encodePosixAcl(const std::vector<AclEntry>& entries) {
  std::string out;
  writeLe(out, kAclVersion, 4);
  for (const auto& entry : entries) {
    writeLe(out, tagToKernel(entry.tag), 2);
    writeLe(out, entry.perm, 2);
    const bool named = entry.tag == AclEntry::Tag::kUser || entry.tag == AclEntry::Tag::kGroup;
    writeLe(out, named ? entry.id : 0xffffffffu, 4);
  }
  return out;
}

std::string permString(unsigned perm) {
  std::string out = "---";
  out[0] = (perm & 4) != 0 ? 'r' : '-';
  out[1] = (perm & 2) != 0 ? 'w' : '-';
  out[2] = (perm & 1) != 0 ? 'x' : '-';
  return out;
}

AccessExplanation explainAccess(const FileOwnership& file, const std::vector<AclEntry>& acl,
                                std::uint32_t uid, const std::vector<std::uint32_t>& gids,
                                unsigned wanted) {
  const unsigned owner_bits = (file.mode >> 6) & 7;
  const unsigned group_bits = (file.mode >> 3) & 7;
  const unsigned other_bits = file.mode & 7;
  if (uid == 0) {
    const bool any_x = (file.mode & 0111) != 0 || S_ISDIR(file.mode);
    AccessExplanation out;
    out.granted = (wanted & 1) == 0 || any_x;
    out.rule = "uid 0 overrides the mode bits (CAP_DAC_OVERRIDE)";
    out.missing = out.granted ? "" : "x";
    return out;
  }
  if (uid == file.uid) {
    return decide(owner_bits, wanted, "owner (uid " + std::to_string(uid) + ") class");
  }
  // With an ACL, the mode's group bits are the mask.
  const bool has_acl = !acl.empty();
  unsigned mask = 7;
  for (const auto& entry : acl) {
    if (entry.tag == AclEntry::Tag::kMask) {
      mask = entry.perm;
    }
  }
  for (const auto& entry : acl) {
    if (entry.tag == AclEntry::Tag::kUser && entry.id == uid) {
      auto out = decide(entry.perm & mask, wanted,
                        "ACL entry user:" + std::to_string(uid) + ":" + permString(entry.perm) +
                            " (mask " + permString(mask) + ")");
      out.mask_blocks = !out.granted && (entry.perm & wanted) == wanted;
      return out;
    }
  }
  const auto member = [&](std::uint32_t gid) {
    return std::find(gids.begin(), gids.end(), gid) != gids.end();
  };
  // Groups: owning group and named group entries; access is granted when any matching one has
  // every wanted bit.
  std::vector<std::pair<std::uint32_t, unsigned>> group_entries;
  group_entries.emplace_back(file.gid, has_acl ? [&] {
    for (const auto& entry : acl) {
      if (entry.tag == AclEntry::Tag::kGroupObj) {
        return entry.perm;
      }
    }
    return group_bits;
  }() : group_bits);
  for (const auto& entry : acl) {
    if (entry.tag == AclEntry::Tag::kGroup) {
      group_entries.emplace_back(entry.id, entry.perm);
    }
  }
  bool matched = false;
  unsigned matched_bits = 0;
  std::string matched_rule;
  AccessExplanation out;
  for (const auto& [gid, perm] : group_entries) {
    const unsigned effective = has_acl ? (perm & mask) : perm;
    const bool is_owning = gid == file.gid && &perm == &group_entries.front().second;
    const std::string rule = (is_owning ? "group (gid " : "ACL entry group:") +
                             std::to_string(gid) + (is_owning ? ") class" : ":" + permString(perm));
    if ((effective & wanted) == wanted) {
      out.granting_groups.push_back(gid);
    } else if ((perm & wanted) == wanted) {
      out.mask_blocks = out.mask_blocks || member(gid);
    }
    if (member(gid)) {
      if ((effective & wanted) == wanted) {
        auto granted = decide(effective, wanted, rule);
        granted.granting_groups = out.granting_groups;
        return granted;
      }
      matched = true;
      matched_bits |= effective;
      matched_rule += (matched_rule.empty() ? "" : ", ") + rule;
    }
  }
  if (matched) {
    // POSIX: a caller matching any group entry never falls through to "other".
    auto denied = decide(matched_bits, wanted, matched_rule + (has_acl ? " (after mask)" : ""));
    denied.granted = false;
    denied.granting_groups = out.granting_groups;
    denied.mask_blocks = out.mask_blocks;
    return denied;
  }
  auto other = decide(other_bits, wanted,
                      "neither owner (uid " + std::to_string(file.uid) + ") nor in group " +
                          std::to_string(file.gid) + ": the other class");
  other.granting_groups = out.granting_groups;
  return other;
}

}  // namespace ipcwatch
