#include "config/yaml_validator.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

namespace ipcwatch {
namespace {

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string didYouMean(std::string_view key, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& candidate : known) {
    const std::size_t d = editDistance(key, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

void YamlValidator::error(const YAML::Node& node, const std::string& key,
                          const std::string& message) {
  const YAML::Mark mark = node.Mark();
  std::ostringstream out;
  out << source_ << ":" << mark.line + 1 << ":" << mark.column + 1 << ": " << key << ": "
      << message;
  errors_.push_back(out.str());
}

void YamlValidator::errorAtMark(const YAML::Mark& mark, const std::string& message) {
  std::ostringstream out;
  out << source_ << ":" << mark.line + 1 << ":" << mark.column + 1 << ": " << message;
  errors_.push_back(out.str());
}

std::string YamlValidator::errorText() const {
  std::string all;
  for (const auto& e : errors_) {
    all += (all.empty() ? "" : "\n") + e;
  }
  return all;
}

void YamlValidator::mapping(const YAML::Node& node, const std::string& path,
                            const std::map<std::string, Handler>& handlers,
                            const std::map<std::string, std::string>& unsupported) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    error(node, path, "expected a mapping");
    return;
  }
  std::vector<std::string> known;
  for (const auto& [name, handler] : handlers) {
    known.push_back(name);
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string child = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) {
      error(entry.first, child, "duplicate key");
    } else if (const auto it = handlers.find(key); it != handlers.end()) {
      it->second(entry.second, child);
    } else if (const auto why = unsupported.find(key); why != unsupported.end()) {
      error(entry.first, child, "not supported by ipcwatch (" + why->second + ")");
    } else {
      error(entry.first, child,
            "unknown key (known: " + joined(known) + ")" + didYouMean(key, known));
    }
  }
}

bool YamlValidator::scalar(const YAML::Node& node, const std::string& path,
                           const std::string& expected) {
  if (!node.IsScalar()) {
    error(node, path, "expected " + expected);
    return false;
  }
  return true;
}

void YamlValidator::boolean(const YAML::Node& node, const std::string& path, bool& out) {
  if (!scalar(node, path, "true or false")) {
    return;
  }
  const std::string& text = node.Scalar();
  if (text == "true") {
    out = true;
  } else if (text == "false") {
    out = false;
  } else {
    error(node, path, "expected true or false, got '" + text + "'");
  }
}

void YamlValidator::integer(const YAML::Node& node, const std::string& path, std::uint32_t min,
                            std::uint32_t max, std::uint32_t& out) {
  const std::string range =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!scalar(node, path, range)) {
    return;
  }
  const std::string& text = node.Scalar();
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    error(node, path, "expected " + range + ", got '" + text + "'");
    return;
  }
  if (value < min || value > max) {
    error(node, path, "out of range: " + text + " (expected " + range + ")");
    return;
  }
  out = static_cast<std::uint32_t>(value);
}

void YamlValidator::number(const YAML::Node& node, const std::string& path, double min,
                           double max, double& out, const char* what) {
  std::ostringstream range;
  range << what << " from " << min << " to " << max;
  if (!scalar(node, path, range.str())) {
    return;
  }
  const std::string& text = node.Scalar();
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    error(node, path, "expected " + range.str() + ", got '" + text + "'");
    return;
  }
  if (!(value >= min && value <= max)) {
    error(node, path, "out of range: " + text + " (expected " + range.str() + ")");
    return;
  }
  out = value;
}

void YamlValidator::absolutePath(const YAML::Node& node, const std::string& path,
                                 std::string& out) {
  if (!scalar(node, path, "an absolute path")) {
    return;
  }
  const std::string& text = node.Scalar();
  if (text.empty() || text.front() != '/') {
    error(node, path, "expected an absolute path, got '" + text + "'");
    return;
  }
  out = text;
}

void YamlValidator::oneOf(const YAML::Node& node, const std::string& path,
                          const std::vector<std::string>& allowed, std::string& out) {
  if (!scalar(node, path, "one of " + joined(allowed))) {
    return;
  }
  const std::string& text = node.Scalar();
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    error(node, path,
          "'" + text + "' is not one of " + joined(allowed) + didYouMean(text, allowed));
    return;
  }
  out = text;
}

}  // namespace ipcwatch
