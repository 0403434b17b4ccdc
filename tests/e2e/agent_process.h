#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace testing {
class AssertionResult;
}  // namespace testing

namespace ipcwatch::testing {

// The real ipcwatch binary run as a child process with a test's configuration. Its stderr goes
// to a file so that a chatty agent can never block on a full pipe; the test reads the file.
class AgentProcess {
 public:
  // Writes `config_yaml` to a temporary file and starts IPCWATCH_BINARY --config on it, with
  // `extra_args` after. `before_exec` runs in the child just before exec (e.g. to enter a
  // private mount namespace); a non-zero return makes the child exit with that code.
  explicit AgentProcess(const std::string& config_yaml,
                        const std::vector<std::string>& extra_args = {},
                        const std::function<int()>& before_exec = {});
  ~AgentProcess();  // SIGTERM, then SIGKILL if it does not stop within 5 s

  // Polls the log until the agent reports its port; returns 0 when it exits or the deadline
  // passes first.
  int waitForPort(std::chrono::milliseconds deadline);
  // Sends SIGTERM and waits; returns the wait status, or nullopt on timeout.
  std::optional<int> stop(std::chrono::milliseconds deadline);
  // Waits for the agent to exit on its own; returns the wait status, or nullopt on timeout.
  std::optional<int> waitForExit(std::chrono::milliseconds deadline);
  std::string log() const;
  pid_t pid() const { return pid_; }
  // The file the agent reads its configuration from (rewrite it, then SIGHUP, to reload).
  const std::string& configPath() const { return config_path_; }

 private:
  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// A minimal HTTP/1.0 client for loopback tests. Returns nullopt when the request fails or no
// byte arrives for `timeout`.
std::optional<HttpResponse> httpRequest(int port, const std::string& method,
                                        const std::string& path,
                                        std::chrono::seconds timeout = std::chrono::seconds(10));

// Samples of a text exposition, keyed by "name{label="value",...}" with labels sorted by name.
std::map<std::string, double> parseExposition(const std::string& text);

// The key parseExposition uses for a metric and its labels (labels sorted by name).
std::string sampleKey(const std::string& name, std::map<std::string, std::string> labels);

// A series of a scrape, nullopt when it is not there: what a gauge (which describes now and
// must be exported) is compared with, `EXPECT_EQ(findSample(...), 1.0)`, so that a missing
// series fails instead of passing as 0.
std::optional<double> findSample(const std::map<std::string, double>& samples,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels);

// Whether the scrape has any series of the family `name` (histograms: `name_bucket` etc.).
bool hasFamily(const std::map<std::string, double>& samples, const std::string& name);

// The value of a counter's series, for end-to-end tests (expect_samples.cpp): the test fails
// when the scrape has no series of the family at all (the collector or the family is gone),
// while a label set the family has not counted yet is 0, as Prometheus reads a counter that
// appears at its first increment. Gauges go through findSample; a series that must not be
// exported through seriesAbsent.
double sampleValue(const std::map<std::string, double>& samples, const std::string& name,
                   const std::map<std::string, std::string>& labels);

// For EXPECT_TRUE: the series is not in the scrape, although its family is (so that a scrape
// that lost the whole family does not pass for one that dropped just this series).
::testing::AssertionResult seriesAbsent(const std::map<std::string, double>& samples,
                                        const std::string& name,
                                        const std::map<std::string, std::string>& labels);

// A comm of `prefix` plus random hex, unique to this run (at most 15 bytes).
std::string uniqueComm(const std::string& prefix);

// This process's comm (what its forked children inherit): the comm label of the failures
// they cause.
std::string ownComm();
// labels plus comm=ownComm(): a failure series of this process or a child it forked.
std::map<std::string, std::string> withOwnComm(std::map<std::string, std::string> labels);
// The workload section that makes the failure metrics carry comm and nothing else: for tests
// of what failed, which must not depend on which unit or container runs the test.
inline constexpr const char* kCommOnlyYaml = "workload:\n  labels: [comm]\n";

// Runs a command line through /bin/sh, returns its exit status and output (stdout+stderr).
std::pair<int, std::string> runCommand(const std::string& command);

// Whether ftrace can hook the kernel function, read from tracefs independently of the agent:
// what a BPF trampoline on it needs. False on a kernel built without ftrace.
bool ftraceCanHook(const std::string& function);

// Whether this test process runs with IPCWATCH_PROBE_BACKEND=tracepoint (inherited by the
// agents it starts).
bool tracepointsForced();

// One scrape of the agent's /metrics, parsed; empty when the request fails.
std::map<std::string, double> scrapeSamples(int port);
// Scrapes every 50 ms until pred holds (true) or `timeout` passes (false): counts reach the
// agent at its next read of the kernel's maps.
bool scrapeUntilTrue(int port,
                     const std::function<bool(const std::map<std::string, double>&)>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The backend a program with an fexit variant on `function` must report: "fexit" where the
// kernel can hook the function and tracepoints are not forced, else "tracepoint".
std::string expectedBackend(const std::string& function);

// Whether the running kernel's release is at least major.minor (uname).
bool kernelAtLeast(int major, int minor);

}  // namespace ipcwatch::testing
