// The host iterators against the real kernel (root only): exact facts for this process and for
// children of its own, compared with what stat(2) and /proc report for them.
#include "inventory/bpf_host_iterator.h"
#include "child_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace ipcwatch {
namespace {

using Kind = KernelOpenFile::Kind;

constexpr auto kDeadline = std::chrono::seconds(5);

using ipcwatch::testing::HeldChild;

// A directory of its own under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/ipcw_host_iter_XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<KernelOpenFile> filesOf(const std::vector<KernelOpenFile>& files, pid_t pid, int fd) {
  std::vector<KernelOpenFile> out;
  for (const auto& file : files) {
    if (file.pid == static_cast<std::uint32_t>(pid) && file.fd == fd) {
      out.push_back(file);
    }
  }
  return out;
}

// Polls openFiles() until pid's descriptor fd shows up (or the deadline passes).
std::vector<KernelOpenFile> waitForFile(const BpfHostIterator& iter, pid_t pid, int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  for (;;) {
    auto found = filesOf(iter.openFiles(), pid, fd);
    if (!found.empty() || std::chrono::steady_clock::now() > deadline) {
      return found;
    }
    std::this_thread::yield();
  }
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::size_t threadCount(pid_t pid) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    ++count;
  }
  return count;
}

// Each walk of the descriptor tables must pass every file test: the fixture runs them with the
// bpf_loop_btf, the bpf_loop and the task_file walk.
class BpfHostIteratorTest : public ::testing::TestWithParam<FileWalk> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to load BPF iterators; CI runs this as root";
    }
    std::string why;
    iter_ = BpfHostIterator::create(true, why, GetParam());
    if (!iter_) {
      GTEST_SKIP() << "BPF host iterators unavailable on this kernel: " << why;
    }
    ASSERT_STREQ(iter_->fileWalk(), fileWalkName(GetParam()));
    ASSERT_FALSE(dir_.path().empty());
    fifo_ = dir_.path() + "/fifo";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
    ASSERT_EQ(stat(fifo_.c_str(), &fifo_stat_), 0);
  }

  void expectFifo(const KernelOpenFile& file, bool read, bool write) const {
    EXPECT_EQ(file.kind, Kind::kFifo);
    EXPECT_EQ(file.read, read);
    EXPECT_EQ(file.write, write);
    EXPECT_EQ(file.dev, fifo_stat_.st_dev)
        << major(file.dev) << ":" << minor(file.dev) << " vs " << major(fifo_stat_.st_dev) << ":"
        << minor(fifo_stat_.st_dev);
    EXPECT_EQ(file.ino, fifo_stat_.st_ino);
  }

  std::unique_ptr<BpfHostIterator> iter_;
  TempDir dir_;
  std::string fifo_;
  struct stat fifo_stat_ {};
};

TEST_P(BpfHostIteratorTest, ReportsThisProcessWithCredentialsAndNamespaces) {
  char comm[17] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, comm), 0);
  std::optional<KernelProcess> self;
  std::size_t self_count = 0;
  for (const auto& process : iter_->processes()) {
    if (process.pid == static_cast<std::uint32_t>(getpid())) {
      self = process;
      ++self_count;
    }
  }
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self_count, 1u);
  EXPECT_EQ(self->comm, comm);
  EXPECT_EQ(self->ppid, static_cast<std::uint32_t>(getppid()));
  EXPECT_EQ(self->euid, geteuid());
  EXPECT_EQ(self->egid, getegid());
  EXPECT_EQ(self->mnt_ns, inodeOf("/proc/self/ns/mnt"));
  EXPECT_EQ(self->net_ns, inodeOf("/proc/self/ns/net"));
  EXPECT_EQ(self->ipc_ns, inodeOf("/proc/self/ns/ipc"));
  EXPECT_EQ(self->pid_ns, inodeOf("/proc/self/ns/pid"));
}

// The number in a sysctl file such as /proc/sys/fs/mqueue/msg_max, or -1.
long sysctlValue(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) {
    return -1;
  }
  long value = -1;
  if (std::fscanf(file, "%ld", &value) != 1) {
    value = -1;
  }
  std::fclose(file);
  return value;
}

// The mqueue limits come with each process, as the sysctls inside its IPC namespace show them:
// for this process, and for a child in an IPC namespace of its own with limits set apart.
TEST_P(BpfHostIteratorTest, ReportsTheMqueueLimitsOfEachProcessIpcNamespace) {
  const long queues_max = sysctlValue("/proc/sys/fs/mqueue/queues_max");
  if (queues_max < 0) {
    GTEST_SKIP() << "no POSIX message queues in this kernel (/proc/sys/fs/mqueue)";
  }
  HeldChild child("ipcw_mq_limits", [] {
    if (unshare(CLONE_NEWIPC) != 0) {
      return -1;
    }
    for (const auto& [name, value] :
         {std::pair{"queues_max", "77"}, {"msg_max", "13"}, {"msgsize_max", "4099"}}) {
      FILE* file = std::fopen((std::string("/proc/sys/fs/mqueue/") + name).c_str(), "we");
      if (file == nullptr) {
        return -1;
      }
      const bool written = std::fputs(value, file) >= 0;
      if (std::fclose(file) != 0 || !written) {
        return -1;
      }
    }
    return 0;
  });
  ASSERT_TRUE(child.ready());
  std::optional<MqueueLimits> own;
  std::optional<MqueueLimits> childs;
  for (const auto& process : iter_->processes()) {
    if (process.pid == static_cast<std::uint32_t>(getpid())) {
      own = process.mqueue_limits;
    } else if (process.pid == static_cast<std::uint32_t>(child.pid())) {
      childs = process.mqueue_limits;
    }
  }
  const auto u32 = [](long value) { return static_cast<std::uint32_t>(value); };
  EXPECT_EQ(own, (MqueueLimits{u32(queues_max), u32(sysctlValue("/proc/sys/fs/mqueue/msg_max")),
                               u32(sysctlValue("/proc/sys/fs/mqueue/msgsize_max"))}));
  EXPECT_EQ(childs, (MqueueLimits{77, 13, 4099}));
}

TEST_P(BpfHostIteratorTest, ReportsOnlyLeadersOfMultiThreadedProcesses) {
  HeldChild child("ipcw_mt_proc", [] {
    for (int i = 0; i < 4; ++i) {
      std::thread([] {
        for (;;) {
          pause();
        }
      }).detach();
    }
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(child.result(), 0);
  ASSERT_EQ(threadCount(child.pid()), 5u);
  std::size_t seen = 0;
  for (const auto& process : iter_->processes()) {
    if (process.pid == static_cast<std::uint32_t>(child.pid())) {
      EXPECT_EQ(process.comm, "ipcw_mt_proc");
      EXPECT_EQ(process.ppid, static_cast<std::uint32_t>(getpid()));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 1u);
}

TEST_P(BpfHostIteratorTest, ReportsFifoReaderAndWriterChildren) {
  const std::string path = fifo_;
  HeldChild reader("ipcw_fifo_rd", [&path] { return open(path.c_str(), O_RDONLY | O_NONBLOCK); });
  ASSERT_GE(reader.result(), 0);
  // The reader holds the FIFO open, so a blocking write-open completes at once.
  HeldChild writer("ipcw_fifo_wr", [&path] { return open(path.c_str(), O_WRONLY); });
  ASSERT_GE(writer.result(), 0);

  const auto read_side = waitForFile(*iter_, reader.pid(), reader.result());
  ASSERT_EQ(read_side.size(), 1u);
  expectFifo(read_side[0], true, false);

  const auto write_side = waitForFile(*iter_, writer.pid(), writer.result());
  ASSERT_EQ(write_side.size(), 1u);
  expectFifo(write_side[0], false, true);
}

// A container's root is usually overlayfs: a FIFO there, from the upper layer or only in the
// lower one, must carry the dev/ino that stat() of its path shows, or the checks that match
// FIFOs by identity would see no reader for it.
TEST_P(BpfHostIteratorTest, FifosOnOverlayfsMatchStatOfTheirPath) {
  const std::string base = dir_.path();
  for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) {
    ASSERT_EQ(mkdir((base + sub).c_str(), 0700), 0);
  }
  ASSERT_EQ(mkfifo((base + "/lower/from_lower").c_str(), 0600), 0);
  const std::string options =
      "lowerdir=" + base + "/lower,upperdir=" + base + "/upper,workdir=" + base + "/work";
  if (mount("overlay", (base + "/merged").c_str(), "overlay", 0, options.c_str()) != 0) {
    GTEST_SKIP() << "cannot mount an overlayfs here: " << std::strerror(errno);
  }
  const std::string merged = base + "/merged";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }  // before the directory is removed
  } unmount{merged};
  ASSERT_EQ(mkfifo((merged + "/from_upper").c_str(), 0600), 0);
  for (const std::string name : {"from_lower", "from_upper"}) {
    const std::string path = merged + "/" + name;
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    HeldChild reader("ipcw_ovl_rd", [&path] { return open(path.c_str(), O_RDONLY | O_NONBLOCK); });
    ASSERT_GE(reader.result(), 0);
    const auto found = waitForFile(*iter_, reader.pid(), reader.result());
    ASSERT_EQ(found.size(), 1u) << name;
    EXPECT_EQ(found[0].dev, st.st_dev) << name;
    EXPECT_EQ(found[0].ino, st.st_ino) << name;
  }
}

TEST_P(BpfHostIteratorTest, ThreadsSharingTheFileTableAreReportedOnce) {
  const std::string path = fifo_;
  HeldChild child("ipcw_fifo_mt", [&path] {
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK);
    for (int i = 0; i < 4; ++i) {
      std::thread([] {
        for (;;) {
          pause();
        }
      }).detach();
    }
    return fd;
  });
  ASSERT_GE(child.result(), 0);
  ASSERT_EQ(threadCount(child.pid()), 5u);
  ASSERT_EQ(waitForFile(*iter_, child.pid(), child.result()).size(), 1u);
  std::size_t fifo_records = 0;
  for (const auto& file : iter_->openFiles()) {
    if (file.pid == static_cast<std::uint32_t>(child.pid()) && file.kind == Kind::kFifo &&
        file.ino == fifo_stat_.st_ino) {
      ++fifo_records;
    }
  }
  EXPECT_EQ(fifo_records, 1u);
}

// After unshare(CLONE_NEWPID) only the children's pid namespace changes: the record must name
// the process's own one, as /proc/PID/ns/pid does, and follow a new network namespace.
TEST_P(BpfHostIteratorTest, ReportsOwnNamespacesOfAChildThatUnshared) {
  HeldChild child("ipcw_unshare", [] { return unshare(CLONE_NEWPID | CLONE_NEWNET); });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(child.result(), 0);
  const std::string ns = "/proc/" + std::to_string(child.pid()) + "/ns/";
  ASSERT_NE(inodeOf(ns + "pid"), inodeOf(ns + "pid_for_children"));
  ASSERT_NE(inodeOf(ns + "net"), inodeOf("/proc/self/ns/net"));
  std::optional<KernelProcess> found;
  for (const auto& process : iter_->processes()) {
    if (process.pid == static_cast<std::uint32_t>(child.pid())) {
      found = process;
    }
  }
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pid_ns, inodeOf(ns + "pid"));
  EXPECT_EQ(found->net_ns, inodeOf(ns + "net"));
  EXPECT_EQ(found->mnt_ns, inodeOf(ns + "mnt"));
  EXPECT_EQ(found->ipc_ns, inodeOf(ns + "ipc"));
}

TEST_P(BpfHostIteratorTest, AnonymousPipesAreNotReported) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const auto files = iter_->openFiles();
  EXPECT_TRUE(filesOf(files, getpid(), fds[0]).empty());
  EXPECT_TRUE(filesOf(files, getpid(), fds[1]).empty());
  close(fds[0]);
  close(fds[1]);
}

TEST_P(BpfHostIteratorTest, ReportsBoundUnixSocketBySocketInode) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir_.path() + "/sock";
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  struct stat st {};
  ASSERT_EQ(stat(("/proc/self/fd/" + std::to_string(fd)).c_str(), &st), 0);

  const auto found = waitForFile(*iter_, getpid(), fd);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, Kind::kUnixSocket);
  EXPECT_EQ(found[0].ino, st.st_ino);
  EXPECT_TRUE(found[0].read && found[0].write);

  std::string why;
  const auto fifos_only = BpfHostIterator::create(false, why, GetParam());
  ASSERT_NE(fifos_only, nullptr) << why;
  EXPECT_TRUE(filesOf(fifos_only->openFiles(), getpid(), fd).empty());
  close(fd);
}

// Limited to the inodes asked for, the walk reports those sockets (and every FIFO) and no
// other socket; the next unfiltered walk reports them all again.
TEST_P(BpfHostIteratorTest, SocketWalkLimitedToTheInodesAskedFor) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  struct stat wanted {};
  struct stat other {};
  ASSERT_EQ(fstat(pair[0], &wanted), 0);
  ASSERT_EQ(fstat(pair[1], &other), 0);
  const int reader = open(fifo_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);

  const auto limited = iter_->openFiles({static_cast<std::uint64_t>(wanted.st_ino)});
  const auto mine = filesOf(limited, getpid(), pair[0]);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].ino, wanted.st_ino);
  EXPECT_TRUE(filesOf(limited, getpid(), pair[1]).empty());
  ASSERT_EQ(filesOf(limited, getpid(), reader).size(), 1u);  // FIFOs are never filtered
  std::size_t sockets = 0;
  for (const auto& file : limited) {
    sockets += file.kind == Kind::kUnixSocket ? 1 : 0;
  }
  EXPECT_EQ(sockets, 1u);  // of the whole host

  const auto next = iter_->openFiles({static_cast<std::uint64_t>(other.st_ino)});
  EXPECT_TRUE(filesOf(next, getpid(), pair[0]).empty());
  EXPECT_EQ(filesOf(next, getpid(), pair[1]).size(), 1u);
  EXPECT_EQ(filesOf(iter_->openFiles(), getpid(), pair[0]).size(), 1u);
  close(reader);
  close(pair[0]);
  close(pair[1]);
}

// An O_PATH descriptor neither reads nor writes: a FIFO opened so is reported with no access,
// and a socket file opened so is no socket at all (its inode is the filesystem's).
TEST_P(BpfHostIteratorTest, OPathDescriptorsAreNoReadersWritersOrSockets) {
  const int fifo_fd = open(fifo_.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(fifo_fd, 0);
  const int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir_.path() + "/opath_sock";
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  const int sock_path_fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(sock_path_fd, 0);

  const auto found = waitForFile(*iter_, getpid(), fifo_fd);
  ASSERT_EQ(found.size(), 1u);
  expectFifo(found[0], false, false);
  EXPECT_TRUE(filesOf(iter_->openFiles(), getpid(), sock_path_fd).empty());
  close(sock_path_fd);
  close(sock);
  close(fifo_fd);
}

TEST_P(BpfHostIteratorTest, EachCallIsAFreshPass) {
  const std::string path = fifo_;
  std::optional<pid_t> gone;
  {
    HeldChild reader("ipcw_fifo_tmp",
                     [&path] { return open(path.c_str(), O_RDONLY | O_NONBLOCK); });
    ASSERT_GE(reader.result(), 0);
    ASSERT_EQ(waitForFile(*iter_, reader.pid(), reader.result()).size(), 1u);
    gone = reader.pid();
  }
  for (const auto& file : iter_->openFiles()) {
    EXPECT_NE(file.pid, static_cast<std::uint32_t>(*gone));
  }
}

INSTANTIATE_TEST_SUITE_P(FileWalks, BpfHostIteratorTest,
                         ::testing::Values(FileWalk::kBpfLoopBtf, FileWalk::kBpfLoop,
                                           FileWalk::kTaskFile),
                         [](const ::testing::TestParamInfo<FileWalk>& info) {
                           return info.param == FileWalk::kBpfLoopBtf ? "BpfLoopBtf"
                                  : info.param == FileWalk::kBpfLoop  ? "BpfLoop"
                                                                      : "TaskFile";
                         });

// The record set of `pids` from one walk, in an order that makes two walks comparable.
using FileKey = std::tuple<std::uint32_t, std::int32_t, int, bool, bool, dev_t, ino_t>;

std::vector<FileKey> recordsOf(const BpfHostIterator& iter, const std::set<std::uint32_t>& pids) {
  std::vector<FileKey> out;
  for (const auto& f : iter.openFiles()) {
    if (pids.count(f.pid) != 0) {
      out.emplace_back(f.pid, f.fd, static_cast<int>(f.kind), f.read, f.write, f.dev, f.ino);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Opens `path` with `flags` at descriptor `at` (dup2), or -1.
int openAt(const std::string& path, int flags, int at) {
  const int fd = open(path.c_str(), flags);
  if (fd < 0 || fd == at) {
    return fd;
  }
  const int moved = dup2(fd, at);
  close(fd);
  return moved;
}

// `walk` and the task_file walk on the live host, for children of this test only: 50 FIFO
// holders with every access mode, and one process whose table has grown past 1000 slots, with
// FIFOs on both sides of bitmap word boundaries and one at descriptor 1500.
void expectSameRecordsAsTaskFile(FileWalk walk) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to load BPF iterators; CI runs this as root";
  }
  std::string why;
  const auto loop = BpfHostIterator::create(true, why, walk);
  if (!loop) {
    GTEST_SKIP() << "no " << fileWalkName(walk) << " file walk on this kernel: " << why;
  }
  const auto task_file = BpfHostIterator::create(true, why, FileWalk::kTaskFile);
  ASSERT_NE(task_file, nullptr) << why;
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string sock_path = dir.path() + "/sock";

  std::set<std::uint32_t> pids;
  std::vector<std::unique_ptr<HeldChild>> children;
  static constexpr int kFlags[] = {O_RDONLY | O_NONBLOCK, O_RDWR, O_RDWR | O_NONBLOCK};
  for (int i = 0; i < 50; ++i) {
    const int flags = kFlags[i % 3];
    children.push_back(std::make_unique<HeldChild>(
        "ipcw_walk_" + std::to_string(i), [&fifo, flags] { return open(fifo.c_str(), flags); }));
    ASSERT_GE(children.back()->result(), 0);
    pids.insert(static_cast<std::uint32_t>(children.back()->pid()));
  }
  // A reader holds the FIFO open now, so blocking write-only opens complete at once.
  for (int i = 0; i < 5; ++i) {
    children.push_back(std::make_unique<HeldChild>(
        "ipcw_walk_wr" + std::to_string(i), [&fifo] { return open(fifo.c_str(), O_WRONLY); }));
    ASSERT_GE(children.back()->result(), 0);
    pids.insert(static_cast<std::uint32_t>(children.back()->pid()));
  }
  static constexpr int kHighFds[] = {63, 64, 127, 128, 1023, 1024, 1500};
  children.push_back(std::make_unique<HeldChild>("ipcw_walk_big", [&fifo, &sock_path] {
    const rlimit limit{4096, 4096};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return -1;
    }
    for (int i = 0; i < 1100; ++i) {
      if (open("/dev/null", O_RDONLY) < 0) {
        return -1;
      }
    }
    for (const int at : kHighFds) {
      if (openAt(fifo, O_RDWR, at) != at) {
        return -1;
      }
    }
    const int sock = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    sock_path.copy(addr.sun_path, sock_path.size());
    if (sock < 0 || bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
        dup2(sock, 1999) != 1999) {
      return -1;
    }
    close(sock);
    return 0;
  }));
  ASSERT_EQ(children.back()->result(), 0);
  const pid_t big = children.back()->pid();
  pids.insert(static_cast<std::uint32_t>(big));

  // The children are set up before they report, so both walks see the same tables.
  const auto from_loop = recordsOf(*loop, pids);
  const auto from_task_file = recordsOf(*task_file, pids);
  EXPECT_EQ(from_loop, from_task_file);
  std::size_t big_fifos = 0;
  std::size_t big_sockets = 0;
  for (const auto& record : from_loop) {
    if (std::get<0>(record) == static_cast<std::uint32_t>(big)) {
      ++(std::get<2>(record) == static_cast<int>(Kind::kFifo) ? big_fifos : big_sockets);
    }
  }
  EXPECT_EQ(from_loop.size(), 55u + std::size(kHighFds) + 1u);
  EXPECT_EQ(big_fifos, std::size(kHighFds));
  EXPECT_EQ(big_sockets, 1u);
  EXPECT_EQ(loop->truncatedFileWalks(), 0u);
  EXPECT_EQ(task_file->truncatedFileWalks(), 0u);
}

TEST(BpfHostIteratorWalks, BpfLoopAndTaskFileReportTheSameRecords) {
  expectSameRecordsAsTaskFile(FileWalk::kBpfLoop);
}

TEST(BpfHostIteratorWalks, BpfLoopBtfAndTaskFileReportTheSameRecords) {
  expectSameRecordsAsTaskFile(FileWalk::kBpfLoopBtf);
}

// Records written whole into a pipe and read back through a buffer that is not a multiple of
// the record size: every read but the first starts inside a record.
TEST(BpfHostIteratorRecords, RecordsSplitAcrossReadsAreReassembled) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr std::size_t kRecord = 24;
  std::vector<char> bytes(kRecord * 10);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(i / kRecord);
  }
  ASSERT_EQ(write(fds[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fds[1]);
  std::vector<int> seen;
  readFixedSizeRecords(
      fds[0], kRecord, "test",
      [&seen](const char* record) {
        for (std::size_t i = 1; i < kRecord; ++i) {
          ASSERT_EQ(record[i], record[0]);
        }
        seen.push_back(record[0]);
      },
      50);
  close(fds[0]);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BpfHostIteratorRecords, EndInsideARecordIsAnError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const char bytes[30] = {};
  ASSERT_EQ(write(fds[1], bytes, sizeof(bytes)), static_cast<ssize_t>(sizeof(bytes)));
  close(fds[1]);
  std::size_t records = 0;
  EXPECT_THROW(readFixedSizeRecords(fds[0], 24, "test", [&records](const char*) { ++records; }),
               std::system_error);
  close(fds[0]);
  EXPECT_EQ(records, 1u);
}

TEST(BpfHostIteratorEncoding, KernelDevToStDev) {
  EXPECT_EQ(devFromKernelEncoding((8u << 20) | 1u), makedev(8, 1));
  EXPECT_EQ(devFromKernelEncoding((8u << 20) | 1u), 0x801u);
  EXPECT_EQ(devFromKernelEncoding(300u), makedev(0, 300));
  EXPECT_EQ(devFromKernelEncoding(300u), 0x10002cu);
  EXPECT_EQ(devFromKernelEncoding((259u << 20) | 0xfffffu), makedev(259, 0xfffff));
  EXPECT_EQ(devFromKernelEncoding(0), 0u);
}

}  // namespace
}  // namespace ipcwatch
