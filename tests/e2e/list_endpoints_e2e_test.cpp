// End to end: `ipcwatch endpoints` lists the IPC endpoints the test makes — a FIFO with a
// reader and a writer, a path socket and an abstract one in a network namespace of its own, a
// POSIX message queue, a SysV segment — with their exact owners, modes, namespaces and holders,
// and its filters keep exactly what they name.
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr std::uint32_t kOwner = 61260;

std::string nsInodeOf(pid_t pid, const std::string& type) {
  struct stat st {};
  return stat(("/proc/" + std::to_string(pid) + "/ns/" + type).c_str(), &st) == 0
             ? std::to_string(st.st_ino)
             : "";
}

int listen(const std::string& name, bool abstract) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len = sizeof addr;
  if (abstract) {
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  } else {
    std::strncpy(addr.sun_path, name.c_str(), sizeof addr.sun_path - 1);
  }
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 4) != 0) {
    return errno;
  }
  return 0;
}

class ListEndpointsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (every process's descriptors, namespaces, other users)";
    }
    char tmpl[] = "/tmp/ipcwatch-list-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!mqueue_.empty()) {
      mq_unlink(mqueue_.c_str());
    }
    if (shm_id_ >= 0) {
      shmctl(shm_id_, IPC_RMID, nullptr);
    }
    if (!dir_.empty()) {
      runCommand("rm -rf '" + dir_ + "'");
    }
  }

  static std::pair<int, std::string> endpoints(const std::string& args) {
    return runCommand(std::string(IPCWATCH_BINARY) + " endpoints " + args + " 2>&1");
  }
  static json listed(const std::string& args) {
    const auto [status, output] = endpoints("--json " + args);
    EXPECT_EQ(status, 0) << output;
    json parsed = json::array();
    EXPECT_NO_THROW(parsed = json::parse(output)) << output;
    return parsed;
  }
  static const json* named(const json& list, const std::string& name) {
    for (const auto& entry : list) {
      if (entry["name"] == name) {
        return &entry;
      }
    }
    return nullptr;
  }
  static json holder(pid_t pid, const std::string& comm, const std::string& direction) {
    return {{"pid", pid}, {"comm", comm}, {"context", ""}, {"direction", direction}};
  }

  std::string dir_;
  std::string mqueue_;
  int shm_id_ = -1;
};

TEST_F(ListEndpointsE2E, ListsEachEndpointWithItsOwnerNamespaceAndHolders) {
  const std::string fifo = dir_ + "/mi_fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(chown(fifo.c_str(), kOwner, kOwner), 0);
  ASSERT_EQ(chmod(fifo.c_str(), 0640), 0);
  const std::string reader_comm = uniqueComm("rdr");
  HeldChild reader(reader_comm,
                   [&] { return open(fifo.c_str(), O_RDONLY | O_NONBLOCK) >= 0 ? 0 : errno; });
  ASSERT_TRUE(reader.ready());
  const std::string writer_comm = uniqueComm("wrt");
  HeldChild writer(writer_comm, [&] { return open(fifo.c_str(), O_WRONLY) >= 0 ? 0 : errno; });
  ASSERT_TRUE(writer.ready());

  const std::string sock = dir_ + "/api.sock";
  const std::string listener_comm = uniqueComm("lsn");
  HeldChild listener(listener_comm, [&] {
    const int err = listen(sock, false);
    return err != 0 ? err : chmod(sock.c_str(), 0660) == 0 ? 0 : errno;
  });
  ASSERT_TRUE(listener.ready());
  const std::string abstract = uniqueComm("ipcw-abs");
  const std::string abstract_comm = uniqueComm("abs");
  HeldChild abstract_listener(
      abstract_comm, [&] { return unshare(CLONE_NEWNET) != 0 ? errno : listen(abstract, true); });
  ASSERT_TRUE(abstract_listener.ready());

  mqueue_ = "/" + uniqueComm("ipcw-mq");
  mq_attr attr{};
  attr.mq_maxmsg = 4;
  attr.mq_msgsize = 64;
  const mqd_t mq = mq_open(mqueue_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0604, &attr);
  ASSERT_NE(mq, static_cast<mqd_t>(-1)) << std::strerror(errno);
  mq_close(mq);
  const key_t key = static_cast<key_t>(0x49570000 | (std::random_device{}() & 0xffff));
  const std::string creator_comm = uniqueComm("shm");
  HeldChild creator(creator_comm, [&] {
    return shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640) >= 0 ? 0 : errno;
  });
  ASSERT_TRUE(creator.ready());
  shm_id_ = shmget(key, 0, 0);
  char key_text[16];
  std::snprintf(key_text, sizeof key_text, "0x%08x", static_cast<unsigned>(key));

  const json all = listed("");
  const std::string own_mnt = nsInodeOf(getpid(), "mnt");
  const std::string own_net = nsInodeOf(getpid(), "net");
  const std::string own_ipc = nsInodeOf(getpid(), "ipc");

  const json* f = named(all, fifo);
  ASSERT_NE(f, nullptr) << all.dump(1);
  EXPECT_EQ((*f)["type"], "fifo");
  EXPECT_EQ((*f)["uid"], kOwner);
  EXPECT_EQ((*f)["gid"], kOwner);
  EXPECT_EQ((*f)["mode"], "0640");
  EXPECT_EQ((*f)["namespace"], (json{{"kind", "mnt"}, {"inode", std::stoull(own_mnt)}}));
  EXPECT_EQ((*f)["holders"], (json::array({holder(reader.pid(), reader_comm, "read"),
                                           holder(writer.pid(), writer_comm, "write")})));

  const json* s = named(all, sock);
  ASSERT_NE(s, nullptr) << all.dump(1);
  EXPECT_EQ((*s)["type"], "unix_stream");
  EXPECT_EQ((*s)["uid"], 0);
  EXPECT_EQ((*s)["mode"], "0660");
  EXPECT_EQ((*s)["namespace"], (json{{"kind", "net"}, {"inode", std::stoull(own_net)}}));
  EXPECT_EQ((*s)["holders"], json::array({holder(listener.pid(), listener_comm, "listen")}));

  const json* a = named(all, "@" + abstract);
  ASSERT_NE(a, nullptr) << all.dump(1);
  EXPECT_FALSE(a->contains("uid"));  // no file, no owner
  EXPECT_EQ(
      (*a)["namespace"],
      (json{{"kind", "net"}, {"inode", std::stoull(nsInodeOf(abstract_listener.pid(), "net"))}}));
  EXPECT_EQ((*a)["holders"],
            json::array({holder(abstract_listener.pid(), abstract_comm, "listen")}));

  const json* q = named(all, mqueue_);
  ASSERT_NE(q, nullptr) << all.dump(1);
  EXPECT_EQ((*q)["type"], "mqueue");
  EXPECT_EQ((*q)["mode"], "0604");
  EXPECT_EQ((*q)["namespace"], (json{{"kind", "ipc"}, {"inode", std::stoull(own_ipc)}}));

  const json* m = named(all, key_text);
  ASSERT_NE(m, nullptr) << all.dump(1);
  EXPECT_EQ((*m)["type"], "sysv_shm");
  EXPECT_EQ((*m)["mode"], "0640");
  EXPECT_EQ((*m)["holders"], json::array({holder(creator.pid(), creator_comm, "creator")}));

  // Each filter keeps exactly what it names.
  EXPECT_EQ(listed("--path " + dir_ + "/ --type fifo").size(), 1u);
  EXPECT_EQ(listed("--path " + dir_ + "/ --type unix")[0]["name"], sock);
  EXPECT_EQ(listed("--path " + dir_ + "/").size(), 2u);
  const json by_pid = listed("--pid " + std::to_string(writer.pid()));
  ASSERT_EQ(by_pid.size(), 1u);
  EXPECT_EQ(by_pid[0]["name"], fifo);
  EXPECT_EQ(listed("--type sysv_shm --pid " + std::to_string(creator.pid())).size(), 1u);
  EXPECT_EQ(listed("--path " + dir_ + "/ --context '*:ipcw_none_t:*'"), json::array());

  // The columns: one line per endpoint, the holders as pid/comm(direction).
  const auto [status, text] = endpoints("--path " + dir_ + "/");
  EXPECT_EQ(status, 0) << text;
  EXPECT_THAT(text, HasSubstr("TYPE"));
  EXPECT_THAT(text, HasSubstr(std::to_string(reader.pid()) + "/" + reader_comm + "(read)," +
                              std::to_string(writer.pid()) + "/" + writer_comm + "(write)"));
  EXPECT_THAT(text, HasSubstr(std::to_string(listener.pid()) + "/" + listener_comm + "(listen)"));
}

TEST_F(ListEndpointsE2E, BadFlagsExitTwoWithTheUsageAndNonRootExitsOne) {
  for (const char* args : {"--type pipe", "--pid abc", "--pid 0", "--path", "--as apache"}) {
    const auto [status, output] = endpoints(args);
    EXPECT_EQ(status, 2) << args << "\n" << output;
    EXPECT_THAT(output, HasSubstr("Usage:")) << args;
  }
  EXPECT_THAT(endpoints("--type pipe").second, HasSubstr("'pipe' is not one of fifo, unix"));
  const auto [status, output] = runCommand("setpriv --reuid 65534 --regid 65534 --clear-groups " +
                                           std::string(IPCWATCH_BINARY) + " endpoints 2>&1");
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("needs root"));
}

}  // namespace
}  // namespace ipcwatch::testing
