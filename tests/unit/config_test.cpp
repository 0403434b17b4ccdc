#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/collector_table.h"
#include "config/config.h"

#ifndef IPCWATCH_FIXTURES_DIR
#error "IPCWATCH_FIXTURES_DIR must name tests/fixtures"
#endif

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

const std::string kFixtures = std::string(IPCWATCH_FIXTURES_DIR) + "/config/";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { setKnownCollectors(collectorNames()); }
  void TearDown() override { setKnownCollectors({}); }

  // The ConfigError text for `yaml`, or "" when it parses.
  static std::string errorsOf(const std::string& yaml) {
    try {
      parseConfig(yaml, "test.yaml");
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(ConfigTest, EmbeddedDefaultEqualsStructDefaults) {
  const Config parsed = parseConfig(embeddedDefaultConfig(), "<embedded default>");
  const Config defaults;
  EXPECT_EQ(parsed.log.level, defaults.log.level);
  EXPECT_EQ(parsed.log.format, defaults.log.format);
  EXPECT_EQ(parsed.web.listen_address, ":9863");
  EXPECT_EQ(parsed.web.user, defaults.web.user);
  EXPECT_EQ(parsed.labels.comm, defaults.labels.comm);
  EXPECT_EQ(parsed.labels.path, defaults.labels.path);
  EXPECT_EQ(parsed.paths.procfs, "/proc");
  EXPECT_EQ(parsed.paths.sysfs, "/sys");
  EXPECT_EQ(parsed.labels.folded_values_remembered, defaults.labels.folded_values_remembered);
  EXPECT_EQ(parsed.probes.syscall_tracepoints, true);
  EXPECT_EQ(parsed.probes.broken_pipe.enabled, true);
  EXPECT_EQ(parsed.probes.broken_pipe.syscalls, defaults.probes.broken_pipe.syscalls);
  EXPECT_EQ(parsed.probes.sigpipe.enabled, true);
  EXPECT_EQ(parsed.probes.fifo_open.enabled, true);
  EXPECT_EQ(parsed.probes.fifo_open.blocked_threshold_seconds,
            defaults.probes.fifo_open.blocked_threshold_seconds);
  EXPECT_EQ(parsed.probes.fifo_open.syscalls, defaults.probes.fifo_open.syscalls);
  EXPECT_EQ(parsed.probes.unix_sock.enabled, true);
  EXPECT_EQ(parsed.probes.unix_sock.syscalls, defaults.probes.unix_sock.syscalls);
  EXPECT_TRUE(parsed.watch_paths.empty());
  // Collectors keep the defaults of the collector table: the default file names none.
  EXPECT_TRUE(parsed.collectors.empty());
  EXPECT_EQ(parsed.scan.directories, defaults.scan.directories);
  EXPECT_EQ(parsed.scan.max_depth, defaults.scan.max_depth);
  EXPECT_EQ(parsed.scan.time_budget_seconds, defaults.scan.time_budget_seconds);
  EXPECT_EQ(parsed.inventory.msg_queue_top_n, defaults.inventory.msg_queue_top_n);
  EXPECT_EQ(parsed.inventory.posix_mqueue_top_n, defaults.inventory.posix_mqueue_top_n);
  EXPECT_EQ(parsed.inventory.posix_shm_top_n, defaults.inventory.posix_shm_top_n);
  EXPECT_EQ(parsed.inventory.posix_shm_dir, "/dev/shm");
  EXPECT_EQ(defaults.inventory.msg_queue_top_n, 10u);
  EXPECT_EQ(parsed.selinux.sources, defaults.selinux.sources);
  EXPECT_EQ(parsed.selinux.audit_log, defaults.selinux.audit_log);
  EXPECT_EQ(parsed.selinux.recent_denials, defaults.selinux.recent_denials);
}

TEST_F(ConfigTest, SelinuxSection) {
  const Config c = parseConfig(
      "selinux:\n  sources: [audit_log]\n  audit_log: /srv/audit.log\n"
      "  recent_denials: 0\n",
      "x");
  EXPECT_EQ(c.selinux.sources, std::vector<std::string>{"audit_log"});
  EXPECT_EQ(c.selinux.audit_log, "/srv/audit.log");
  EXPECT_EQ(c.selinux.recent_denials, 0u);
  EXPECT_TRUE(parseConfig("selinux:\n  sources: []\n", "x").selinux.sources.empty());
  EXPECT_EQ(parseConfig("selinux:\n", "x").selinux.sources,
            (std::vector<std::string>{"netlink", "audit_log", "tracepoint"}));
  EXPECT_THAT(errorsOf("selinux:\n  sources: [netlink, auditlog]\n"),
              HasSubstr("test.yaml:2:22: selinux.sources: 'auditlog' is not one of netlink, "
                        "audit_log, tracepoint; did you mean 'audit_log'?"));
  EXPECT_THAT(errorsOf("selinux:\n  sources: [netlink, netlink]\n"),
              HasSubstr("test.yaml:2:22: selinux.sources: duplicate source 'netlink'"));
  EXPECT_THAT(errorsOf("selinux:\n  sources: netlink\n"),
              HasSubstr("test.yaml:2:12: selinux.sources: expected a list of sources"));
  EXPECT_THAT(errorsOf("selinux:\n  audit_log: audit.log\n"),
              HasSubstr("test.yaml:2:14: selinux.audit_log: expected an absolute path"));
  EXPECT_THAT(errorsOf("selinux:\n  recent_denials: 10001\n"),
              HasSubstr("test.yaml:2:19: selinux.recent_denials: out of range: 10001"));
  EXPECT_THAT(errorsOf("selinux:\n  recent: 3\n"),
              HasSubstr("test.yaml:2:3: selinux.recent: unknown key (known: audit_log, "
                        "recent_denials, sources)"));
}

TEST_F(ConfigTest, EmptyOrCommentOnlyFilesMeanDefaults) {
  EXPECT_EQ(errorsOf(""), "");
  EXPECT_EQ(errorsOf("# nothing here\n"), "");
  EXPECT_EQ(errorsOf("log:\n"), "");
  EXPECT_EQ(parseConfig("", "x").labels.comm, 1000u);
}

TEST_F(ConfigTest, FullFixtureParsesEveryKey) {
  const Config c = loadConfigFile(kFixtures + "full.yaml");
  EXPECT_EQ(c.source, kFixtures + "full.yaml");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  EXPECT_EQ(c.web.listen_address, "[::1]:9900");
  EXPECT_EQ(c.web.user, "61236:61236");
  EXPECT_EQ(c.labels.comm, 250u);
  EXPECT_EQ(c.labels.folded_values_remembered, 0u);
  EXPECT_FALSE(c.probes.syscall_tracepoints);
  EXPECT_TRUE(c.probes.broken_pipe.enabled);
  EXPECT_EQ(c.probes.broken_pipe.syscalls, (std::vector<std::string>{"write", "sendmsg"}));
  EXPECT_FALSE(c.probes.sigpipe.enabled);
  EXPECT_EQ(c.inventory.msg_queue_top_n, 0u);
  EXPECT_EQ(c.inventory.posix_mqueue_top_n, 1000u);
  EXPECT_EQ(c.inventory.posix_shm_top_n, 3u);
  EXPECT_EQ(c.inventory.posix_shm_dir, "/host/dev/shm");
  EXPECT_EQ(
      c.collectors,
      (std::map<std::string, bool>{
          {"broken_pipe", true}, {"sigpipe", false}, {"sysv_ipc", false}, {"posix_ipc", true}}));
  EXPECT_EQ(c.scan.directories, (std::vector<std::string>{"/run", "/srv/sockets"}));
  EXPECT_EQ(c.scan.max_depth, 2u);
  EXPECT_EQ(c.scan.time_budget_seconds, 0.5);
}

TEST_F(ConfigTest, ScanSection) {
  const Config c = parseConfig(
      "scan:\n  directories: [/a]\n  max_depth: 0\n"
      "  time_budget_seconds: 60\n",
      "x");
  EXPECT_EQ(c.scan.directories, std::vector<std::string>{"/a"});
  EXPECT_EQ(c.scan.max_depth, 0u);
  EXPECT_EQ(c.scan.time_budget_seconds, 60.0);
  EXPECT_EQ(parseConfig("scan:\n", "x").scan.max_depth, 4u);
  EXPECT_THAT(errorsOf("scan:\n  directories: [/a, tmp]\n"),
              HasSubstr("test.yaml:2:21: scan.directories: expected an absolute path, got 'tmp'"));
  EXPECT_THAT(errorsOf("scan:\n  directories: [/a, /a]\n"),
              HasSubstr("test.yaml:2:21: scan.directories: duplicate directory '/a'"));
  EXPECT_THAT(errorsOf("scan:\n  directories: []\n"),
              HasSubstr("test.yaml:2:16: scan.directories: expected a non-empty list"));
  EXPECT_THAT(errorsOf("scan:\n  directories: /tmp\n"),
              HasSubstr("test.yaml:2:16: scan.directories: expected a non-empty list"));
  EXPECT_THAT(errorsOf("scan:\n  max_depth: 65\n"),
              HasSubstr("test.yaml:2:14: scan.max_depth: out of range: 65 (expected an integer "
                        "from 0 to 64)"));
  EXPECT_THAT(errorsOf("scan:\n  time_budget_seconds: 0\n"),
              HasSubstr("test.yaml:2:24: scan.time_budget_seconds: out of range: 0 (expected a "
                        "number of seconds from 0.001 to 60)"));
  EXPECT_THAT(errorsOf("scan:\n  time_budget_seconds: 2s\n"),
              HasSubstr("test.yaml:2:24: scan.time_budget_seconds: expected a number of seconds "
                        "from 0.001 to 60, got '2s'"));
  EXPECT_THAT(errorsOf("scan:\n  time_budget_seconds: nan\n"),
              HasSubstr("scan.time_budget_seconds: out of range: nan"));
  EXPECT_THAT(errorsOf("scan:\n  depth: 3\n"),
              HasSubstr("test.yaml:2:3: scan.depth: unknown key (known: directories, max_depth, "
                        "time_budget_seconds)"));
}

TEST_F(ConfigTest, ReportsEveryErrorWithFileLineColumnAndKey) {
  const std::string path = kFixtures + "many_errors.yaml";
  std::string text;
  try {
    loadConfigFile(path);
    FAIL() << "many_errors.yaml was accepted";
  } catch (const ConfigError& e) {
    text = e.what();
  }
  const std::vector<std::string> expected = {
      path +
          ":2:10: log.level: 'loud' is not one of trace, debug, info, warn, error, critical, off",
      path + ":3:3: log.fromat: unknown key (known: format, level); did you mean 'format'?",
      path + ":5:19: web.listen_address: '9863' is not HOST:PORT, :PORT or [IPv6]:PORT",
      path + ":7:9: labels.comm: out of range: 0 (expected an integer from 1 to 100000)",
      path +
          ":8:29: labels.folded_values_remembered: expected an integer from 0 to 10000000, "
          "got '-5'",
      path +
          ":10:3: probes.brokenpipe: unknown key (known: broken_pipe, fifo_open, pipe_limits, "
          "sigpipe, "
          "syscall_tracepoints, unix_sock); did you mean 'broken_pipe'?",
      path + ":13:14: probes.sigpipe.enabled: expected true or false, got 'maybe'",
      path +
          ":15:3: collectors.sigpip: unknown collector (known: broken_pipe, sigpipe, pipe_limits, "
          "fifo_open, "
          "unix_sock, unix_sockets, workload_info, ipc_files, sysv_ipc, posix_ipc, endpoints, "
          "selinux); did you mean 'sigpipe'?",
  };
  for (const auto& line : expected) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n') + 1, static_cast<long>(expected.size()))
      << text;
}

TEST_F(ConfigTest, WrongTypes) {
  EXPECT_THAT(errorsOf("log: [a, b]\n"), HasSubstr("test.yaml:1:6: log: expected a mapping"));
  EXPECT_THAT(errorsOf("labels:\n  comm: 12.5\n"),
              HasSubstr("test.yaml:2:9: labels.comm: expected an integer from 1 to 100000, got "
                        "'12.5'"));
  EXPECT_THAT(errorsOf("labels:\n  comm: {a: 1}\n"),
              HasSubstr("test.yaml:2:9: labels.comm: expected an integer from 1 to 100000"));
  EXPECT_THAT(errorsOf("web:\n  listen_address: [1]\n"),
              HasSubstr("test.yaml:2:19: web.listen_address: expected HOST:PORT"));
  EXPECT_THAT(errorsOf("probes:\n  syscall_tracepoints: 0\n"),
              HasSubstr("test.yaml:2:24: probes.syscall_tracepoints: expected true or false, got "
                        "'0'"));
  EXPECT_THAT(errorsOf("probes:\n  sigpipe:\n    enabled: yes\n"),
              HasSubstr("test.yaml:3:14: probes.sigpipe.enabled: expected true or false, got "
                        "'yes'"));
  EXPECT_THAT(errorsOf("probes:\n  broken_pipe:\n    syscalls: write\n"),
              HasSubstr("test.yaml:3:15: probes.broken_pipe.syscalls: expected a list"));
  EXPECT_THAT(errorsOf("- a\n- b\n"), HasSubstr("test.yaml:1:1: (top level): expected a mapping"));
}

TEST_F(ConfigTest, FifoAndUnixProbesAndWatchPaths) {
  const Config c = parseConfig(
      "probes:\n  fifo_open:\n    blocked_threshold_seconds: 0.25\n    syscalls: [openat]\n"
      "  unix_sock:\n    enabled: false\nwatch_paths: [/tmp/opensips_fifo, /run/]\n",
      "x");
  EXPECT_EQ(c.probes.fifo_open.blocked_threshold_seconds, 0.25);
  EXPECT_EQ(c.probes.fifo_open.syscalls, (std::vector<std::string>{"openat"}));
  EXPECT_FALSE(c.probes.unix_sock.enabled);
  EXPECT_EQ(c.watch_paths, (std::vector<std::string>{"/tmp/opensips_fifo", "/run/"}));

  EXPECT_THAT(errorsOf("probes:\n  fifo_open:\n    blocked_threshold_seconds: 0\n"),
              HasSubstr("test.yaml:3:32: probes.fifo_open.blocked_threshold_seconds: out of "
                        "range: 0 (expected a number of seconds from 0.001 to 3600)"));
  EXPECT_THAT(errorsOf("probes:\n  fifo_open:\n    blocked_threshold_seconds: soon\n"),
              HasSubstr("test.yaml:3:32: probes.fifo_open.blocked_threshold_seconds: expected a "
                        "number"));
  EXPECT_THAT(errorsOf("probes:\n  unix_sock:\n    syscalls: [accept]\n"),
              HasSubstr("test.yaml:3:16: probes.unix_sock.syscalls: unknown syscall 'accept' "
                        "(known: connect, bind)"));
  EXPECT_THAT(errorsOf("watch_paths: [tmp/fifo]\n"),
              HasSubstr("test.yaml:1:15: watch_paths: expected an absolute path, got 'tmp/fifo'"));
  EXPECT_THAT(errorsOf("watch_paths: [/a, /a]\n"),
              HasSubstr("test.yaml:1:19: watch_paths: duplicate path '/a'"));
  EXPECT_THAT(errorsOf("watch_paths: [/" + std::string(127, 'a') + "]\n"),
              HasSubstr("watch_paths: longer than 127 bytes"));
  std::string seventeen = "watch_paths: [";
  for (int i = 0; i < 17; ++i) {
    seventeen += (i ? ", /p" : "/p") + std::to_string(i);
  }
  EXPECT_THAT(errorsOf(seventeen + "]\n"), HasSubstr("test.yaml:1:14: watch_paths: at most 16"));
}

TEST_F(ConfigTest, WorkloadSection) {
  const Config c = parseConfig(
      "labels:\n  workload: 20\n"
      "workload:\n  labels: [comm, pod]\n  cgroup_hierarchy: memory\n"
      "  cgroup_root: /host/sys/fs/cgroup\n  pod_logs: /srv/pods\n",
      "x");
  EXPECT_EQ(c.labels.workload, 20u);
  EXPECT_EQ(c.workload.labels, (std::vector<std::string>{"comm", "pod"}));
  EXPECT_TRUE(c.workload.wants("pod"));
  EXPECT_FALSE(c.workload.wants("unit"));
  EXPECT_TRUE(c.workload.wantsCgroup());
  EXPECT_EQ(c.workload.cgroup_hierarchy, "memory");
  EXPECT_EQ(c.workload.cgroup_root, "/host/sys/fs/cgroup");
  EXPECT_EQ(c.workload.pod_logs, "/srv/pods");
  // comm alone needs no cgroup; no label at all, neither.
  EXPECT_FALSE(parseConfig("workload:\n  labels: [comm]\n", "x").workload.wantsCgroup());
  const Config none = parseConfig("workload:\n  labels: []\n  cgroup_root: \"\"\n", "x");
  EXPECT_TRUE(none.workload.labels.empty());
  EXPECT_FALSE(none.workload.wantsCgroup());
  EXPECT_EQ(none.workload.cgroup_root, "");
  EXPECT_THAT(errorsOf("workload:\n  labels: [comm, namespace]\n"),
              HasSubstr("test.yaml:2:18: workload.labels: 'namespace' is not one of comm, unit, "
                        "container_id, pod_uid, pod_namespace, pod"));
  EXPECT_THAT(errorsOf("workload:\n  labels: [pod, pod]\n"),
              HasSubstr("test.yaml:2:17: workload.labels: duplicate label 'pod'"));
  EXPECT_THAT(errorsOf("workload:\n  cgroup_hierarchy: blkio\n"),
              HasSubstr("test.yaml:2:21: workload.cgroup_hierarchy: 'blkio' is not one of auto, "
                        "unified, pids, memory, cpu"));
  EXPECT_THAT(errorsOf("workload:\n  pod_logs: var/log/pods\n"),
              HasSubstr("test.yaml:2:13: workload.pod_logs: expected an absolute path"));
  EXPECT_THAT(errorsOf("labels:\n  workload: 0\n"),
              HasSubstr("test.yaml:2:13: labels.workload: out of range: 0"));
}

TEST_F(ConfigTest, PathsMustBeAbsolute) {
  EXPECT_EQ(parseConfig("paths:\n  procfs: /host/proc\n", "x").paths.procfs, "/host/proc");
  EXPECT_THAT(errorsOf("paths:\n  sysfs: host/sys\n"),
              HasSubstr("test.yaml:2:10: paths.sysfs: expected an absolute path, got 'host/sys'"));
}

TEST_F(ConfigTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(errorsOf("labels:\n  comm: 5\n  comm: 6\n"),
              HasSubstr("test.yaml:3:3: labels.comm: duplicate key"));
}

TEST_F(ConfigTest, OutOfRangeIntegers) {
  EXPECT_THAT(errorsOf("labels:\n  comm: 100001\n"),
              HasSubstr("test.yaml:2:9: labels.comm: out of range: 100001"));
  EXPECT_THAT(errorsOf("labels:\n  comm: 99999999999999999999999\n"),
              HasSubstr("test.yaml:2:9: labels.comm: expected an integer"));
  EXPECT_EQ(errorsOf("labels:\n  comm: 100000\n"), "");
}

TEST_F(ConfigTest, SyscallListProblems) {
  EXPECT_THAT(errorsOf("probes:\n  broken_pipe:\n    syscalls: [write, wirte]\n"),
              HasSubstr("test.yaml:3:23: probes.broken_pipe.syscalls: unknown syscall 'wirte' "
                        "(known: write, writev, sendto, sendmsg, sendmmsg, splice, sendfile, "
                        "io_uring); did you mean 'write'?"));
  EXPECT_THAT(errorsOf("probes:\n  broken_pipe:\n    syscalls: [write, write]\n"),
              HasSubstr("test.yaml:3:23: probes.broken_pipe.syscalls: duplicate syscall 'write'"));
  EXPECT_THAT(errorsOf("probes:\n  broken_pipe:\n    syscalls: []\n"),
              HasSubstr("test.yaml:3:15: probes.broken_pipe.syscalls: empty list: set enabled: "
                        "false on the probe instead"));
}

TEST_F(ConfigTest, ListenAddresses) {
  EXPECT_EQ(parseConfig("web:\n  listen_address: \"127.0.0.1:0\"\n", "x").web.listen_address,
            "127.0.0.1:0");
  EXPECT_THAT(errorsOf("web:\n  listen_address: \":70000\"\n"),
              HasSubstr("test.yaml:2:19: web.listen_address: ':70000' is not HOST:PORT"));
}

TEST_F(ConfigTest, WebConfigFile) {
  EXPECT_EQ(parseConfig("", "x").web.config_file, "");  // plain HTTP by default
  EXPECT_EQ(parseConfig("web:\n  config_file: /etc/ipcwatch/web.yml\n", "x").web.config_file,
            "/etc/ipcwatch/web.yml");
  EXPECT_THAT(errorsOf("web:\n  config_file: web.yml\n"),
              HasSubstr("test.yaml:2:16: web.config_file: expected an absolute path, got "
                        "'web.yml'"));
}

TEST_F(ConfigTest, TheWebProcessNeverRunsAsRoot) {
  EXPECT_EQ(parseConfig("", "x").web.user, "nobody");
  EXPECT_EQ(parseConfig("web:\n  user: www-data\n", "x").web.user, "www-data");
  for (const char* root : {"root", "0", "\"0:0\"", "\"0:65534\"", "\"\""}) {
    EXPECT_THAT(errorsOf(std::string("web:\n  user: ") + root + "\n"),
                HasSubstr("test.yaml:2:9: web.user: '"))
        << root;
    EXPECT_THAT(errorsOf(std::string("web:\n  user: ") + root + "\n"),
                HasSubstr("must not run as root"))
        << root;
  }
  EXPECT_THAT(errorsOf("web:\n  user: [a]\n"),
              HasSubstr("test.yaml:2:9: web.user: expected a user name, UID or UID:GID"));
}

TEST_F(ConfigTest, SyntaxErrorsCarryTheirPosition) {
  EXPECT_THAT(errorsOf("log:\n  level: [info\n"), HasSubstr("test.yaml:3:1: YAML syntax error"));
}

TEST_F(ConfigTest, UnreadableFile) {
  try {
    loadConfigFile("/nonexistent/ipcwatch.yml");
    FAIL() << "no error for a missing file";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/ipcwatch.yml: cannot read: No such file or directory");
  }
}

TEST_F(ConfigTest, InventoryProblems) {
  EXPECT_THAT(errorsOf("inventory:\n  msg_queue_top_n: 1001\n"),
              HasSubstr("test.yaml:2:20: inventory.msg_queue_top_n: out of range: 1001 (expected "
                        "an integer from 0 to 1000)"));
  EXPECT_THAT(errorsOf("inventory:\n  posix_mqueue_top_n: -1\n"),
              HasSubstr("test.yaml:2:23: inventory.posix_mqueue_top_n: expected an integer from 0 "
                        "to 1000, got '-1'"));
  EXPECT_THAT(errorsOf("inventory:\n  posix_shm_top_n: [1]\n"),
              HasSubstr("test.yaml:2:20: inventory.posix_shm_top_n: expected an integer"));
  EXPECT_THAT(errorsOf("inventory:\n  posix_shm_dir: dev/shm\n"),
              HasSubstr("test.yaml:2:18: inventory.posix_shm_dir: expected an absolute path, got "
                        "'dev/shm'"));
  EXPECT_THAT(errorsOf("inventory:\n  msg_queue_topn: 5\n"),
              HasSubstr("test.yaml:2:3: inventory.msg_queue_topn: unknown key (known: "
                        "msg_queue_top_n, pipe_user_top_n, posix_mqueue_top_n, posix_shm_dir, "
                        "posix_shm_top_n); did "
                        "you mean 'msg_queue_top_n'?"));
  EXPECT_THAT(errorsOf("inventory: 5\n"),
              HasSubstr("test.yaml:1:12: inventory: expected a mapping"));
  EXPECT_EQ(parseConfig("inventory:\n  msg_queue_top_n: 0\n", "x").inventory.msg_queue_top_n, 0u);
  EXPECT_EQ(errorsOf("inventory:\n"), "");
  EXPECT_EQ(errorsOf("collectors:\n  sysv_ipc: false\n  posix_ipc: false\n"), "");
}

TEST_F(ConfigTest, AnyCollectorNameAcceptedWhileNoneAreKnown) {
  setKnownCollectors({});
  EXPECT_EQ(parseConfig("collectors:\n  future: false\n", "x").collectors.at("future"), false);
}

}  // namespace
}  // namespace ipcwatch
