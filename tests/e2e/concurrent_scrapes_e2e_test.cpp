// End to end: many scrapers at once while counters move. Every response is complete and no
// counter goes backwards between two scrapes of the same scraper.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kScrapers = 20;
// The issue's soak runs for a minute; in the test suite a few seconds already give each scraper
// dozens of scrapes racing each other and the counting child. Raise it to soak locally.
constexpr auto kDuration = 5s;

// The sample names of counters in an exposition: counter families and histogram series.
std::set<std::string> counterSamples(const std::string& body) {
  std::set<std::string> names;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (!(words >> hash >> keyword >> name >> type) || hash != "#" || keyword != "TYPE") {
      continue;
    }
    if (type == "counter") {
      names.insert(name);
    } else if (type == "histogram") {
      names.insert(name + "_bucket");
      names.insert(name + "_count");
      names.insert(name + "_sum");
    }
  }
  return names;
}

struct ScraperResult {
  int scrapes = 0;
  std::vector<std::string> problems;
};

ScraperResult scrapeUntil(int port, std::chrono::steady_clock::time_point end) {
  ScraperResult result;
  std::map<std::string, double> previous;
  while (std::chrono::steady_clock::now() < end) {
    const auto response = httpRequest(port, "GET", "/metrics");
    if (!response || response->status != 200) {
      result.problems.push_back("failed request");
      continue;
    }
    ++result.scrapes;
    const std::string& body = response->body;
    // The registry writes the per-collector health families last: a cut response lacks them.
    const auto tail = body.rfind("# TYPE ipcwatch_collector_success gauge\n");
    if (tail == std::string::npos || body.back() != '\n' ||
        body.find("ipcwatch_collector_success{collector=\"self\"} ", tail) == std::string::npos) {
      result.problems.push_back("incomplete response of " + std::to_string(body.size()) + " bytes");
      continue;
    }
    const auto counters = counterSamples(body);
    const auto samples = parseExposition(body);
    for (const auto& [key, value] : samples) {
      if (counters.count(key.substr(0, key.find('{'))) == 0) {
        continue;
      }
      const auto before = previous.find(key);
      if (before != previous.end() && value < before->second) {
        result.problems.push_back(key + " went from " + std::to_string(before->second) + " to " +
                                  std::to_string(value));
      }
    }
    previous = samples;
  }
  return result;
}

TEST(ConcurrentScrapesE2E, EveryResponseCompleteAndCountersMonotonic) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs; CI runs this as root";
  }
  // The file scan covers an empty directory of its own: the test does not depend on how much
  // the host keeps in /tmp.
  char tmpl[] = "/tmp/ipcwatch-scrapes-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  AgentProcess agent("web:\n  listen_address: \"127.0.0.1:0\"\nscan:\n  directories: [\"" + dir +
                     "\"]\n");
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();

  // Keeps the EPIPE counters moving for the whole run.
  const pid_t writer = fork();
  if (writer == 0) {
    prctl(PR_SET_NAME, uniqueComm("cs").c_str());
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (pipe(fds) != 0) {
      _exit(2);
    }
    close(fds[0]);
    for (;;) {
      if (write(fds[1], "x", 1) != -1 || errno != EPIPE) {
        _exit(3);
      }
      usleep(100);
    }
  }

  const auto end = std::chrono::steady_clock::now() + kDuration;
  std::vector<ScraperResult> results(kScrapers);
  std::vector<std::thread> scrapers;
  for (int i = 0; i < kScrapers; ++i) {
    scrapers.emplace_back([&, i] { results[i] = scrapeUntil(port, end); });
  }
  for (auto& scraper : scrapers) {
    scraper.join();
  }
  kill(writer, SIGKILL);
  int status = 0;
  waitpid(writer, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the EPIPE writer stopped early";

  int total = 0;
  for (int i = 0; i < kScrapers; ++i) {
    EXPECT_GE(results[i].scrapes, 2) << "scraper " << i;
    for (const auto& problem : results[i].problems) {
      ADD_FAILURE() << "scraper " << i << ": " << problem;
    }
    total += results[i].scrapes;
  }
  rmdir(dir.c_str());
  std::cout << total << " scrapes by " << kScrapers << " scrapers in "
            << std::chrono::duration_cast<std::chrono::seconds>(kDuration).count() << " s\n";
}

}  // namespace
}  // namespace ipcwatch::testing
