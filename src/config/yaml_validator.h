#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

// "a, b, c".
std::string joined(const std::vector<std::string>& items);

// "; did you mean 'x'?" for the entry of `known` closest to `key` (within two edits), else "".
std::string didYouMean(std::string_view key, const std::vector<std::string>& known);

// Walks a YAML tree for one of the project's strict file formats (the configuration, the web
// config), collecting every problem as `source:line:column: key: message` instead of stopping
// at the first.
class YamlValidator {
 public:
  using Handler = std::function<void(const YAML::Node&, const std::string&)>;

  explicit YamlValidator(std::string_view source) : source_(source) {}

  void error(const YAML::Node& node, const std::string& key, const std::string& message);
  void errorAtMark(const YAML::Mark& mark, const std::string& message);
  const std::vector<std::string>& errors() const { return errors_; }
  // Every error, one per line.
  std::string errorText() const;

  // Calls handlers[key] for each entry of the mapping `node`; reports duplicate and unknown keys
  // (at the key's own position, with the known ones), keys listed in `unsupported` with the
  // reason given there, and a node that is not a mapping. A null node ("section:" with nothing
  // under it) means all defaults.
  void mapping(const YAML::Node& node, const std::string& path,
               const std::map<std::string, Handler>& handlers,
               const std::map<std::string, std::string>& unsupported = {});

  bool scalar(const YAML::Node& node, const std::string& path, const std::string& expected);
  void boolean(const YAML::Node& node, const std::string& path, bool& out);
  void integer(const YAML::Node& node, const std::string& path, std::uint32_t min,
               std::uint32_t max, std::uint32_t& out);
  // `what` names the quantity in messages ("a number", "a number of seconds").
  void number(const YAML::Node& node, const std::string& path, double min, double max,
              double& out, const char* what = "a number");
  void absolutePath(const YAML::Node& node, const std::string& path, std::string& out);
  void oneOf(const YAML::Node& node, const std::string& path,
             const std::vector<std::string>& allowed, std::string& out);

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace ipcwatch
