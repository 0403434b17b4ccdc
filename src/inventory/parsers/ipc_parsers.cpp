#include "inventory/parsers/ipc_parsers.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

namespace ipcwatch {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isSpace(line[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && !isSpace(line[i])) {
      ++i;
    }
    if (i > start) {
      fields.push_back(line.substr(start, i - start));
    }
  }
  return fields;
}

template <typename T>
std::optional<T> parseNumber(std::string_view text, int base = 10) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// The fields of one data row, looked up by header column name.
class Row {
 public:
  Row(const std::map<std::string_view, std::size_t>& columns,
      const std::vector<std::string_view>& fields)
      : columns_(columns), fields_(fields) {}

  // Reads column `name` into `out`; remembers the first column that failed.
  template <typename T>
  void read(std::string_view name, T& out, int base = 10) {
    const auto value = parseNumber<T>(fields_[columns_.at(name)], base);
    if (!value) {
      if (bad_.empty()) {
        bad_ = std::string(name) + " '" + std::string(fields_[columns_.at(name)]) + "'";
      }
      return;
    }
    out = *value;
  }
  const std::string& bad() const { return bad_; }

 private:
  const std::map<std::string_view, std::size_t>& columns_;
  const std::vector<std::string_view>& fields_;
  std::string bad_;
};

template <typename T, typename Fill>
ParseResult<T> parseTable(std::string_view text, const std::vector<std::string_view>& required,
                          Fill&& fill) {
  ParseResult<T> result;
  std::map<std::string_view, std::size_t> columns;
  std::size_t header_fields = 0;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    const auto fields = splitFields(line);
    if (fields.empty()) {
      continue;
    }
    if (header_fields == 0) {
      for (std::size_t i = 0; i < fields.size(); ++i) {
        columns.emplace(fields[i], i);
      }
      for (const auto name : required) {
        if (!columns.contains(name)) {
          result.errors.push_back("header has no '" + std::string(name) + "' column");
          return result;
        }
      }
      header_fields = fields.size();
      continue;
    }
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (fields.size() != header_fields) {
      result.errors.push_back(where + "expected " + std::to_string(header_fields) +
                              " fields, got " + std::to_string(fields.size()));
      continue;
    }
    Row row(columns, fields);
    T value;
    fill(row, value);
    if (!row.bad().empty()) {
      result.errors.push_back(where + "bad " + row.bad());
      continue;
    }
    result.rows.push_back(value);
  }
  if (header_fields == 0) {
    result.errors.push_back("empty file: no header line");
  }
  return result;
}

}  // namespace

ParseResult<SysvShmSegment> parseSysvShm(std::string_view text) {
  return parseTable<SysvShmSegment>(text,
                                    {"key", "shmid", "perms", "size", "cpid", "nattch", "uid"},
                                    [](Row& row, SysvShmSegment& s) {
                                      row.read("key", s.key);
                                      row.read("shmid", s.id);
                                      row.read("perms", s.mode, 8);
                                      row.read("size", s.size);
                                      row.read("cpid", s.cpid);
                                      row.read("nattch", s.nattch);
                                      row.read("uid", s.uid);
                                    });
}

ParseResult<SysvSemArray> parseSysvSem(std::string_view text) {
  return parseTable<SysvSemArray>(text, {"key", "semid", "perms", "nsems", "uid"},
                                  [](Row& row, SysvSemArray& s) {
                                    row.read("key", s.key);
                                    row.read("semid", s.id);
                                    row.read("perms", s.mode, 8);
                                    row.read("nsems", s.nsems);
                                    row.read("uid", s.uid);
                                  });
}

ParseResult<SysvMsgQueue> parseSysvMsg(std::string_view text) {
  return parseTable<SysvMsgQueue>(text, {"key", "msqid", "perms", "cbytes", "qnum", "uid"},
                                  [](Row& row, SysvMsgQueue& q) {
                                    row.read("key", q.key);
                                    row.read("msqid", q.id);
                                    row.read("perms", q.mode, 8);
                                    row.read("cbytes", q.cbytes);
                                    row.read("qnum", q.qnum);
                                    row.read("uid", q.uid);
                                  });
}

std::optional<SysvSemLimits> parseSysvSemLimits(std::string_view text) {
  const auto fields = splitFields(text);
  if (fields.size() != 4) {
    return std::nullopt;
  }
  std::uint64_t values[4];
  for (std::size_t i = 0; i < 4; ++i) {
    const auto value = parseNumber<std::uint64_t>(fields[i]);
    if (!value) {
      return std::nullopt;
    }
    values[i] = *value;
  }
  return SysvSemLimits{values[0], values[1], values[2], values[3]};
}

std::optional<std::uint64_t> parseSysctlUnsigned(std::string_view text) {
  const auto fields = splitFields(text);
  if (fields.size() != 1) {
    return std::nullopt;
  }
  return parseNumber<std::uint64_t>(fields[0]);
}

std::optional<std::uint64_t> parseMqueueQsize(std::string_view text) {
  for (const auto field : splitFields(text)) {
    if (field.starts_with("QSIZE:")) {
      return parseNumber<std::uint64_t>(field.substr(6));
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parseNamespaceLink(std::string_view target, std::string_view kind) {
  if (target.size() < kind.size() + 3 || !target.starts_with(kind) ||
      target.substr(kind.size(), 2) != ":[" || target.back() != ']') {
    return std::nullopt;
  }
  return parseNumber<std::uint64_t>(
      target.substr(kind.size() + 2, target.size() - kind.size() - 3));
}

}  // namespace ipcwatch
