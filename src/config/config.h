#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ipcwatch {

enum class LogFormat { kText, kJson };

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error|critical|off
  LogFormat format = LogFormat::kText;
};

struct WebConfig {
  std::string listen_address = ":9863";  // HOST:PORT, :PORT or [IPv6]:PORT; port 0 = any free
  // The web configuration (TLS, basic auth) in the Prometheus exporters' format; "" = plain
  // HTTP without authentication. Read at start-up; a change needs a restart.
  std::string config_file;
  // Connections open at once, idle, sending a request or being served; past it the one that
  // has waited longest is closed. Each is a descriptor and a request-head buffer.
  std::uint32_t max_connections = 4096;
  // The user the web process (which parses HTTP, with no capability) runs as: a name, UID or
  // UID:GID, never root.
  std::string user = "nobody";

  bool operator==(const WebConfig&) const = default;
};

struct LabelLimits {
  std::uint32_t comm = 1000;  // distinct comm values per metric before folding into "other"
  std::uint32_t path = 1000;  // distinct path values per metric before folding into "other"
  // distinct workloads (unit, container, pod together) per metric before folding into "other"
  std::uint32_t workload = 1000;
  std::uint32_t folded_values_remembered = 65536;

  bool operator==(const LabelLimits&) const = default;
};

// Where the host's pseudo-filesystems are: other roots serve containers that mount the host's
// at /host/proc and tests that run collectors over fixture trees.
struct PathsConfig {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";

  bool operator==(const PathsConfig&) const = default;
};

struct BrokenPipeProbeConfig {
  bool enabled = true;
  std::vector<std::string> syscalls = {"write",    "writev", "sendto",   "sendmsg",
                                       "sendmmsg", "splice", "sendfile", "io_uring"};

  bool operator==(const BrokenPipeProbeConfig&) const = default;
};

struct SigpipeProbeConfig {
  bool enabled = true;

  bool operator==(const SigpipeProbeConfig&) const = default;
};

// Pipe buffer limits hit: pipe()/pipe2() failing with ENFILE, fcntl(F_SETPIPE_SZ) with EPERM,
// pipes created smaller than the default (on the exits of pipe, pipe2 and fcntl).
struct PipeLimitsProbeConfig {
  bool enabled = true;

  bool operator==(const PipeLimitsProbeConfig&) const = default;
};

struct FifoOpenProbeConfig {
  bool enabled = true;
  double blocked_threshold_seconds = 1.0;  // an open waiting this long counts as blocked
  std::vector<std::string> syscalls = {"openat", "open"};

  bool operator==(const FifoOpenProbeConfig&) const = default;
};

struct UnixSockProbeConfig {
  bool enabled = true;
  std::vector<std::string> syscalls = {"connect", "bind"};

  bool operator==(const UnixSockProbeConfig&) const = default;
};

struct ProbesConfig {
  // False: no program goes on a syscall tracepoint, which moves every syscall of every task onto
  // the kernel's slow path; a program without a BPF trampoline on this kernel is then degraded.
  bool syscall_tracepoints = true;
  BrokenPipeProbeConfig broken_pipe;
  SigpipeProbeConfig sigpipe;
  PipeLimitsProbeConfig pipe_limits;
  FifoOpenProbeConfig fifo_open;
  UnixSockProbeConfig unix_sock;

  bool operator==(const ProbesConfig&) const = default;
};

constexpr std::size_t kMaxWatchPaths = 16;
constexpr std::size_t kMaxWatchPathLength = 127;
// The directory scan of the ipc_files collector (stale socket files, FIFOs, insecure
// endpoints).
struct ScanConfig {
  std::vector<std::string> directories = {"/run", "/var/run", "/tmp", "/var/tmp", "/dev/shm"};
  std::uint32_t max_depth = 4;       // levels below each directory (0: its own entries only)
  double time_budget_seconds = 2.0;  // per scrape; past it the collector reports failure
};

// Settings of the IPC object inventory collectors (sysv_ipc, posix_ipc).
struct InventoryConfig {
  std::uint32_t msg_queue_top_n = 10;     // per-queue series for the largest SysV message queues
  std::uint32_t posix_mqueue_top_n = 10;  // per-queue series for the fullest POSIX queues
  std::uint32_t posix_shm_top_n = 10;     // per-object series for the largest /dev/shm objects
  std::string posix_shm_dir = "/dev/shm";
  std::uint32_t pipe_user_top_n = 10;  // per-user series of pipe buffer pages, the most first
};

// A FIFO or unix socket that clients must be able to reach (`endpoints:`).
enum class EndpointType { kFifo, kUnixStream, kUnixDgram, kUnixSeqpacket };
enum class EndpointAccess { kRead, kWrite, kReadWrite, kConnect };

std::string_view endpointTypeName(EndpointType type);
std::string_view endpointAccessName(EndpointAccess access);

// How to find the serving process; every key set is tried, the first match wins.
struct EndpointServerConfig {
  std::string process;       // comm
  std::string exe;           // absolute path of the executable
  std::string pid_file;      // absolute path of a file holding the pid
  std::string systemd_unit;  // e.g. opensips.service (matched in /proc/PID/cgroup)
};

struct EndpointClientConfig {
  std::string name;
  std::string process;  // comm of the client as it runs now
  std::string user;     // the identity to check as when no such process runs: name, UID or UID:GID
  EndpointAccess access = EndpointAccess::kWrite;
};

struct EndpointConfig {
  std::string name;
  std::string path;  // absolute path, or @name for an abstract socket; kept verbatim
  EndpointType type = EndpointType::kFifo;
  EndpointServerConfig server;
  std::vector<EndpointClientConfig> clients;
};

// The SELinux denial pipeline (the selinux collector): which audit sources feed it.
struct SelinuxConfig {
  // netlink: the audit multicast stream; audit_log: tail of audit_log; tracepoint: BPF on
  // avc:selinux_audited. Sources that cannot start on the host are reported down, not fatal.
  std::vector<std::string> sources = {"netlink", "audit_log", "tracepoint"};
  std::string audit_log = "/var/log/audit/audit.log";
  std::uint32_t recent_denials = 50;  // kept for /denials

  bool operator==(const SelinuxConfig&) const = default;
};

// Who failed: the labels the failure metrics (ipc_unix_connect_errors_total,
// ipc_unix_bind_errors_total, ipc_fifo_open_errors_total, ipc_fifo_open_blocked_total) carry
// beyond what failed, from the failing task's comm and cgroup.
struct WorkloadConfig {
  // Out of knownWorkloadLabels(); empty: the failure metrics carry none of them.
  std::vector<std::string> labels = {"comm",    "unit",          "container_id",
                                     "pod_uid", "pod_namespace", "pod"};
  // auto, unified, or the cgroup v1 controller pids, memory or cpu: whose cgroup is recorded.
  std::string cgroup_hierarchy = "auto";
  std::string cgroup_root;  // the host's /sys/fs/cgroup as the agent sees it; empty: itself
  std::string pod_logs = "/var/log/pods";  // the kubelet's pod log directories

  bool wants(std::string_view label) const {
    return std::find(labels.begin(), labels.end(), label) != labels.end();
  }
  // Whether any label needs the cgroup (every one but comm).
  bool wantsCgroup() const { return labels.size() > (wants("comm") ? 1u : 0u); }
  bool operator==(const WorkloadConfig&) const = default;
};

struct Config {
  LogConfig log;
  WebConfig web;
  LabelLimits labels;
  PathsConfig paths;
  ProbesConfig probes;
  // Paths and prefixes ("/run/" matches everything below /run) whose failed opens are counted
  // for every errno, also where the kernel cannot tell the target was a FIFO (ENOENT, EACCES).
  std::vector<std::string> watch_paths;
  ScanConfig scan;
  InventoryConfig inventory;
  std::vector<EndpointConfig> endpoints;
  SelinuxConfig selinux;
  WorkloadConfig workload;
  std::map<std::string, bool> collectors;  // only the names the file sets explicitly
  std::string source = "<embedded default>";
};

// Every problem found in a configuration, one per line, each "SOURCE:LINE:COL: KEY: message".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses and validates YAML text; `source` names it in errors. Throws ConfigError listing all
// problems: the agent never starts half-configured.
Config parseConfig(std::string_view yaml, std::string_view source);
Config loadConfigFile(const std::string& path);
std::string_view embeddedDefaultConfig();

// The syscalls the broken_pipe probe can watch.
const std::vector<std::string>& knownBrokenPipeSyscalls();
// The labels workload.labels may name.
const std::vector<std::string>& knownWorkloadLabels();
bool isKnownSyscall(std::string_view name);

// A user as `endpoints:` names it: a login name, UID or UID:GID. Returns false when unknown.
struct ResolvedUser {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string name;  // "" for a numeric user without a passwd entry
};
bool resolveUser(const std::string& user, ResolvedUser& out);

// The collector names `collectors:` may use (set once at start-up from the collector table).
// While empty, any name is accepted.
void setKnownCollectors(std::vector<std::string> names);

}  // namespace ipcwatch
