// The conventions of the deployment files that promtool cannot check: the dashboard's identity
// and variables, the rules' mixin style (names, severities, summaries, runbook links that
// resolve), one job selector everywhere, metric names that exist in the
// metric table of docs/metrics.md, links between the docs that resolve, and a
// firing and a silent unit test for every alert. The expressions themselves are run against a
// real Prometheus by tests/e2e/prometheus_e2e_test.cpp.
#include <algorithm>
#include <cctype>
#include <filesystem>
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
#include "documented_metrics.h"

#ifndef IPCWATCH_SOURCE_DIR
#error "IPCWATCH_SOURCE_DIR must name the source tree"
#endif

namespace ipcwatch {
namespace {

using nlohmann::json;

const std::string kSource = IPCWATCH_SOURCE_DIR;
// Metrics the rules may use that are not the agent's own: Prometheus's.
const std::set<std::string> kExternalMetrics = {"up", "scrape_duration_seconds",
                                                "scrape_samples_scraped"};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> documentedMetrics() {
  std::set<std::string> names;
  for (const auto& [name, type] : ipcwatch::testing::documentedMetricTypes(kSource)) {
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

// The series recording.yml records, in file order.
std::vector<std::string> recordedMetrics() {
  std::vector<std::string> names;
  for (const auto& group : YAML::LoadFile(kSource + "/deploy/prometheus/recording.yml")["groups"]) {
    for (const auto& rule : group["rules"]) {
      names.push_back(rule["record"].as<std::string>());
    }
  }
  return names;
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
  const auto documented = documentedMetrics();
  ASSERT_GT(documented.size(), 10u);
  const auto recorded_list = recordedMetrics();
  const std::set<std::string> recorded(recorded_list.begin(), recorded_list.end());
  std::set<int> ids;
  int fleet_queries = 0;
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
        EXPECT_TRUE(documented.count(baseName(metric)) != 0 ||
                    kExternalMetrics.count(metric) != 0 || recorded.count(metric) != 0)
            << title << ": unknown metric " << metric;
        if (metric.rfind("job:", 0) == 0) {
          // A fleet-wide series has no instance: the job selector alone.
          ++fleet_queries;
          EXPECT_EQ(matchers, "{job=~\"$job\"}") << title << ": " << metric << " in " << expr;
        } else {
          EXPECT_NE(matchers.find("job=~\"$job\", instance=~\"$instance\""), std::string::npos)
              << title << ": " << metric << " without the $job/$instance selector in " << expr;
        }
      }
    }
  }
  EXPECT_GT(queries, 20);
  EXPECT_GE(fleet_queries, 8) << "the Fleet row reads the recording rules";
}

// recording.yml follows the Prometheus naming practice `level:metric:operations`: a per-host
// series keeps exactly job and instance (and the labels it names after them), a fleet-wide one
// job without instance; the agent's metrics are selected by the job selector first, and a rule
// reads only documented metrics, Prometheus's own, or series recorded before it in the file.
TEST(DeployFiles, RecordingRulesFollowTheNamingConventions) {
  const YAML::Node rules = YAML::LoadFile(kSource + "/deploy/prometheus/recording.yml");
  const auto documented = documentedMetrics();
  static const std::regex name_form(R"(^(instance|job):[a-z_]+:[a-z0-9_]+$)");
  static const std::regex by_clause(R"(\bby \(([a-z_, ]*)\))");
  std::set<std::string> recorded;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      ASSERT_TRUE(rule["record"]) << "recording.yml holds recording rules only";
      const std::string name = rule["record"].as<std::string>();
      const std::string expr = rule["expr"].as<std::string>();
      std::smatch form;
      ASSERT_TRUE(std::regex_match(name, form, name_form)) << name;
      std::smatch by;
      ASSERT_TRUE(std::regex_search(expr, by, by_clause)) << name << ": no `by` in " << expr;
      const std::string kept = by[1];
      if (form[1] == "instance") {
        EXPECT_EQ(kept.rfind("job, instance", 0), 0u) << name << " keeps " << kept;
      } else {
        EXPECT_EQ(kept.rfind("job", 0), 0u) << name << " keeps " << kept;
        EXPECT_EQ(kept.find("instance"), std::string::npos) << name << " keeps " << kept;
      }
      for (const auto& [metric, matchers] : metricSelectors(expr)) {
        if (recorded.count(metric) != 0) {
          continue;
        }
        EXPECT_TRUE(documented.count(baseName(metric)) != 0 || kExternalMetrics.count(metric) != 0)
            << name << ": unknown metric " << metric;
        EXPECT_EQ(matchers, "{job=~\"ipcwatch\"}") << name << ": " << metric << " in " << expr;
      }
      EXPECT_TRUE(recorded.insert(name).second) << "duplicate record " << name;
    }
  }
  EXPECT_GE(recorded.size(), 15u);
}

TEST(DeployFiles, EveryRecordingRuleHasAUnitTest) {
  const YAML::Node tests = YAML::LoadFile(kSource + "/deploy/prometheus/recording_test.yml");
  std::set<std::string> tested;
  for (const auto& test : tests["tests"]) {
    for (const auto& check : test["promql_expr_test"]) {
      EXPECT_GT(check["exp_samples"].size(), 0u) << check["expr"].as<std::string>();
      tested.insert(check["expr"].as<std::string>());
    }
  }
  for (const auto& name : recordedMetrics()) {
    EXPECT_EQ(tested.count(name), 1u) << name << " has no promql_expr_test";
  }
}

TEST(DeployFiles, AlertsFollowTheMixinConventions) {
  const YAML::Node rules = YAML::LoadFile(kSource + "/deploy/prometheus/alerts.yml");
  const std::string runbook = readFile(kSource + "/docs/runbook.md");
  const auto documented = documentedMetrics();
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

// docs/configuration.md shows the default configuration as it is: the built-in default is
// deploy/ipcwatch.yml, the file installed as /etc/ipcwatch/ipcwatch.yml, and the page quotes
// it, as its first YAML block, without its header comment.
TEST(DeployFiles, TheConfigurationPageShowsTheDefaultConfigurationAsInstalled) {
  const std::string installed = readFile(kSource + "/deploy/ipcwatch.yml");
  EXPECT_EQ(std::string(embeddedDefaultConfig()), installed);
  std::string body = installed;
  while (body.rfind("#", 0) == 0) {
    body.erase(0, body.find('\n') + 1);
  }
  const std::string readme = readFile(kSource + "/docs/configuration.md");
  const auto start = readme.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  const auto end = readme.find("```\n", start + 8);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(readme.substr(start + 8, end - start - 8), body);
}

// GitHub's anchors for the headings of a Markdown file: lower case, punctuation other than `-`
// and `_` dropped, spaces as `-`, a repeated heading numbered `-1`, `-2`, ...; headings inside
// code blocks do not count.
std::set<std::string> headingAnchors(const std::string& markdown) {
  std::set<std::string> anchors;
  std::map<std::string, int> seen;
  std::istringstream lines(markdown);
  bool in_code = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) {
      in_code = !in_code;
      continue;
    }
    static const std::regex heading(R"(^#{1,6} +(.*?) *$)");
    std::smatch match;
    if (in_code || !std::regex_match(line, match, heading)) {
      continue;
    }
    std::string slug;
    for (const unsigned char c : std::string(match[1])) {
      if (std::isalnum(c) || c == '-' || c == '_' || c >= 0x80) {
        slug += static_cast<char>(std::tolower(c));
      } else if (c == ' ') {
        slug += '-';
      }
    }
    const int repeat = seen[slug]++;
    anchors.insert(repeat == 0 ? slug : slug + "-" + std::to_string(repeat));
  }
  return anchors;
}

// The README is the front door: it links every page of docs/, and every relative link of the
// README, of docs/ and of dashboards/README.md names a file of the tree and, into a Markdown
// file, a heading that exists there.
TEST(DeployFiles, LinksBetweenTheDocsResolve) {
  namespace fs = std::filesystem;
  std::vector<fs::path> pages = {fs::path(kSource) / "README.md",
                                 fs::path(kSource) / "dashboards/README.md"};
  std::set<std::string> docs_pages;
  for (const auto& entry : fs::directory_iterator(fs::path(kSource) / "docs")) {
    if (entry.path().extension() == ".md") {
      pages.push_back(entry.path());
      docs_pages.insert("docs/" + entry.path().filename().string());
    }
  }
  ASSERT_GE(docs_pages.size(), 8u);
  static const std::regex link(R"(\]\(([^)\s]+)\))");
  std::set<std::string> linked_from_readme;
  int links = 0;
  for (const auto& page : pages) {
    const std::string text = readFile(page.string());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link);
         it != std::sregex_iterator(); ++it) {
      const std::string target = (*it)[1];
      if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 ||
          target.rfind("mailto:", 0) == 0) {
        continue;
      }
      ++links;
      const auto hash = target.find('#');
      const std::string file = target.substr(0, hash);
      const fs::path resolved =
          file.empty() ? page : (page.parent_path() / file).lexically_normal();
      EXPECT_TRUE(fs::exists(resolved)) << page.filename() << " links " << target;
      if (page.filename() == "README.md" && page.parent_path() == fs::path(kSource)) {
        linked_from_readme.insert(file);
      }
      if (hash != std::string::npos && resolved.extension() == ".md" && fs::exists(resolved)) {
        EXPECT_EQ(headingAnchors(readFile(resolved.string())).count(target.substr(hash + 1)), 1u)
            << page.filename() << " links " << target << ", a heading that does not exist";
      }
    }
  }
  EXPECT_GT(links, 30);
  for (const auto& doc : docs_pages) {
    EXPECT_EQ(linked_from_readme.count(doc), 1u) << "the README does not link " << doc;
  }
}

TEST(DeployFiles, HeadingAnchorsAreGithubs) {
  EXPECT_EQ(headingAnchors("# Endpoint checks and `ipcwatch diagnose`\n## HTTP limits\n"
                           "```\n# not a heading\n```\n## HTTP limits\n"),
            (std::set<std::string>{"endpoint-checks-and-ipcwatch-diagnose", "http-limits",
                                   "http-limits-1"}));
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
