// End to end: the real ipcwatch binary reports the exact SysV and POSIX IPC objects a child
// creates in its own IPC namespace, and a POSIX shared memory object in /dev/shm.
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "child_process.h"

namespace ipcwatch::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kConfig = R"(
web:
  listen_address: "127.0.0.1:0"
probes:
  broken_pipe:
    enabled: false
  sigpipe:
    enabled: false
inventory:
  msg_queue_top_n: 1000
  posix_mqueue_top_n: 1000
  posix_shm_top_n: 1000
)";

// What the child made, sent back over a pipe.
struct Created {
  int ok = 0;
  int msqid = -1;
  pid_t orphan_creator = 0;
};

constexpr key_t kShmKey = 0x1e240;
constexpr key_t kMsgKey = 0x4242;
constexpr std::size_t kAttachedSize = 100000;
constexpr std::size_t kWorldSize = 65536;
constexpr std::size_t kOrphanSize = 3 * 4096 + 5;
constexpr const char* kMqueueName = "/ipcwatch-e2e";

bool writeSysctl(const char* path, const char* value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

struct TextMessage {
  long type;
  char text[64];
};

// Runs in the child, inside its new IPC namespace. Returns false when the kernel refused
// anything, so a wrong setup cannot pass as "nothing found".
bool createObjects(Created& created) {
  // The orphan: created by a grandchild that exits without anyone attaching.
  const pid_t grandchild = fork();
  if (grandchild == 0) {
    _exit(shmget(IPC_PRIVATE, kOrphanSize, IPC_CREAT | 0600) >= 0 ? 0 : 1);
  }
  int status = 0;
  if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild || status != 0) {
    return false;
  }
  created.orphan_creator = grandchild;

  const int attached = shmget(kShmKey, kAttachedSize, IPC_CREAT | 0600);
  if (attached < 0 || shmat(attached, nullptr, 0) == reinterpret_cast<void*>(-1)) {
    return false;
  }
  if (shmget(IPC_PRIVATE, kWorldSize, IPC_CREAT | 0666) < 0) {
    return false;
  }
  if (semget(0x5e5e, 5, IPC_CREAT | 0600) < 0 || semget(IPC_PRIVATE, 3, IPC_CREAT | 0604) < 0) {
    return false;
  }
  created.msqid = msgget(kMsgKey, IPC_CREAT | 0640);
  if (created.msqid < 0 || msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0) {
    return false;
  }
  TextMessage message{1, {}};
  for (const std::size_t size : {10, 20, 30}) {
    if (msgsnd(created.msqid, &message, size, IPC_NOWAIT) != 0) {
      return false;
    }
  }
  mq_attr attr{};
  attr.mq_maxmsg = 10;
  attr.mq_msgsize = 64;
  const mqd_t queue = mq_open(kMqueueName, O_CREAT | O_RDWR, 0600, &attr);
  if (queue == static_cast<mqd_t>(-1) || mq_send(queue, "seven..", 7, 0) != 0 ||
      mq_send(queue, "eleven.....", 11, 0) != 0) {
    return false;
  }
  // Limits are per namespace: these must show under this namespace only.
  return writeSysctl("/proc/sys/kernel/shmmni", "1234") &&
         writeSysctl("/proc/sys/kernel/sem", "250 32000 32 99") &&
         writeSysctl("/proc/sys/fs/mqueue/queues_max", "77");
}

// A child in a new IPC namespace holding its objects until the test is done with them.
class IpcNamespaceChild {
 public:
  IpcNamespaceChild() {
    int ready[2], done[2];
    if (pipe(ready) != 0 || pipe(done) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      close(done[1]);
      Created created;
      created.ok = unshare(CLONE_NEWIPC) == 0 && createObjects(created) ? 1 : 0;
      (void)!write(ready[1], &created, sizeof created);
      char byte;
      (void)!read(done[0], &byte, 1);  // EOF when the test is done (or died)
      _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    done_ = done[1];
    if (read(ready[0], &created_, sizeof created_) != sizeof created_) {
      created_.ok = 0;
    }
    close(ready[0]);
  }
  ~IpcNamespaceChild() {
    if (done_ >= 0) {
      close(done_);
    }
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);  // its namespace and every object in it go with it
    }
  }
  pid_t pid() const { return pid_; }
  const Created& created() const { return created_; }

 private:
  pid_t pid_ = -1;
  int done_ = -1;
  Created created_;
};

// The inode of a namespace of `pid` ("ipc", "mnt"), as the agent labels it.
std::string namespaceOf(pid_t pid, const std::string& type) {
  char target[64] = {};
  const std::string link = "/proc/" + std::to_string(pid) + "/ns/" + type;
  if (readlink(link.c_str(), target, sizeof target - 1) <= 0) {
    return "";
  }
  const std::string text = target;  // ipc:[4026532...]
  return text.substr(type.size() + 2, text.size() - type.size() - 3);
}

std::string ipcNamespaceOf(pid_t pid) {
  return namespaceOf(pid, "ipc");
}

// A POSIX shared memory object of ours in /dev/shm with exactly `pages` pages written.
class PosixShmObject {
 public:
  PosixShmObject(const std::string& name, std::size_t pages) : name_(name) {
    const int fd = shm_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    const std::size_t size = 1 << 20;  // the apparent size; only written pages are allocated
    ok_ = fd >= 0 && ftruncate(fd, size) == 0;
    if (ok_) {
      void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      ok_ = map != MAP_FAILED;
      if (ok_) {
        std::memset(map, 'x', pages * 4096);
        munmap(map, size);
      }
    }
    if (fd >= 0) {
      close(fd);
    }
  }
  ~PosixShmObject() { shm_unlink(name_.c_str()); }
  bool ok() const { return ok_; }

 private:
  std::string name_;
  bool ok_ = false;
};

class IpcInventoryE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to enter other IPC namespaces; CI runs this as root";
    }
  }

  // Scrapes until `name{labels}` appears or the deadline passes.
  static std::map<std::string, double> scrapeUntil(
      int port, const std::string& name, const std::map<std::string, std::string>& labels) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    std::map<std::string, double> samples;
    while (std::chrono::steady_clock::now() < end) {
      const auto response = httpRequest(port, "GET", "/metrics");
      if (response && response->status == 200) {
        samples = parseExposition(response->body);
        if (samples.contains(sampleKey(name, labels))) {
          break;
        }
      }
      std::this_thread::sleep_for(50ms);  // polling interval, not a synchronisation
    }
    return samples;
  }
};

// The sample's value; a missing sample fails the test (0 is a value here, not absence).
double valueOf(const std::map<std::string, double>& samples, const std::string& name,
               const std::map<std::string, std::string>& labels) {
  const auto it = samples.find(sampleKey(name, labels));
  EXPECT_NE(it, samples.end()) << "missing " << sampleKey(name, labels);
  return it == samples.end() ? -1 : it->second;
}

TEST_F(IpcInventoryE2E, ReportsExactObjectsOfAChildsIpcNamespace) {
  IpcNamespaceChild child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(child.created().ok, 1) << "the child could not create its IPC objects";
  const std::string ns = ipcNamespaceOf(child.pid());
  ASSERT_FALSE(ns.empty());
  ASSERT_NE(ns, ipcNamespaceOf(getpid()));
  const std::string shm_name = uniqueComm("ipcw-shm");
  PosixShmObject shm("/" + shm_name, 5);
  ASSERT_TRUE(shm.ok());

  AgentProcess agent(kConfig);
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto s = scrapeUntil(port, "ipc_sysv_shm_segments", {{"ipcns", ns}});
  const std::map<std::string, std::string> in_ns = {{"ipcns", ns}};

  EXPECT_EQ(valueOf(s, "ipc_sysv_shm_segments", in_ns), 3);
  EXPECT_EQ(valueOf(s, "ipc_sysv_shm_bytes", in_ns), kAttachedSize + kWorldSize + kOrphanSize);
  EXPECT_EQ(valueOf(s, "ipc_sysv_shm_attachments", in_ns), 1);
  // The world-readable segment has no attachment either, but its creator (the child) lives.
  EXPECT_EQ(valueOf(s, "ipc_sysv_shm_orphaned_segments", in_ns), 1);
  EXPECT_EQ(valueOf(s, "ipc_sysv_shm_orphaned_bytes", in_ns), kOrphanSize);
  EXPECT_EQ(valueOf(s, "ipc_sysv_sem_arrays", in_ns), 2);
  EXPECT_EQ(valueOf(s, "ipc_sysv_semaphores", in_ns), 8);
  EXPECT_EQ(valueOf(s, "ipc_sysv_msg_queues", in_ns), 2);
  EXPECT_EQ(valueOf(s, "ipc_sysv_msg_queue_messages", in_ns), 3);
  EXPECT_EQ(valueOf(s, "ipc_sysv_msg_queue_bytes", in_ns), 60);
  EXPECT_EQ(valueOf(s, "ipc_sysv_msg_queue_top_bytes",
                    {{"ipcns", ns},
                     {"id", std::to_string(child.created().msqid)},
                     {"key", "0x00004242"},
                     {"owner", "root"}}),
            60);
  EXPECT_EQ(valueOf(s, "ipc_sysv_msg_queue_top_messages",
                    {{"ipcns", ns},
                     {"id", std::to_string(child.created().msqid)},
                     {"key", "0x00004242"},
                     {"owner", "root"}}),
            3);
  EXPECT_EQ(valueOf(s, "ipc_sysv_world_accessible_objects", {{"ipcns", ns}, {"object", "shm"}}), 1);
  EXPECT_EQ(valueOf(s, "ipc_sysv_world_accessible_objects", {{"ipcns", ns}, {"object", "sem"}}), 1);
  EXPECT_EQ(valueOf(s, "ipc_sysv_world_accessible_objects", {{"ipcns", ns}, {"object", "msg"}}), 0);
  EXPECT_EQ(valueOf(s, "ipc_sysv_limit", {{"ipcns", ns}, {"resource", "shmmni"}}), 1234);
  EXPECT_EQ(valueOf(s, "ipc_sysv_limit", {{"ipcns", ns}, {"resource", "semmni"}}), 99);
  EXPECT_EQ(valueOf(s, "ipc_sysv_limit", {{"ipcns", ns}, {"resource", "semopm"}}), 32);

  EXPECT_EQ(valueOf(s, "ipc_posix_mqueues", in_ns), 1);
  EXPECT_EQ(valueOf(s, "ipc_posix_mqueue_bytes", in_ns), 18);
  EXPECT_EQ(valueOf(s, "ipc_posix_mqueue_top_bytes", {{"ipcns", ns}, {"name", "ipcwatch-e2e"}}),
            18);
  EXPECT_EQ(valueOf(s, "ipc_posix_mqueue_limit", {{"ipcns", ns}, {"resource", "queues_max"}}), 77);
  EXPECT_EQ(valueOf(s, "ipc_posix_shm_top_bytes",
                    {{"mntns", namespaceOf(getpid(), "mnt")}, {"name", shm_name}}),
            5 * 4096);

  // The agent's own namespace is reported too, with its own (default) limits.
  const std::map<std::string, std::string> host = {{"ipcns", ipcNamespaceOf(getpid())}};
  EXPECT_GE(valueOf(s, "ipc_sysv_shm_segments", host), 0);
  EXPECT_NE(valueOf(s, "ipc_sysv_limit", {{"ipcns", host.at("ipcns")}, {"resource", "shmmni"}}),
            1234);
  EXPECT_EQ(valueOf(s, "ipcwatch_collector_success", {{"collector", "sysv_ipc"}}), 1);
  EXPECT_EQ(valueOf(s, "ipcwatch_collector_success", {{"collector", "posix_ipc"}}), 1);
  EXPECT_EQ(valueOf(s, "ipcwatch_parse_errors_total", {{"collector", "sysv_ipc"}}), 0);
}

TEST_F(IpcInventoryE2E, NamespaceDisappearsWithItsLastProcess) {
  std::string ns;
  {
    IpcNamespaceChild child;
    ASSERT_EQ(child.created().ok, 1);
    ns = ipcNamespaceOf(child.pid());
  }
  AgentProcess agent(kConfig);
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto s = scrapeUntil(port, "ipcwatch_collector_success", {{"collector", "sysv_ipc"}});
  EXPECT_EQ(valueOf(s, "ipcwatch_collector_success", {{"collector", "sysv_ipc"}}), 1);
  EXPECT_FALSE(s.contains(sampleKey("ipc_sysv_shm_segments", {{"ipcns", ns}})));
}

// A mount namespace with a /dev/shm of its own (a container's tmpfs) is read as its processes
// see it, and labelled with its namespace; one that shares the host's /dev/shm is not counted
// twice.
TEST_F(IpcInventoryE2E, PosixShmOfEveryMountNamespaceWithItsOwnDevShm) {
  const std::string name = uniqueComm("ipcw-own");
  constexpr int kPages = 3;
  auto own = std::make_unique<HeldChild>(uniqueComm("shmns"), [name] {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") != 0) {
      return errno;
    }
    const int fd = open(("/dev/shm/" + name).c_str(), O_CREAT | O_WRONLY, 0600);
    const std::string page(4096, 'x');
    for (int i = 0; i < kPages; ++i) {
      if (write(fd, page.data(), page.size()) != static_cast<ssize_t>(page.size())) {
        return EIO;
      }
    }
    const int sem = open("/dev/shm/sem.ipcw", O_CREAT | O_WRONLY, 0600);
    return fd >= 0 && sem >= 0 ? 0 : EIO;
  });
  ASSERT_TRUE(own->ready()) << own->result();
  auto shared = std::make_unique<HeldChild>(uniqueComm("shared"), [] {
    return unshare(CLONE_NEWNS) == 0 ? 0 : errno;  // the host's /dev/shm, seen through a copy
  });
  ASSERT_TRUE(shared->ready());
  const std::string own_ns = namespaceOf(own->pid(), "mnt");
  const std::string shared_ns = namespaceOf(shared->pid(), "mnt");
  ASSERT_NE(own_ns, namespaceOf(getpid(), "mnt"));
  ASSERT_NE(shared_ns, namespaceOf(getpid(), "mnt"));

  AgentProcess agent(kConfig);
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto s = scrapeUntil(port, "ipc_posix_shm_files", {{"mntns", own_ns}});
  EXPECT_EQ(valueOf(s, "ipc_posix_shm_files", {{"mntns", own_ns}}), 1);
  EXPECT_EQ(valueOf(s, "ipc_posix_shm_bytes", {{"mntns", own_ns}}), kPages * 4096);
  EXPECT_EQ(valueOf(s, "ipc_posix_named_semaphores", {{"mntns", own_ns}}), 1);
  EXPECT_EQ(valueOf(s, "ipc_posix_shm_top_bytes", {{"mntns", own_ns}, {"name", name}}),
            kPages * 4096);
  // The host's own, under the agent's namespace; the shared copy adds nothing.
  EXPECT_GE(valueOf(s, "ipc_posix_shm_files", {{"mntns", namespaceOf(getpid(), "mnt")}}), 0);
  EXPECT_FALSE(s.contains(sampleKey("ipc_posix_shm_files", {{"mntns", shared_ns}})));
  EXPECT_FALSE(s.contains(sampleKey("ipc_posix_shm_top_bytes",
                                    {{"mntns", namespaceOf(getpid(), "mnt")}, {"name", name}})));
}

TEST_F(IpcInventoryE2E, CollectorsCanBeSwitchedOff) {
  AgentProcess agent(std::string(kConfig) + "collectors:\n  sysv_ipc: false\n  posix_ipc: false\n");
  const int port = agent.waitForPort(30s);
  ASSERT_NE(port, 0) << agent.log();
  const auto s = scrapeUntil(port, "ipcwatch_collector_success", {{"collector", "self"}});
  EXPECT_EQ(valueOf(s, "ipcwatch_collector_success", {{"collector", "self"}}), 1);
  for (const auto& [key, value] : s) {
    EXPECT_FALSE(key.starts_with("ipc_sysv_") || key.starts_with("ipc_posix_")) << key;
  }
  EXPECT_FALSE(s.contains(sampleKey("ipcwatch_collector_success", {{"collector", "sysv_ipc"}})));
}

}  // namespace
}  // namespace ipcwatch::testing
