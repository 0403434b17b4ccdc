#include "audit/avc_record_parser.h"

#include <charconv>
#include <cstring>
#include <ctime>

namespace ipcwatch {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x1d';
}

std::string_view trimLeft(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

std::string_view trim(std::string_view s) {
  s = trimLeft(s);
  while (!s.empty() && isSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

template <typename T>
std::optional<T> toNumber(std::string_view text) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// One `key=value` (or bare word) of a record. A single-quoted value (USER_AVC's msg='...')
// runs to the first quote followed by a blank or the end, so double quotes inside it and
// records after it on the same line stay intact.
struct Token {
  std::string_view key;
  std::string_view value;  // without its quotes
  bool quoted = false;
  std::size_t begin = 0;  // offset of the token in the scanned text
  std::size_t end = 0;
};

std::size_t closingSingleQuote(std::string_view text, std::size_t from) {
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\'' && (i + 1 == text.size() || isSpace(text[i + 1]))) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    if (isSpace(text[i])) {
      ++i;
      continue;
    }
    Token token;
    token.begin = i;
    std::size_t j = i;
    while (j < text.size() && !isSpace(text[j]) && text[j] != '=') {
      ++j;
    }
    if (j < text.size() && text[j] == '=') {
      token.key = text.substr(i, j - i);
      const std::size_t v = j + 1;
      std::size_t close = std::string_view::npos;
      if (v < text.size() && text[v] == '"') {
        close = text.find('"', v + 1);
      } else if (v < text.size() && text[v] == '\'') {
        close = closingSingleQuote(text, v + 1);
      }
      const bool opens = v < text.size() && (text[v] == '"' || text[v] == '\'');
      if (close != std::string_view::npos) {
        token.value = text.substr(v + 1, close - v - 1);
        token.quoted = true;
        j = close + 1;
      } else if (opens) {
        // An unterminated quote (a truncated record) runs to the end.
        token.value = text.substr(v + 1);
        j = text.size();
      } else {
        std::size_t k = v;
        while (k < text.size() && !isSpace(text[k])) {
          ++k;
        }
        token.value = text.substr(v, k - v);
        j = k;
      }
    } else {
      token.value = text.substr(i, j - i);
    }
    token.end = j;
    tokens.push_back(token);
    i = j;
  }
  return tokens;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// The audit subsystem writes untrusted strings (comm, path, name, exe, cmdline) in double quotes
// or, when they contain blanks, quotes or control bytes, as unquoted upper-case hex.
std::string untrustedValue(const Token& token) {
  const std::string_view v = token.value;
  if (token.quoted || v.size() < 2 || v.size() % 2 != 0) {
    return std::string(v);
  }
  std::string decoded;
  decoded.reserve(v.size() / 2);
  for (std::size_t i = 0; i < v.size(); i += 2) {
    const int hi = hexDigit(v[i]);
    const int lo = hexDigit(v[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::string(v);
    }
    decoded.push_back(static_cast<char>(hi * 16 + lo));
  }
  return decoded;
}

const Token* findKey(const std::vector<Token>& tokens, std::string_view key) {
  for (const auto& token : tokens) {
    if (token.key == key) {
      return &token;
    }
  }
  return nullptr;
}

// ausearch -i prints the local time with the C library's %x %T: 11/23/26 09:30:00 in the C
// locale, 11/23/2026 in en_US; a few common date orders are accepted.
std::optional<std::int64_t> parseLocalTime(std::string_view text) {
  const std::string s(text);
  for (const char* format :
       {"%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S"}) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') {
      // %Y accepts a two-digit year; the two-digit format must win then.
      if (std::strstr(format, "%Y") != nullptr && tm.tm_year < 0) {
        continue;
      }
      tm.tm_isdst = -1;
      const std::time_t t = std::mktime(&tm);
      if (t != static_cast<std::time_t>(-1)) {
        return static_cast<std::int64_t>(t);
      }
    }
  }
  return std::nullopt;
}

std::optional<AuditEventId> parseStamp(std::string_view stamp) {
  const std::size_t colon = stamp.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  AuditEventId id;
  const auto serial = toNumber<std::uint64_t>(stamp.substr(colon + 1));
  const std::string_view time = stamp.substr(0, colon);
  const std::size_t dot = time.rfind('.');
  if (!serial || dot == std::string_view::npos) {
    return std::nullopt;
  }
  const auto millis = toNumber<std::uint32_t>(time.substr(dot + 1));
  auto seconds = toNumber<std::int64_t>(time.substr(0, dot));
  if (!seconds) {
    seconds = parseLocalTime(time.substr(0, dot));
  }
  if (!millis || !seconds) {
    return std::nullopt;
  }
  id.seconds = *seconds;
  id.millis = *millis;
  id.serial = *serial;
  return id;
}

// Splits `[msg=]audit(STAMP)[ ]: rest` into the event id and the rest.
bool parseHeader(std::string_view body, std::optional<AuditEventId>& id, std::string_view& rest) {
  body = trimLeft(body);
  if (startsWith(body, "msg=")) {
    body.remove_prefix(4);
  }
  if (!startsWith(body, "audit(")) {
    return false;
  }
  const std::size_t close = body.find(')');
  if (close == std::string_view::npos) {
    return false;
  }
  id = parseStamp(body.substr(6, close - 6));
  std::string_view after = trimLeft(body.substr(close + 1));
  if (!id || !startsWith(after, ":")) {
    return false;
  }
  rest = trimLeft(after.substr(1));
  return true;
}

AuditRecord malformed(AuditRecord record, std::string why) {
  record.kind = AuditRecordKind::kMalformed;
  record.error = std::move(why);
  return record;
}

// `avc:  denied  { p1 p2 } for  key=value ...` (text after "avc:").
AuditRecord parseAvcMessage(AuditRecord record, std::string_view text, bool userspace) {
  text = trimLeft(text);
  const bool denied = startsWith(text, "denied");
  if (!denied && !startsWith(text, "granted")) {
    if (startsWith(text, "received") || startsWith(text, "op=")) {
      record.kind = AuditRecordKind::kNotSelinux;  // policy load / setenforce notices
      return record;
    }
    return malformed(std::move(record), "avc message is neither denied nor granted");
  }
  const std::size_t open = text.find('{');
  const std::size_t close = text.find('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return malformed(std::move(record), "avc message without { permissions }");
  }
  AvcMessage& avc = record.avc;
  avc.denied = denied;
  avc.userspace = userspace;
  for (const auto& token : tokenize(text.substr(open + 1, close - open - 1))) {
    if (token.key.empty() && !token.value.empty()) {
      avc.permissions.emplace_back(token.value);
    }
  }
  const auto fields = tokenize(text.substr(close + 1));
  const Token* scontext = findKey(fields, "scontext");
  const Token* tcontext = findKey(fields, "tcontext");
  const Token* tclass = findKey(fields, "tclass");
  if (avc.permissions.empty() || scontext == nullptr || tcontext == nullptr || tclass == nullptr ||
      tclass->value.empty()) {
    return malformed(std::move(record), "avc message without permissions, contexts or tclass");
  }
  avc.scontext = std::string(scontext->value);
  avc.tcontext = std::string(tcontext->value);
  avc.tclass = std::string(tclass->value);
  if (const Token* permissive = findKey(fields, "permissive")) {
    const std::string_view p = permissive->value;
    avc.permissive = (p == "1" || p == "yes") ? "1" : (p == "0" || p == "no") ? "0" : "unknown";
  }
  if (const Token* comm = findKey(fields, "comm")) {
    avc.comm = untrustedValue(*comm);
  }
  if (const Token* path = findKey(fields, "path")) {
    avc.path = untrustedValue(*path);
  } else if (const Token* name = findKey(fields, "name")) {
    avc.path = untrustedValue(*name);
  }
  if (const Token* exe = findKey(fields, "exe")) {
    avc.exe = untrustedValue(*exe);
  }
  if (const Token* ino = findKey(fields, "ino")) {
    avc.ino = toNumber<std::uint64_t>(ino->value);
  }
  const Token* pid = findKey(fields, userspace ? "spid" : "pid");
  if (pid == nullptr) {
    pid = findKey(fields, "pid");
  }
  if (pid != nullptr) {
    avc.pid = toNumber<std::int64_t>(pid->value);
  }
  record.kind = AuditRecordKind::kAvc;
  return record;
}

AuditRecord parseKernelAvc(AuditRecord record, std::string_view rest) {
  // AppArmor writes its decisions as type=AVC too: apparmor="DENIED" operation=...
  if (findKey(tokenize(rest), "apparmor") != nullptr) {
    record.kind = AuditRecordKind::kNotSelinux;
    return record;
  }
  if (!startsWith(rest, "avc:")) {
    return malformed(std::move(record), "AVC record without 'avc:'");
  }
  return parseAvcMessage(std::move(record), rest.substr(4), false);
}

AuditRecord parseUserAvc(AuditRecord record, std::string_view rest) {
  const auto fields = tokenize(rest);
  const Token* msg = findKey(fields, "msg");
  if (msg == nullptr) {
    return malformed(std::move(record), "USER_AVC record without msg=");
  }
  const std::string_view inner = trimLeft(msg->value);
  if (!startsWith(inner, "avc:")) {
    // Object managers also log their own notices as USER_AVC (e.g. "Failed to ...").
    record.kind = AuditRecordKind::kNotSelinux;
    return record;
  }
  return parseAvcMessage(std::move(record), inner.substr(4), true);
}

AuditRecord parseSelinuxErr(AuditRecord record, std::string_view rest) {
  const auto fields = tokenize(rest);
  if (const Token* op = findKey(fields, "op"); op != nullptr && !op->value.empty()) {
    record.op = std::string(op->value);
  } else if (!fields.empty() && fields.front().key.empty() && fields.front().value.size() > 1 &&
             fields.front().value.back() == ':') {
    // Older kernels: "security_compute_sid:  invalid context ... for scontext=..."
    record.op = std::string(fields.front().value.substr(0, fields.front().value.size() - 1));
  } else {
    record.op = "unknown";
  }
  record.kind = AuditRecordKind::kSelinuxError;
  return record;
}

bool isRecordStart(const std::vector<Token>& tokens, std::size_t i) {
  return tokens[i].key == "type" && !tokens[i].value.empty() && i + 1 < tokens.size() &&
         tokens[i + 1].key == "msg" && startsWith(tokens[i + 1].value, "audit(");
}

}  // namespace

AuditRecord parseAuditRecord(std::string_view type, std::string_view body) {
  AuditRecord record;
  record.type = std::string(type);
  const std::size_t enriched = body.find('\x1d');
  if (enriched != std::string_view::npos) {
    body = body.substr(0, enriched);
  }
  std::string_view rest;
  const bool ours = type == "AVC" || type == "USER_AVC" || type == "SELINUX_ERR";
  if (!parseHeader(body, record.id, rest)) {
    if (!ours) {
      return record;
    }
    return malformed(std::move(record), "no msg=audit(SECONDS.MILLIS:SERIAL): header");
  }
  rest = trim(rest);
  if (type == "AVC") {
    return parseKernelAvc(std::move(record), rest);
  }
  if (type == "USER_AVC") {
    return parseUserAvc(std::move(record), rest);
  }
  if (type == "SELINUX_ERR") {
    return parseSelinuxErr(std::move(record), rest);
  }
  return record;
}

std::vector<AuditRecord> parseAuditLine(std::string_view line) {
  std::vector<AuditRecord> records;
  const auto tokens = tokenize(line);
  // Record starts: `type=X msg=audit(`, with a preceding node=N belonging to it.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (isRecordStart(tokens, i)) {
      starts.push_back(i);
    }
  }
  for (std::size_t n = 0; n < starts.size(); ++n) {
    const Token& type = tokens[starts[n]];
    std::size_t end = line.size();
    if (n + 1 < starts.size()) {
      std::size_t next = starts[n + 1];
      if (next > 0 && tokens[next - 1].key == "node") {
        --next;
      }
      end = tokens[next].begin;
    }
    const std::size_t body = tokens[starts[n] + 1].begin;
    records.push_back(parseAuditRecord(type.value, line.substr(body, end - body)));
  }
  if (starts.empty() && line.find("msg=audit(") != std::string_view::npos) {
    AuditRecord record;
    record.type = "unknown";
    records.push_back(malformed(std::move(record), "audit record without type="));
  }
  return records;
}

std::string_view contextType(std::string_view context) {
  // user:role:type[:level], where the level itself may contain ':' (s0-s0:c0.c1023).
  const std::size_t first = context.find(':');
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t second = context.find(':', first + 1);
  if (second == std::string_view::npos) {
    return {};
  }
  const std::size_t third = context.find(':', second + 1);
  return context.substr(
      second + 1, third == std::string_view::npos ? std::string_view::npos : third - second - 1);
}

std::string_view auditTypeName(std::uint16_t type) {
  switch (type) {
    case kAuditAvc:
      return "AVC";
    case kAuditUserAvc:
      return "USER_AVC";
    case kAuditSelinuxErr:
      return "SELINUX_ERR";
    default:
      return "other";
  }
}

}  // namespace ipcwatch
