// The conventions of the deployment files that promtool cannot check: the dashboard's identity
// and variables, the rules' mixin style (names, severities, summaries, runbook links that
// resolve), one job selector everywhere, metric names that exist in the README's table, and a
// firing and a silent unit test for every alert. The expressions themselves are run against a
// real Prometheus by tests/e2e/prometheus_e2e_test.cpp.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "readme_metrics.h"

#ifndef IPCWATCH_SOURCE_DIR
#error "IPCWATCH_SOURCE_DIR must name the source tree"
#endif

namespace ipcwatch {
namespace {

using nlohmann::json;

const std::string kSource = IPCWATCH_SOURCE_DIR;
// Metrics the rules may use that are not the agent's own: Prometheus's.
const std::set<std::string> kExternalMetrics = {"up", "scrape_duration_seconds"};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> readmeMetrics() {
  std::set<std::string> names;
  for (const auto& [name, type] : ipcwatch::testing::readmeMetricTypes(kSource)) {
    names.insert(name);
  }
  return names;
}

// Each metric name in a PromQL expression with the label matchers that follow it ("" when
// none). String literals, label lists (by, on, without, ignoring, group_left, group_right),
// range and offset durations, keywords and function calls are skipped.
std::vector<std::pair<std::string, std::string>> metricSelectors(const std::string& expr) {
  std::vector<std::pair<std::string, std::string>> out;
  static const std::regex token(
      R"x("(?:[^"\\]|\\.)*"|\b(?:by|on|without|ignoring|group_left|group_right) *\([^)]*\)|)x"
      R"x(\[[^\]]*\]|\b[0-9][0-9a-z.]*|\b([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?( *\()?)x");
  // Binary operators and aggregations (followed by `by (...)` rather than their argument).
  static const std::set<std::string> keywords = {
      "or",    "and",   "unless", "offset", "bool",         "sum",  "min",     "max",     "avg",
      "count", "group", "stddev", "stdvar", "count_values", "topk", "bottomk", "quantile"};
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), token);
       it != std::sregex_iterator(); ++it) {
    const auto& match = *it;
    if (!match[1].matched || match[3].matched || keywords.count(match[1]) != 0) {
      continue;
    }
    out.emplace_back(match[1], match[2].matched ? std::string(match[2]) : std::string());
  }
  return out;
}

std::string baseName(const std::string& metric) {
  static const std::regex suffix("_(bucket|sum|count)$");
  return std::regex_replace(metric, suffix, "");
}

TEST(DeployFiles, DashboardHasStableIdentityAndVariables) {
  const json dashboard = json::parse(readFile(kSource + "/dashboards/ipcwatch.json"));
  EXPECT_EQ(dashboard["uid"], "ipcwatch-overview");
  EXPECT_EQ(dashboard["title"], "ipcwatch: IPC health");
  EXPECT_GE(dashboard["schemaVersion"].get<int>(), 36);
  std::map<std::string, json> variables;
  for (const auto& variable : dashboard["templating"]["list"]) {
    variables[variable["name"]] = variable;
  }
  ASSERT_EQ(variables.count("datasource"), 1u);
  EXPECT_EQ(variables["datasource"]["type"], "datasource");
  EXPECT_EQ(variables["datasource"]["query"], "prometheus");
  ASSERT_EQ(variables.count("instance"), 1u);
  EXPECT_EQ(variables["instance"]["type"], "query");
  EXPECT_TRUE(variables["instance"]["multi"].get<bool>());
  EXPECT_TRUE(variables["instance"]["includeAll"].get<bool>());
}

TEST(DeployFiles, EveryDashboardQueryUsesTheVariablesAndKnownMetrics) {
  const json dashboard = json::parse(readFile(kSource + "/dashboards/ipcwatch.json"));
  const auto documented = readmeMetrics();
  ASSERT_GT(documented.size(), 10u);
  std::set<int> ids;
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    const std::string title = panel["title"];
    EXPECT_TRUE(ids.insert(panel["id"].get<int>()).second) << "duplicate id in " << title;
    if (panel["type"] == "row") {
      continue;
    }
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << title;
    EXPECT_FALSE(panel.value("description", "").empty()) << title;
    ASSERT_FALSE(panel["targets"].empty()) << title;
    for (const auto& target : panel["targets"]) {
      ++queries;
      const std::string expr = target["expr"];
      EXPECT_EQ(target["datasource"]["uid"], "${datasource}") << title;
      for (const auto& [metric, matchers] : metricSelectors(expr)) {
        EXPECT_TRUE(documented.count(baseName(metric)) != 0 || kExternalMetrics.count(metric) != 0)
            << title << ": unknown metric " << metric;
        EXPECT_NE(matchers.find("job=~\"$job\", instance=~\"$instance\""), std::string::npos)
            << title << ": " << metric << " without the $job/$instance selector in " << expr;
      }
    }
  }
  EXPECT_GT(queries, 20);
}

TEST(DeployFiles, AlertsFollowTheMixinConventions) {
  const YAML::Node rules = YAML::LoadFile(kSource + "/deploy/prometheus/alerts.yml");
  const std::string runbook = readFile(kSource + "/docs/runbook.md");
  const auto documented = readmeMetrics();
  static const std::regex camel_case("^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+$");
  static const std::set<std::string> severities = {"critical", "warning", "info"};
  std::set<std::string> names;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      const std::string name = rule["alert"].as<std::string>();
      EXPECT_TRUE(names.insert(name).second) << "duplicate alert " << name;
      EXPECT_TRUE(std::regex_match(name, camel_case)) << name;
      EXPECT_EQ(severities.count(rule["labels"]["severity"].as<std::string>()), 1u) << name;
      const std::string summary = rule["annotations"]["summary"].as<std::string>();
      EXPECT_EQ(summary.back(), '.') << name << ": the summary is a sentence";
      EXPECT_EQ(summary.find("{{"), std::string::npos) << name << ": the summary is plain";
      const std::string description = rule["annotations"]["description"].as<std::string>();
      EXPECT_NE(description.find("{{ $labels.instance }}"), std::string::npos) << name;
      std::string anchor = name;
      std::transform(anchor.begin(), anchor.end(), anchor.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      const std::string url = rule["annotations"]["runbook_url"].as<std::string>();
      EXPECT_TRUE(url.ends_with("docs/runbook.md#" + anchor)) << name << ": " << url;
      EXPECT_NE(runbook.find("\n## " + name + "\n"), std::string::npos)
          << name << " has no section in docs/runbook.md";
      const std::string expr = rule["expr"].as<std::string>();
      for (const auto& [metric, matchers] : metricSelectors(expr)) {
        EXPECT_TRUE(documented.count(baseName(metric)) != 0 || kExternalMetrics.count(metric) != 0)
            << name << ": unknown metric " << metric;
        EXPECT_EQ(matchers.rfind("{job=~\"ipcwatch\"", 0), 0u)
            << name << ": " << metric << " without the job selector first in " << expr;
      }
    }
  }
  EXPECT_GE(names.size(), 20u);
}

TEST(DeployFiles, EveryAlertHasAFiringAndASilentUnitTest) {
  const YAML::Node rules = YAML::LoadFile(kSource + "/deploy/prometheus/alerts.yml");
  const YAML::Node tests = YAML::LoadFile(kSource + "/deploy/prometheus/alerts_test.yml");
  std::set<std::string> firing;
  std::set<std::string> silent;
  for (const auto& test : tests["tests"]) {
    for (const auto& check : test["alert_rule_test"]) {
      const std::string name = check["alertname"].as<std::string>();
      (check["exp_alerts"].size() == 0 ? silent : firing).insert(name);
    }
  }
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      const std::string name = rule["alert"].as<std::string>();
      EXPECT_EQ(firing.count(name), 1u) << name << " has no case where it fires";
      EXPECT_EQ(silent.count(name), 1u) << name << " has no case where it stays silent";
    }
  }
}

// The capabilities a unit file's CapabilityBoundingSet= grants, without the CAP_ prefix.
std::set<std::string> systemdCapabilities() {
  static const std::regex line(R"(\nCapabilityBoundingSet=([^\n]*))");
  std::smatch match;
  const std::string unit = readFile(kSource + "/deploy/systemd/ipcwatch.service");
  std::set<std::string> caps;
  if (std::regex_search(unit, match, line)) {
    std::istringstream words(match[1]);
    std::string word;
    while (words >> word) {
      caps.insert(word.substr(word.rfind("CAP_", 0) == 0 ? 4 : 0));
    }
  }
  return caps;
}

TEST(DeployFiles, KubernetesManifestsAreConsistentWithTheAgent) {
  std::map<std::string, YAML::Node> by_kind;
  for (const char* file : {"namespace.yaml", "configmap.yaml", "daemonset.yaml", "service.yaml",
                           "servicemonitor.yaml"}) {
    const YAML::Node doc = YAML::LoadFile(kSource + "/deploy/kubernetes/" + file);
    by_kind[doc["kind"].as<std::string>()] = doc;
  }
  ASSERT_EQ(by_kind.size(), 5u);
  // The ConfigMap holds a configuration the agent accepts.
  const std::string config = by_kind["ConfigMap"]["data"]["ipcwatch.yml"].as<std::string>();
  const Config parsed = parseConfig(config, "configmap.yaml:ipcwatch.yml");
  EXPECT_EQ(parsed.paths.procfs, "/host/proc");
  EXPECT_EQ(parsed.paths.sysfs, "/host/sys");

  const YAML::Node pod = by_kind["DaemonSet"]["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostPID"].as<bool>());
  const YAML::Node container = pod["containers"][0];
  std::set<std::string> added;
  for (const auto& cap : container["securityContext"]["capabilities"]["add"]) {
    added.insert(cap.as<std::string>());
  }
  EXPECT_EQ(added, systemdCapabilities()) << "the DaemonSet and the systemd unit disagree";
  std::set<std::string> mounted;
  for (const auto& mount : container["volumeMounts"]) {
    mounted.insert(mount["mountPath"].as<std::string>());
  }
  for (const char* path : {"/etc/ipcwatch", "/host/proc", "/host/sys", "/sys/kernel/btf",
                           "/sys/kernel/tracing", "/run", "/tmp", "/dev/shm"}) {
    EXPECT_EQ(mounted.count(path), 1u) << path << " is not mounted";
  }
  for (const auto& dir : parsed.scan.directories) {
    EXPECT_TRUE(mounted.count(dir) != 0 || dir == "/var/run") << dir << " is scanned, not mounted";
  }
  EXPECT_EQ(container["ports"][0]["containerPort"].as<int>(), 9863);
  EXPECT_EQ(by_kind["Service"]["spec"]["ports"][0]["name"].as<std::string>(), "metrics");
  EXPECT_EQ(by_kind["ServiceMonitor"]["spec"]["endpoints"][0]["port"].as<std::string>(), "metrics");
}

// The README's Configuration section shows the default configuration as it is: the built-in
// default is deploy/ipcwatch.yml, the file installed as /etc/ipcwatch/ipcwatch.yml, and the
// README quotes it without its header comment.
TEST(DeployFiles, ReadmeShowsTheDefaultConfigurationAsInstalled) {
  const std::string installed = readFile(kSource + "/deploy/ipcwatch.yml");
  EXPECT_EQ(std::string(embeddedDefaultConfig()), installed);
  std::string body = installed;
  while (body.rfind("#", 0) == 0) {
    body.erase(0, body.find('\n') + 1);
  }
  const std::string readme = readFile(kSource + "/README.md");
  const auto section = readme.find("\n## Configuration\n");
  ASSERT_NE(section, std::string::npos);
  const auto start = readme.find("```yaml\n", section);
  ASSERT_NE(start, std::string::npos);
  const auto end = readme.find("```\n", start + 8);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(readme.substr(start + 8, end - start - 8), body);
}

TEST(DeployFiles, MetricSelectorsAreFoundInExpressions) {
  const auto selectors = metricSelectors(
      R"(sum by (job, comm) (increase(ipc_epipe_total{job=~"ipcwatch"}[5m])) > 100 or up == 0 )"
      R"x(or label_replace(ipc_x, "probe", "audit_$1", "source", "(.*)"))x");
  ASSERT_EQ(selectors.size(), 3u);
  EXPECT_EQ(selectors[0].first, "ipc_epipe_total");
  EXPECT_EQ(selectors[0].second, "{job=~\"ipcwatch\"}");
  EXPECT_EQ(selectors[1].first, "up");
  EXPECT_EQ(selectors[1].second, "");
  EXPECT_EQ(selectors[2].first, "ipc_x");
}

}  // namespace
}  // namespace ipcwatch
