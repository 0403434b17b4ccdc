#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace ipcwatch::testing {

// CPU time of a process, all its threads and its live children (the agent's web process), and
// of the children it has reaped, in seconds.
struct CpuTimes {
  double self = 0;
  double children = 0;
};
CpuTimes cpuTimes(pid_t pid);

// What a batch of /metrics scrapes of one exporter cost.
struct ScrapeCost {
  bool ok = false;
  std::string error;
  int scrapes = 0;
  double median_ms = 0;
  double p90_ms = 0;
  double cpu_ms_per_scrape = 0;         // utime+stime of the exporter process
  double helper_cpu_ms_per_scrape = 0;  // cutime+cstime: processes it forked and reaped
  std::size_t body_bytes = 0;
  std::string body;  // of the last scrape
  // ipcwatch only: the median over the timed scrapes of each collector's
  // ipcwatch_collector_duration_seconds, in ms, by collector (empty for other exporters).
  std::map<std::string, double> collector_median_ms;
};

// The ipcwatch_collector_duration_seconds samples of an exposition, in ms, by collector.
std::map<std::string, double> collectorDurationsMs(const std::string& body);

struct ScrapeOptions {
  int scrapes = 15;
  // Between the end of a scrape and the start of the next: Prometheus scrapes every 15 s or
  // so, and back-to-back requests would measure an agent that is never idle between scrapes.
  std::chrono::milliseconds gap{1100};
  std::chrono::seconds timeout{300};
};

// One warm-up GET, then `scrapes` timed ones; CPU from /proc/PID/stat around the timed batch.
ScrapeCost measureScrapes(pid_t pid, int port, const ScrapeOptions& options);

// Debian's prometheus-node-exporter with its default collectors on a free loopback port, run
// and stopped by the benchmark (never the package's service).
class NodeExporter {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus-node-exporter";

  NodeExporter();  // waits until /metrics answers 200; ok() says whether it did
  ~NodeExporter();
  NodeExporter(const NodeExporter&) = delete;
  NodeExporter& operator=(const NodeExporter&) = delete;

  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ipcwatch::testing
