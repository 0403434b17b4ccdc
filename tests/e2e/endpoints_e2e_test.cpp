// End to end: endpoint reachability from a client's point of view, with real FIFOs, sockets,
// processes, credentials and namespaces. Each case is asserted on the metrics of the
// endpoints collector and on the output and exit status of the real `ipcwatch diagnose`.
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_process.h"
#include "audit/avc_record_parser.h"
#include "audit/denial_store.h"
#include "child_process.h"
#include "collectors/endpoints_collector.h"
#include "config/config.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr std::uint32_t kClientUid = 61234;
constexpr std::uint32_t kClientGid = 61234;
constexpr std::uint32_t kSharedGid = 61300;

using TestProcess = HeldChild;  // ready() once its setup returned 0

int becomeClient(std::vector<gid_t> groups) {
  groups.insert(groups.begin(), kClientGid);
  if (setgroups(groups.size(), groups.data()) != 0 || setgid(kClientGid) != 0 ||
      setuid(kClientUid) != 0) {
    return errno;
  }
  return 0;
}

class EndpointsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (credentials, namespaces, every process's fds)";
    }
    char tmpl[] = "/tmp/ipcwatch-ep-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
    fifo_ = dir_ + "/fifo";
  }
  void TearDown() override {
    for (const auto& file : host_files_) {
      unlink(file.c_str());
    }
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  void makeFifo(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
    ASSERT_EQ(chown(path.c_str(), uid, gid), 0);
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }

  // A root process holding `path` open for reading, named `comm`.
  std::unique_ptr<TestProcess> startReader(const std::string& path, const std::string& comm) {
    auto reader = std::make_unique<TestProcess>(
        comm, [path] { return open(path.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : errno; });
    EXPECT_TRUE(reader->ready());
    return reader;
  }

  std::unique_ptr<TestProcess> startClient(const std::string& comm,
                                           const std::vector<gid_t>& groups = {}) {
    auto client = std::make_unique<TestProcess>(comm, [groups] { return becomeClient(groups); });
    EXPECT_TRUE(client->ready());
    return client;
  }

  // The metrics of the endpoints collector for one endpoint with one client process.
  std::vector<MetricFamily> collect(const std::string& path, EndpointType type,
                                    const std::string& client_comm,
                                    EndpointAccess access = EndpointAccess::kWrite,
                                    const std::string& server_comm = "",
                                    const std::string& sysfs = "/sys",
                                    const DenialStore* denials = nullptr) {
    Config config;
    config.paths.sysfs = sysfs;
    EndpointConfig endpoint;
    endpoint.name = "ep";
    endpoint.path = path;
    endpoint.type = type;
    endpoint.server = server_;
    if (!server_comm.empty()) {
      endpoint.server.process = server_comm;
    }
    EndpointClientConfig client;
    client.name = "cl";
    client.process = client_comm;
    client.access = access;
    endpoint.clients.push_back(client);
    config.endpoints.push_back(endpoint);
    // The agent's own choice of backend (BPF iterators here), as in production, unless the
    // test chose a source.
    const auto own = source_ == nullptr ? openHostSnapshots(config.paths.procfs) : nullptr;
    EndpointsCollector collector(config, denials, source_ != nullptr ? *source_ : *own, state_);
    std::vector<MetricFamily> out;
    collector.collect(out);
    return out;
  }

  static double value(const std::vector<MetricFamily>& families, const std::string& name,
                      std::map<std::string, std::string> labels) {
    for (const auto& family : families) {
      if (family.name != name) {
        continue;
      }
      for (const auto& sample : family.samples) {
        const std::map<std::string, std::string> got(sample.labels.begin(), sample.labels.end());
        if (got == labels) {
          return sample.value;
        }
      }
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

  static double checkOk(const std::vector<MetricFamily>& families, const std::string& check) {
    return value(families, "ipc_endpoint_check_ok",
                 {{"endpoint", "ep"}, {"client", "cl"}, {"check", check}});
  }
  static const CheckResult& checkNamed(const EndpointReport& report, const std::string& name) {
    for (const auto& check : report.checks) {
      if (check.name == name) {
        return check;
      }
    }
    static const CheckResult missing{"missing", CheckStatus::kSkipped, "", ""};
    return missing;
  }
  static double up(const std::vector<MetricFamily>& families) {
    return value(families, "ipc_endpoint_up", {{"endpoint", "ep"}, {"client", "cl"}});
  }

  // A configuration with one endpoint `name` at `path` served by `server_comm`, whose client
  // `panel` is the process `client_comm`; diagnose --endpoint NAME checks it.
  std::string endpointConfig(const std::string& name, const std::string& path,
                             const std::string& type, const std::string& server_comm,
                             const std::string& client_comm, const std::string& access) const {
    const std::string config_path = dir_ + "/ipcwatch.yaml";
    std::ofstream(config_path) << "endpoints:\n  - name: " << name << "\n    path: " << path
                               << "\n    type: " << type
                               << "\n    server: { process: " << server_comm
                               << " }\n    clients:\n      - { name: panel, "
                               << "process: " << client_comm << ", access: " << access << " }\n";
    return config_path;
  }

  static std::pair<int, std::string> diagnose(const std::string& args) {
    return runCommand(std::string(IPCWATCH_BINARY) + " diagnose " + args);
  }

  // A root of its own for a client, as a container has: /var/run is an absolute symlink to
  // /run, and /run is a tmpfs that only the client's mount namespace has.
  std::string makeClientRoot() {
    const std::string root = dir_ + "/root";
    EXPECT_EQ(mkdir(root.c_str(), 0755), 0);
    EXPECT_EQ(mkdir((root + "/run").c_str(), 0755), 0);
    EXPECT_EQ(mkdir((root + "/var").c_str(), 0755), 0);
    EXPECT_EQ(symlink("/run", (root + "/var/run").c_str()), 0);
    return root;
  }

  std::unique_ptr<TestProcess> startClientInRoot(const std::string& root, const std::string& comm) {
    auto client = std::make_unique<TestProcess>(comm, [root] {
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0 ||
          mount("tmpfs", (root + "/run").c_str(), "tmpfs", 0, "mode=0755") != 0 ||
          chroot(root.c_str()) != 0 || chdir("/") != 0) {
        return errno;
      }
      return becomeClient({});
    });
    EXPECT_TRUE(client->ready());
    return client;
  }

  std::string dir_;
  std::string fifo_;
  HostSnapshotSource* source_ = nullptr;  // the snapshots `collect` reads; null: the agent's
  CollectorState* state_ = nullptr;       // what outlives the collectors; null: their own
  EndpointServerConfig server_;           // the endpoint's `server:` (a server_comm overrides)
  std::vector<std::string> host_files_;   // made outside dir_, removed at the end
};

TEST_F(EndpointsE2eTest, HealthyFifoThenReaderKilled) {
  makeFifo(fifo_, 0600, kClientUid, kClientGid);
  const std::string reader_comm = uniqueComm("srv");
  auto reader = startReader(fifo_, reader_comm);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);

  auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, reader_comm);
  EXPECT_EQ(up(metrics), 1);
  for (const char* check : {"path_clean", "exists", "type", "search", "permission", "peer",
                            "backlog", "selinux", "umask_mode", "path_safe"}) {
    EXPECT_EQ(checkOk(metrics, check), 1) << check;
  }
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 1);
  EXPECT_GT(value(metrics, "ipc_endpoint_last_ok_timestamp_seconds",
                  {{"endpoint", "ep"}, {"client", "cl"}}),
            1.6e9);
  auto [status, output] = diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("✓ peer"));
  EXPECT_THAT(output, HasSubstr("held open for reading by pid " + std::to_string(reader->pid()) +
                                " (" + reader_comm));
  EXPECT_THAT(output, HasSubstr("reachable"));

  reader->stop();
  metrics = collect(fifo_, EndpointType::kFifo, client_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  EXPECT_EQ(checkOk(metrics, "permission"), 1);
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 0);
  std::tie(status, output) = diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ peer"));
  EXPECT_THAT(output, HasSubstr("no process reads this FIFO"));
  EXPECT_THAT(output, HasSubstr("NOT reachable"));
}

TEST_F(EndpointsE2eTest, ModeOwnedByAnotherUserFailsPermissionNamingTheBit) {
  makeFifo(fifo_, 0600, 0, 0);
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics = collect(fifo_, EndpointType::kFifo, client_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "permission"), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  const auto [status, output] = diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ permission"));
  EXPECT_THAT(output, HasSubstr("missing bit: w"));
  EXPECT_THAT(output, HasSubstr("mode 0600"));
  EXPECT_THAT(output, HasSubstr("setfacl -m u:61234:w " + fifo_));
}

TEST_F(EndpointsE2eTest, AccessThroughASupplementaryGroup) {
  makeFifo(fifo_, 0620, 0, kSharedGid);
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const std::string member_comm = uniqueComm("mem");
  auto member = startClient(member_comm, {kSharedGid});
  auto metrics = collect(fifo_, EndpointType::kFifo, member_comm);
  EXPECT_EQ(up(metrics), 1);
  EXPECT_EQ(checkOk(metrics, "permission"), 1);
  auto [status, output] = diagnose(fifo_ + " --as-pid " + std::to_string(member->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("group (gid 61300) class grants -w-"));

  // The same client without the group: the fix is to add it.
  const std::string outsider_comm = uniqueComm("out");
  auto outsider = startClient(outsider_comm);
  metrics = collect(fifo_, EndpointType::kFifo, outsider_comm);
  EXPECT_EQ(checkOk(metrics, "permission"), 0);
  std::tie(status, output) = diagnose(fifo_ + " --as-pid " + std::to_string(outsider->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("usermod -aG 61300 61234"));
}

TEST_F(EndpointsE2eTest, AccessThroughAPosixAclEntry) {
  makeFifo(fifo_, 0600, 0, 0);
  // As an administrator grants it; the mask becomes rw- as setfacl computes it.
  const auto [setfacl, setfacl_output] =
      runCommand("setfacl -m u:" + std::to_string(kClientUid) + ":rw '" + fifo_ + "'");
  ASSERT_EQ(setfacl, 0) << setfacl_output;
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics = collect(fifo_, EndpointType::kFifo, client_comm);
  EXPECT_EQ(up(metrics), 1);
  EXPECT_EQ(checkOk(metrics, "permission"), 1);
  const auto [status, output] = diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("ACL user:61234:rw-"));
  EXPECT_THAT(output, HasSubstr("ACL entry user:61234:rw- (mask rw-) grants rw-"));
}

TEST_F(EndpointsE2eTest, ParentDirectoryWithoutSearchPermission) {
  const std::string locked = dir_ + "/locked";
  ASSERT_EQ(mkdir(locked.c_str(), 0700), 0);
  const std::string path = locked + "/fifo";
  makeFifo(path, 0666, 0, 0);
  auto reader = startReader(path, uniqueComm("srv"));
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics = collect(path, EndpointType::kFifo, client_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "search"), 0);
  EXPECT_EQ(checkOk(metrics, "exists"), 1);
  const auto [status, output] = diagnose(path + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ search"));
  EXPECT_THAT(output, HasSubstr("denies search (x) on " + locked + " (EACCES)"));
  EXPECT_THAT(output, HasSubstr("chmod o+x " + locked));
}

TEST_F(EndpointsE2eTest, ClientWithAPrivateTmpDoesNotSeeTheFifo) {
  makeFifo(fifo_, 0666, 0, 0);
  const std::string reader_comm = uniqueComm("srv");
  auto reader = startReader(fifo_, reader_comm);
  const std::string client_comm = uniqueComm("cli");
  auto client = std::make_unique<TestProcess>(client_comm, [] {
    // What systemd's PrivateTmp= does: a mount namespace with its own tmpfs on /tmp.
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777") != 0) {
      return errno;
    }
    return becomeClient({});
  });
  ASSERT_TRUE(client->ready());
  const auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, reader_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "exists"), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);  // the server side is fine
  const auto [status, output] = diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ exists"));
  EXPECT_THAT(output, HasSubstr("does not exist in the client's mount namespace mnt:["));
  EXPECT_THAT(output, HasSubstr("a mount-namespace split (private /tmp, systemd PrivateTmp=)"));
  EXPECT_THAT(output, HasSubstr("the client runs with a private /tmp"));
}

TEST_F(EndpointsE2eTest, ConfiguredPathWithATrailingSpace) {
  makeFifo(fifo_, 0666, 0, 0);
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics = collect(fifo_ + " ", EndpointType::kFifo, client_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "path_clean"), 0);
  EXPECT_EQ(checkOk(metrics, "exists"), 0);

  const std::string config_path = dir_ + "/ipcwatch.yaml";
  {
    std::ofstream config(config_path);
    config << "endpoints:\n  - name: mi\n    path: \"" << fifo_ << " \"\n    type: fifo\n"
           << "    clients:\n      - name: panel\n        process: " << client_comm << "\n";
  }
  const auto [status, output] = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ path_clean"));
  EXPECT_THAT(output, HasSubstr("path has a trailing space: use '" + fifo_ + "'"));
}

// Where SELinux is active, a recent denial naming the endpoint for the client's domain fails
// the check. SELinux is not active on the test machines, so selinuxfs is a fixture directory
// (paths.sysfs) and the denial a kernel AVC record as auditd writes it; the client's domain is
// then unknown (no SELinux context in /proc/PID/attr/current: none at all, or an AppArmor label
// on a stock Debian kernel), so a denial for any domain on the path counts.
TEST_F(EndpointsE2eTest, RecentSelinuxDenialFailsTheSelinuxCheck) {
  makeFifo(fifo_, 0666, 0, 0);
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const std::string sysfs = dir_ + "/sys";
  ASSERT_EQ(runCommand("mkdir -p '" + sysfs + "/fs/selinux' && echo 1 > '" + sysfs +
                       "/fs/selinux/enforce'")
                .first,
            0);
  struct stat st {};
  ASSERT_EQ(stat(fifo_.c_str(), &st), 0);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string record =
      "type=AVC msg=audit(" + std::to_string(now) +
      ".120:7311): avc:  denied  { write } for  pid=4121 comm=\"httpd\" name=\"fifo\" dev=\"sda1\" "
      "ino=" +
      std::to_string(st.st_ino) +
      " scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:user_tmp_t:s0 "
      "tclass=fifo_file permissive=0";

  LabelCaps caps(100, 100, 100);
  DenialStore store(caps, 50);
  auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, "", sysfs, &store);
  EXPECT_EQ(checkOk(metrics, "selinux"), 1) << "no denial yet";
  EXPECT_EQ(up(metrics), 1);
  for (const auto& parsed : parseAuditLine(record)) {
    store.add("audit_log", parsed);
  }
  metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, "", sysfs, &store);
  EXPECT_EQ(checkOk(metrics, "selinux"), 0);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);

  // diagnose reads the denials from the end of the configured audit.log.
  const std::string audit_log = dir_ + "/audit.log";
  const std::string config_path = dir_ + "/ipcwatch.yaml";
  {
    std::ofstream log(audit_log);
    log << record << "\n";
    std::ofstream config(config_path);
    config << "paths:\n  sysfs: " << sysfs << "\nselinux:\n  audit_log: " << audit_log << "\n";
  }
  const auto [status, output] =
      diagnose(fifo_ + " --as-pid " + std::to_string(client->pid()) + " --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ selinux"));
  EXPECT_THAT(output, HasSubstr("1 recent denial, newest: denied { write } for httpd_t on "
                                "user_tmp_t:fifo_file path fifo comm httpd pid 4121"));
  EXPECT_THAT(output, HasSubstr("allow httpd_t user_tmp_t:fifo_file write;"));
}

TEST_F(EndpointsE2eTest, StaleUnixSocketHasNoPeer) {
  const std::string path = dir_ + "/api.sock";
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 8), 0);
    close(fd);  // the server died; the file stays
  }
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics =
      collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "type"), 1);
  EXPECT_EQ(checkOk(metrics, "permission"), 1);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  const auto [status, output] = diagnose(path + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("stale socket file"));
}

TEST_F(EndpointsE2eTest, AbstractListenerInAnotherNetworkNamespace) {
  const std::string name = "@" + uniqueComm("ipcwatch-abs");
  auto listener = std::make_unique<TestProcess>(uniqueComm("lsn"), [name] {
    if (unshare(CLONE_NEWNET) != 0) {
      return errno;
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 8) != 0) {
      return errno;
    }
    return 0;
  });
  ASSERT_TRUE(listener->ready());
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const auto metrics =
      collect(name, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  auto [status, output] = diagnose(name + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ peer"));
  EXPECT_THAT(output, HasSubstr("which the client cannot reach"));
  // Seen from inside its namespace, the same name is served.
  std::tie(status, output) = diagnose(name + " --as-pid " + std::to_string(listener->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("✓ peer"));
}

TEST_F(EndpointsE2eTest, FullAcceptQueueFailsBacklog) {
  const std::string path = dir_ + "/busy.sock";
  const int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 0), 0);  // nobody accepts; one waiting connection fills it
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);

  auto metrics = collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(checkOk(metrics, "backlog"), 1);
  EXPECT_EQ(up(metrics), 1);

  const int waiting = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_EQ(connect(waiting, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  metrics = collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(checkOk(metrics, "backlog"), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(up(metrics), 0);
  const auto [status, output] = diagnose(path + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ backlog"));
  EXPECT_THAT(output, HasSubstr("accept queue full: 1 connection(s) waiting, backlog 0"));
  close(waiting);
  close(server);
}

// A client in a root of its own whose /var/run is an absolute symlink to its private /run:
// /var/run/NAME is the FIFO in that /run, never a file at the agent's /run/NAME.
TEST_F(EndpointsE2eTest, PathsResolveInsideTheClientsRoot) {
  const std::string root = makeClientRoot();
  const std::string client_comm = uniqueComm("cli");
  auto client = startClientInRoot(root, client_comm);
  ASSERT_TRUE(client->ready());
  const std::string client_root = "/proc/" + std::to_string(client->pid()) + "/root";
  const std::string name = uniqueComm("ipcwatch-ep") + ".fifo";
  makeFifo(client_root + "/run/" + name, 0622, 0, 0);
  struct stat st {};
  ASSERT_NE(lstat((root + "/run/" + name).c_str(), &st), 0) << "only the client's /run has it";
  const std::string reader_comm = uniqueComm("srv");
  auto reader = startReader(client_root + "/run/" + name, reader_comm);

  auto metrics = collect("/var/run/" + name, EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "exists"), 1);
  EXPECT_EQ(checkOk(metrics, "type"), 1);
  EXPECT_EQ(checkOk(metrics, "permission"), 1);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(checkOk(metrics, "umask_mode"), 1);
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 1);
  EXPECT_EQ(up(metrics), 1);
  auto [status, output] =
      diagnose("/var/run/" + name + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("✓ type        is a FIFO"));
  EXPECT_THAT(output, HasSubstr("held open for reading by pid " + std::to_string(reader->pid())));

  // A FIFO at the agent's own /run, with a reader: the client's /var/run does not lead there.
  const std::string host_only = "/run/" + uniqueComm("ipcwatch-ep") + ".fifo";
  host_files_.push_back(host_only);
  makeFifo(host_only, 0666, 0, 0);
  auto host_reader = startReader(host_only, uniqueComm("hsrv"));
  const std::string client_path = "/var/run/" + host_only.substr(5);
  metrics = collect(client_path, EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "exists"), 0);
  EXPECT_EQ(up(metrics), 0);
  std::tie(status, output) =
      diagnose(client_path + " --as-pid " + std::to_string(client->pid()) + " --type fifo");
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ exists"));
  EXPECT_THAT(output, HasSubstr("does not exist in the client's mount namespace"));
}

// The same for a socket: found (and its listener matched) through the client's /var/run, and
// diagnose tells it is a socket from the client's view, not the agent's.
TEST_F(EndpointsE2eTest, SocketPathResolvesInsideTheClientsRoot) {
  const std::string root = makeClientRoot();
  const std::string client_comm = uniqueComm("cli");
  auto client = startClientInRoot(root, client_comm);
  ASSERT_TRUE(client->ready());
  const std::string name = uniqueComm("ipcwatch-ep") + ".sock";
  const std::string bind_path = "/proc/" + std::to_string(client->pid()) + "/root/run/" + name;
  const int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(bind_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, bind_path.c_str());
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  ASSERT_EQ(listen(server, 8), 0);
  ASSERT_EQ(chmod(bind_path.c_str(), 0666), 0);

  const auto metrics =
      collect("/var/run/" + name, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(checkOk(metrics, "exists"), 1);
  EXPECT_EQ(checkOk(metrics, "type"), 1);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(checkOk(metrics, "backlog"), 1);
  EXPECT_EQ(up(metrics), 1);
  const auto [status, output] =
      diagnose("/var/run/" + name + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("(unix_stream)"));
  EXPECT_THAT(output, HasSubstr("✓ peer"));
  close(server);
}

// Without unix_diag (the /proc/net/unix fallback) no socket has a socket file's inode: a
// healthy listener is matched by its bound path, and the evidence says so.
TEST_F(EndpointsE2eTest, SocketWithoutUnixDiagMatchedByPath) {
  HostSnapshotSource procfs_only({}, nullptr, UnixSocketInventoryReader::Source::kProcfsOnly);
  source_ = &procfs_only;
  // The client first: forked later, it would hold the listener open too.
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const std::string path = dir_ + "/api.sock";
  const int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 8), 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  ASSERT_TRUE(procfs_only.current()->unixSockets().from_procfs);

  auto metrics = collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(checkOk(metrics, "backlog"), 1);  // not applicable: no queue lengths to read
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 1);
  EXPECT_EQ(up(metrics), 1);

  EndpointConfig endpoint;
  endpoint.name = "ep";
  endpoint.path = path;
  endpoint.type = EndpointType::kUnixStream;
  EndpointClientConfig client_config;
  client_config.name = "cl";
  client_config.process = client_comm;
  client_config.access = EndpointAccess::kConnect;
  const EndpointChecker checker("/proc", "/sys");
  auto report = checker.check(endpoint, client_config, *procfs_only.current());
  ASSERT_EQ(report.checks.size(), endpointCheckNames().size());
  const auto& peer = checkNamed(report, "peer");
  ASSERT_EQ(peer.name, "peer");
  EXPECT_EQ(peer.status, CheckStatus::kPass);
  EXPECT_THAT(peer.evidence, HasSubstr("matched by path"));
  EXPECT_THAT(peer.evidence, HasSubstr("unix_diag is unavailable"));
  EXPECT_EQ(checkNamed(report, "backlog").status, CheckStatus::kNotApplicable)
      << checkNamed(report, "backlog").evidence;

  // The server goes away and leaves its file: nothing listens there any more.
  close(server);
  metrics = collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 0);
  EXPECT_EQ(up(metrics), 0);
  report = checker.check(endpoint, client_config, *procfs_only.current());
  EXPECT_EQ(checkNamed(report, "peer").status, CheckStatus::kFail);
  EXPECT_THAT(checkNamed(report, "peer").evidence, HasSubstr("bound to that path"));
}

TEST_F(EndpointsE2eTest, DiagnoseUsageErrorsAndJson) {
  EXPECT_EQ(diagnose("").first, 2);
  EXPECT_EQ(diagnose(fifo_).first, 2);  // no --as
  EXPECT_EQ(diagnose(fifo_ + " --as no_such_user_xyz").first, 2);
  EXPECT_EQ(diagnose(fifo_ + " --as nobody --access sideways").first, 2);
  EXPECT_EQ(diagnose("--endpoint nope").first, 2);
  makeFifo(fifo_, 0622, 0, 0);
  auto reader = startReader(fifo_, uniqueComm("srv"));
  const auto [status, output] = diagnose(fifo_ + " --as nobody --json");
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("\"reachable\":true"));
  EXPECT_THAT(output, HasSubstr("{\"name\":\"peer\",\"status\":\"pass\""));
  EXPECT_THAT(output, HasSubstr("(the agent's namespaces)"));
}

// The intended peer: a FIFO read by a process that is not the configured server fails `peer`,
// naming it; ipc_endpoint_peer_info says who serves.
TEST_F(EndpointsE2eTest, StrayReaderIsNotTheConfiguredServer) {
  makeFifo(fifo_, 0600, kClientUid, kClientGid);
  const std::string stray_comm = uniqueComm("cat");
  auto stray = startReader(fifo_, stray_comm);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  const std::string server_comm = uniqueComm("opensips");

  auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  EXPECT_EQ(
      value(metrics, "ipc_endpoint_peer_info",
            {{"endpoint", "ep"}, {"pid", std::to_string(stray->pid())}, {"comm", stray_comm}}),
      1);

  // The configured server starts and reads too: the stray reader still fails the check, and
  // both are named.
  auto server = startReader(fifo_, server_comm);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  EXPECT_EQ(
      value(metrics, "ipc_endpoint_peer_info",
            {{"endpoint", "ep"}, {"pid", std::to_string(server->pid())}, {"comm", server_comm}}),
      1);
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 2);

  const std::string config_path =
      endpointConfig("mi", fifo_, "fifo", server_comm, client_comm, "write");
  auto [status, output] = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("✗ peer"));
  EXPECT_THAT(output, HasSubstr("held open for reading by pid " + std::to_string(stray->pid()) +
                                " (" + stray_comm));
  EXPECT_THAT(output, HasSubstr("expected " + server_comm));

  stray->stop();
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(up(metrics), 1);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  std::tie(status, output) = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("the configured server"));
}

// Two instances of the server reading one FIFO fail `peer`; a server whose forked worker holds
// the FIFO too is one instance.
TEST_F(EndpointsE2eTest, TwoInstancesOfTheServerOnOneFifo) {
  makeFifo(fifo_, 0600, kClientUid, kClientGid);
  const std::string server_comm = uniqueComm("opensips");
  const std::string path = fifo_;
  auto first = std::make_unique<TestProcess>(server_comm, [path] {
    if (open(path.c_str(), O_RDONLY | O_NONBLOCK) < 0) {
      return errno;
    }
    int ready[2];
    if (pipe(ready) != 0) {
      return errno;
    }
    const pid_t worker = fork();
    if (worker == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(ready[0]);
      char byte = 1;
      (void)!write(ready[1], &byte, 1);  // the FIFO descriptor is inherited: it reads too
      for (;;) {
        pause();
      }
    }
    close(ready[1]);
    char byte = 0;
    return worker > 0 && read(ready[0], &byte, 1) == 1 ? 0 : EIO;
  });
  ASSERT_TRUE(first->ready());
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);

  auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(value(metrics, "ipc_endpoint_peers", {{"endpoint", "ep"}}), 2);

  auto second = startReader(fifo_, server_comm);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  EXPECT_EQ(
      value(metrics, "ipc_endpoint_peer_info",
            {{"endpoint", "ep"}, {"pid", std::to_string(second->pid())}, {"comm", server_comm}}),
      1);
  const std::string config_path =
      endpointConfig("mi", fifo_, "fifo", server_comm, client_comm, "write");
  const auto [status, output] = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output,
              HasSubstr("2 instances of " + server_comm + " (pid " + std::to_string(first->pid()) +
                        ", pid " + std::to_string(second->pid()) + ")"));
}

// A socket endpoint names the process holding its listening socket, and fails when that is
// not the configured server.
TEST_F(EndpointsE2eTest, SocketServedByTheWrongProgram) {
  const std::string path = dir_ + "/api.sock";
  const std::string listener_comm = uniqueComm("python3");
  auto listener = std::make_unique<TestProcess>(listener_comm, [path] {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 8) != 0 ||
        chmod(path.c_str(), 0666) != 0) {
      return errno;
    }
    return 0;
  });
  ASSERT_TRUE(listener->ready());
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);

  auto metrics = collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect,
                         listener_comm);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(
      value(
          metrics, "ipc_endpoint_peer_info",
          {{"endpoint", "ep"}, {"pid", std::to_string(listener->pid())}, {"comm", listener_comm}}),
      1);
  EXPECT_EQ(
      value(metrics, "ipc_endpoint_process_info",
            {{"endpoint", "ep"}, {"client", "cl"}, {"role", "server"}, {"comm", listener_comm}}),
      1);

  const std::string server_comm = uniqueComm("sipd");
  metrics =
      collect(path, EndpointType::kUnixStream, client_comm, EndpointAccess::kConnect, server_comm);
  EXPECT_EQ(up(metrics), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  const std::string config_path =
      endpointConfig("api", path, "unix_stream", server_comm, client_comm, "connect");
  const auto [status, output] = diagnose("--endpoint api --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output,
              HasSubstr("held by pid " + std::to_string(listener->pid()) + " (" + listener_comm));
  EXPECT_THAT(output, HasSubstr("expected " + server_comm));
}

// A FIFO removed and made again under its running reader: counted once, the peer check says
// the server holds the previous file, and the counter survives a new collector (a reload).
TEST_F(EndpointsE2eTest, FifoReplacedUnderItsRunningReader) {
  makeFifo(fifo_, 0600, kClientUid, kClientGid);
  const std::string server_comm = uniqueComm("srv");
  auto reader = startReader(fifo_, server_comm);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  CollectorState state;
  state_ = &state;
  const std::map<std::string, std::string> ep = {{"endpoint", "ep"}};

  auto metrics =
      collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(value(metrics, "ipc_endpoint_replaced_total", ep), 0);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(value(metrics, "ipc_endpoint_replaced_total", ep), 0);  // nothing changed

  struct stat before {};
  ASSERT_EQ(stat(fifo_.c_str(), &before), 0);
  ASSERT_EQ(unlink(fifo_.c_str()), 0);
  makeFifo(fifo_, 0666, 0, 0);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(value(metrics, "ipc_endpoint_replaced_total", ep), 1);
  EXPECT_EQ(checkOk(metrics, "peer"), 0);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(value(metrics, "ipc_endpoint_replaced_total", ep), 1);  // counted once

  const std::string config_path =
      endpointConfig("mi", fifo_, "fifo", server_comm, client_comm, "write");
  const auto [status, output] = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("the server (pid " + std::to_string(reader->pid()) +
                                ") holds the previous file (inode " +
                                std::to_string(before.st_ino) + ", now deleted) open"));
  EXPECT_THAT(output, HasSubstr("removed and replaced while the server ran"));

  // The server restarts on the new FIFO: no replacement, however different the file.
  reader->stop();
  reader = startReader(fifo_, server_comm);
  ASSERT_EQ(chmod(fifo_.c_str(), 0600), 0);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  metrics = collect(fifo_, EndpointType::kFifo, client_comm, EndpointAccess::kWrite, server_comm);
  EXPECT_EQ(value(metrics, "ipc_endpoint_replaced_total", ep), 1);
}

// path_safe: a directory others may write without the sticky bit, and a symlinked directory
// someone else owns, fail naming the component; a root-owned symlink passes and is named.
TEST_F(EndpointsE2eTest, EndpointUnderAnUnsafeDirectory) {
  const std::string open_dir = dir_ + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  const std::string fifo = open_dir + "/fifo";
  makeFifo(fifo, 0600, kClientUid, kClientGid);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  auto reader = startReader(fifo, uniqueComm("srv"));

  auto metrics = collect(fifo, EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "path_safe"), 0);
  EXPECT_EQ(checkOk(metrics, "peer"), 1);
  EXPECT_EQ(up(metrics), 1);  // interceptable, but reachable today
  auto [status, output] = diagnose(fifo + " --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("reachable, but others could swap it (path_safe)"));
  EXPECT_THAT(output, HasSubstr("✗ path_safe"));
  EXPECT_THAT(output, HasSubstr(open_dir + " is a directory every user may write (mode 0777, "
                                           "no sticky bit)"));
  EXPECT_THAT(output, HasSubstr("/run/<service>/"));

  // The sticky bit makes it safe: no one may rename or remove another's entry.
  ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);
  metrics = collect(fifo, EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "path_safe"), 1);
  EXPECT_EQ(up(metrics), 1);

  // A symlinked directory owned by another user.
  const std::string real = dir_ + "/real";
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  const std::string real_fifo = real + "/fifo";
  makeFifo(real_fifo, 0600, kClientUid, kClientGid);
  auto reader2 = startReader(real_fifo, uniqueComm("srv"));
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  ASSERT_EQ(lchown(link.c_str(), 65534, 65534), 0);
  metrics = collect(link + "/fifo", EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "path_safe"), 0);
  std::tie(status, output) = diagnose(link + "/fifo --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr(link + " is a symlink owned by nobody"));

  ASSERT_EQ(lchown(link.c_str(), 0, 0), 0);
  metrics = collect(link + "/fifo", EndpointType::kFifo, client_comm);
  EXPECT_EQ(checkOk(metrics, "path_safe"), 1);
  std::tie(status, output) = diagnose(link + "/fifo --as-pid " + std::to_string(client->pid()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("through " + link + " (a symlink of root)"));
}

// The server found through its pid file: the umask check reports its umask, and a private
// /tmp of the client is compared with the server's mount namespace.
TEST_F(EndpointsE2eTest, ServerFoundThroughItsPidFile) {
  makeFifo(fifo_, 0660, 0, kSharedGid);
  auto reader = std::make_unique<TestProcess>(uniqueComm("srv"), [this] {
    umask(027);
    return open(fifo_.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : errno;
  });
  ASSERT_TRUE(reader->ready());
  const std::string pid_file = dir_ + "/server.pid";
  std::ofstream(pid_file) << reader->pid() << "\n";
  const std::string config_path = dir_ + "/ipcwatch.yaml";
  std::ofstream(config_path) << "endpoints:\n  - name: mi\n    path: " << fifo_
                             << "\n    server: { pid_file: " << pid_file << " }\n"
                             << "    clients:\n      - { name: panel, user: \"61234:61300\" }\n";
  const auto [status, output] = diagnose("--endpoint mi --config " + config_path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("✓ umask_mode  server pid " + std::to_string(reader->pid()) +
                                " umask 027; endpoint mode 0660"));
  EXPECT_THAT(output, HasSubstr("user 61234, uid 61234 gid 61300"));
  EXPECT_THAT(output, HasSubstr("(the agent's namespaces)"));

  reader->stop();
  const auto [status2, output2] = diagnose("--endpoint mi --config " + config_path + " --json");
  EXPECT_EQ(status2, 1) << output2;
  EXPECT_THAT(output2, HasSubstr("\"name\":\"peer\",\"status\":\"fail\""));
  EXPECT_THAT(output2, HasSubstr("\"reachable\":false"));
}

// The real agent: the collector is in the table, the series change when the reader dies, and
// the exposition passes promtool.
TEST_F(EndpointsE2eTest, AgentExportsEndpointSeries) {
  makeFifo(fifo_, 0600, kClientUid, kClientGid);
  const std::string reader_comm = uniqueComm("srv");
  auto reader = startReader(fifo_, reader_comm);
  const std::string client_comm = uniqueComm("cli");
  auto client = startClient(client_comm);
  AgentProcess agent(
      "web:\n  listen_address: \"127.0.0.1:0\"\n"
      "probes:\n  broken_pipe:\n    enabled: false\n  sigpipe:\n    enabled: false\n"
      "  fifo_open:\n    enabled: false\n  unix_sock:\n    enabled: false\n"
      "endpoints:\n  - name: mi\n    path: " +
      fifo_ +
      "\n    type: fifo\n"
      "    server: { process: " +
      reader_comm +
      " }\n"
      "    clients:\n      - name: panel\n        process: " +
      client_comm +
      "\n"
      "        user: nobody\n        access: write\n");
  const int port = agent.waitForPort(10s);
  ASSERT_GT(port, 0) << agent.log();
  const std::map<std::string, std::string> labels = {{"endpoint", "mi"}, {"client", "panel"}};
  auto metrics = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  auto samples = parseExposition(metrics->body);
  EXPECT_EQ(findSample(samples, "ipcwatch_collector_success", {{"collector", "endpoints"}}), 1);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_up", labels), 1);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_peers", {{"endpoint", "mi"}}), 1);
  const auto last_ok_series =
      findSample(samples, "ipc_endpoint_last_ok_timestamp_seconds", labels);
  ASSERT_TRUE(last_ok_series) << metrics->body;
  const double last_ok = *last_ok_series;
  EXPECT_GT(last_ok, 1.6e9);
  const std::string file = dir_ + "/metrics.prom";
  std::ofstream(file) << metrics->body;
  const auto [code, output] = runCommand("promtool check metrics < " + file);
  EXPECT_EQ(code, 0) << output;

  reader->stop();
  metrics = httpRequest(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  samples = parseExposition(metrics->body);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_up", labels), 0);
  auto check_labels = labels;
  check_labels["check"] = "peer";
  EXPECT_EQ(findSample(samples, "ipc_endpoint_check_ok", check_labels), 0);
  check_labels["check"] = "permission";
  EXPECT_EQ(findSample(samples, "ipc_endpoint_check_ok", check_labels), 1);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_peers", {{"endpoint", "mi"}}), 0);
  EXPECT_EQ(findSample(samples, "ipc_endpoint_last_ok_timestamp_seconds", labels), last_ok);
}

TEST_F(EndpointsE2eTest, CheckConfigRejectsBadEndpoints) {
  const std::string config_path = dir_ + "/bad.yaml";
  std::ofstream(config_path)
      << "endpoints:\n  - name: mi\n    path: tmp/fifo\n    type: pipe\n"
         "    clients:\n      - name: panel\n        user: no_such_user_xyz\n";
  const auto [status, output] =
      runCommand(std::string(IPCWATCH_BINARY) + " check-config " + config_path);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output,
              HasSubstr(config_path + ":3:11: endpoints[0].path: expected an absolute path"));
  EXPECT_THAT(output, HasSubstr(config_path + ":4:11: endpoints[0].type: 'pipe' is not one of"));
  EXPECT_THAT(output, HasSubstr(config_path + ":7:15: endpoints[0].clients[0].user: unknown user"));
}

}  // namespace
}  // namespace ipcwatch::testing
