// End to end: names other users control (FIFO and socket paths, comm values, SELinux contexts)
// with quotes, backslashes, newlines, invalid UTF-8 and 4 KiB lengths reach the exposition, the
// JSON log and `diagnose --json` escaped: promtool accepts the exposition, every log line and
// the report parse as JSON, and nothing injected becomes a sample.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent_process.h"
#include "audit_netlink.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

// A quote, a backslash, a newline, a stray byte and a truncated UTF-8 sequence.
const std::string kHostile = "q\"b\\s\nn\xff\xc3(";
// Would close the label set and start a sample of its own if it were not escaped.
const std::string kInjection = "x\"} 1\nipc_injected_total 1\n# ";


// A stale socket file: bound, then its server went away without unlink().
bool makeStaleSocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) {
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 1) == 0;
  close(fd);
  return ok;
}

// A FIFO without reader, opened for writing: ENXIO, counted by the fifo_open probe.
bool makeFifoAndFailOpen(const std::string& path) {
  if (mkfifo(path.c_str(), 0644) != 0) {
    return false;
  }
  const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  return fd < 0 && errno == ENXIO;
}


TEST(HostileNamesE2E, ExpositionLogsAndDiagnoseStayValid) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF programs and send audit records";
  }
  char tmpl[] = "/tmp/ipcwatch-hostile-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);

  // A path of about 4 KiB: nested 200-byte directory names, then the FIFO.
  std::string long_path = dir;
  while (long_path.size() < 3800) {
    long_path += "/" + std::string(200, 'd');
    ASSERT_EQ(mkdir(long_path.c_str(), 0755), 0) << std::strerror(errno);
  }
  long_path += "/" + std::string(200, 'f');
  const std::vector<std::string> fifos = {dir + "/fifo" + kHostile, dir + "/" + kInjection,
                                          long_path};
  const std::string socket_path = dir + "/sock" + kHostile;
  const std::string comm = uniqueComm("h").substr(0, 6) + "\"\\\n\xff";
  const std::string source_type = "hx" + uniqueComm("").substr(0, 6) + "\"\\\xff_t";

  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "scan:\n  directories: [\"" +
          dir +
          "\"]\n  max_depth: 40\n"
          "selinux:\n  sources: [netlink]\n" +
          kCommOnlyYaml,
      {"--log.format", "json", "--log.level", "debug"});
  const int port = agent.waitForPort(30s);
  ASSERT_GT(port, 0) << agent.log();
  // The same records in a text log: still one record per line.
  AgentProcess text_agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "selinux:\n  sources: [netlink]\n",
      {"--log.level", "debug"});
  ASSERT_GT(text_agent.waitForPort(30s), 0) << text_agent.log();
  const auto attached = [&] {
    const auto response = httpRequest(port, "GET", "/metrics");
    return response &&
           response->body.find("ipcwatch_probe_attached{probe=\"fifo_exit_openat\"} 1") !=
               std::string::npos;
  };
  for (const auto end = std::chrono::steady_clock::now() + 30s;
       !attached() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(50ms);  // polling interval
  }

  for (const auto& fifo : fifos) {
    ASSERT_TRUE(makeFifoAndFailOpen(fifo)) << fifo.size() << ": " << std::strerror(errno);
  }
  ASSERT_TRUE(makeStaleSocket(socket_path));
  ASSERT_TRUE(exitedCleanly(runAs(comm, [] { return writeToBrokenPipe(1); })));
  ASSERT_EQ(sendUserAvc("avc:  denied  { write } for  pid=4242 comm=\"" + kHostile + "\" path=\"" +
                        kInjection + "\" scontext=system_u:system_r:" + source_type +
                        ":s0 tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file"),
            0);
  // Not an AVC record the parser understands: logged at debug with its text.
  ASSERT_EQ(sendUserAvc("avc:  denied  " + kHostile + kInjection), 0);

  // Poll until every hostile name has reached the exposition.
  std::string body;
  const auto complete = [&] {
    const auto response = httpRequest(port, "GET", "/metrics");
    body = response ? response->body : "";
    return body.find("ipc_epipe_total{comm=\"" + comm.substr(0, 6)) != std::string::npos &&
           body.find(std::string(200, 'f') + "\"") != std::string::npos &&
           body.find("source_type=\"hx") != std::string::npos &&
           body.find("ipc_fifo_open_errors_total{comm=\"" + ownComm() +
                     "\",errno=\"ENXIO\",path=\"" + dir + "/x") != std::string::npos;
  };
  for (const auto end = std::chrono::steady_clock::now() + 15s;
       !complete() && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(100ms);  // polling interval
  }
  ASSERT_TRUE(complete()) << body << agent.log();

  // The exposition: promtool accepts it, and no injected line became a sample.
  const std::string file = dir + "/metrics.prom";
  std::ofstream(file) << body;
  const auto [code, output] = runCommand("promtool check metrics < " + file);
  EXPECT_EQ(code, 0) << output;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_NE(line.rfind("ipc_injected_total", 0), 0u) << line;
  }
  EXPECT_NE(body.find("comm=\"" + comm.substr(0, 6) + "\\\"\\\\\\\\x0a\\\\xff\""),
            std::string::npos);

  // The JSON log: every line an object, and the hostile audit record logged repaired.
  ASSERT_TRUE(agent.stop(5s).has_value());
  std::istringstream log_lines(agent.log());
  bool logged_hostile = false;
  while (std::getline(log_lines, line)) {
    nlohmann::json entry;
    ASSERT_NO_THROW(entry = nlohmann::json::parse(line)) << line;
    const std::string msg = entry.at("msg").get<std::string>();
    logged_hostile = logged_hostile || msg.find("q\"b\\s\nn\\xff\\xc3(") != std::string::npos;
  }
  EXPECT_TRUE(logged_hostile) << agent.log();
  ASSERT_TRUE(text_agent.stop(5s).has_value());
  std::istringstream text_lines(text_agent.log());
  bool text_logged_hostile = false;
  while (std::getline(text_lines, line)) {
    EXPECT_TRUE(line.size() > 24 && line[4] == '-' && line[10] == 'T') << "not a record: " << line;
    text_logged_hostile =
        text_logged_hostile || line.find("q\"b\\s\\x0an\\xff\\xc3(") != std::string::npos;
  }
  EXPECT_TRUE(text_logged_hostile) << text_agent.log();

  // diagnose --json over the hostile FIFO: valid JSON that carries the path exactly, with the
  // invalid bytes written as \xNN text.
  std::ofstream(dir + "/path") << fifos[0];
  const auto [diag_code, report] =
      runCommand(std::string(IPCWATCH_BINARY) + " diagnose \"$(cat '" + dir +
                 "/path')\" --as nobody --access write --json 2>/dev/null");
  EXPECT_EQ(diag_code, 1) << report;  // not reachable: the path has control characters
  nlohmann::json parsed;
  ASSERT_NO_THROW(parsed = nlohmann::json::parse(report)) << report;
  EXPECT_EQ(parsed.at("path").get<std::string>(), dir + "/fifoq\"b\\s\nn\\xff\\xc3(");

  runCommand("rm -rf '" + dir + "'");
}

}  // namespace
}  // namespace ipcwatch::testing
