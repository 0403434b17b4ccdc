// Listing IPC namespaces from procfs and reading each one from a helper thread.
#include <sched.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/posix_ipc_collector.h"
#include "collectors/self_collector.h"
#include "collectors/sysv_ipc_collector.h"
#include "http/http_server.h"
#include "inventory/ipc_namespaces.h"
#include "inventory/proc_file.h"
#include "metrics/parse_errors.h"
#include "metrics/scrape_registry.h"

#ifndef IPCWATCH_FIXTURES_DIR
#error "IPCWATCH_FIXTURES_DIR must name tests/fixtures"
#endif

namespace ipcwatch {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

std::uint64_t ownIpcNamespace() {
  struct stat st {};
  EXPECT_EQ(stat("/proc/thread-self/ns/ipc", &st), 0);
  return st.st_ino;
}

TEST(IpcNamespaces, ListedOncePerInodeFromProcfs) {
  const auto namespaces = listIpcNamespaces(std::string(IPCWATCH_FIXTURES_DIR) + "/procfs");
  ASSERT_EQ(namespaces.size(), 2u);
  EXPECT_EQ(namespaces[0].inode, 4026531839u);
  EXPECT_THAT(namespaces[0].pid, AnyOf(Eq(1), Eq(812)));
  EXPECT_EQ(namespaces[1].inode, 4026532777u);
  EXPECT_THAT(namespaces[1].pid, AnyOf(Eq(4242), Eq(4243)));
  EXPECT_THROW(listIpcNamespaces("/nonexistent/proc"), std::runtime_error);
}

// A child in its own IPC namespace with one shared memory segment of `size` bytes.
class SegmentInNewNamespace {
 public:
  explicit SegmentInNewNamespace(std::size_t size) {
    int ready[2], done[2];
    if (pipe(ready) != 0 || pipe(done) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      close(done[1]);  // so that the test closing its end is seen as EOF
      char ok = unshare(CLONE_NEWIPC) == 0 && shmget(IPC_PRIVATE, size, IPC_CREAT | 0600) >= 0;
      (void)!write(ready[1], &ok, 1);
      (void)!read(done[0], &ok, 1);
      _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    done_ = done[1];
    char ok = 0;
    ok_ = read(ready[0], &ok, 1) == 1 && ok == 1;
    close(ready[0]);
  }
  ~SegmentInNewNamespace() {
    close(done_);
    waitpid(pid_, nullptr, 0);
  }
  bool ok() const { return ok_; }
  std::uint64_t inode() const {
    struct stat st {};
    EXPECT_EQ(stat(("/proc/" + std::to_string(pid_) + "/ns/ipc").c_str(), &st), 0);
    return st.st_ino;
  }

 private:
  pid_t pid_ = -1;
  int done_ = -1;
  bool ok_ = false;
};

TEST(SetnsIpcNamespaceVisitor, ReadsEachNamespaceWithoutMovingTheCaller) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to enter other IPC namespaces; CI runs this as root";
  }
  SegmentInNewNamespace child(123457);
  ASSERT_TRUE(child.ok());
  const std::uint64_t own = ownIpcNamespace();
  std::map<std::uint64_t, std::string> tables;
  std::map<std::uint64_t, bool> mqueue_mounted;
  SetnsIpcNamespaceVisitor visitor("/proc");
  visitor.visit([&](const IpcNamespaceView& ns) {
    EXPECT_EQ(ownIpcNamespace(), ns.inode);  // the helper thread is inside
    EXPECT_FALSE(tables.contains(ns.inode)) << "visited twice";
    tables[ns.inode] = readProcFile(ns.procfs + "/sysvipc/shm").value_or("");
    const int fd = ns.open_mqueue_dir();
    mqueue_mounted[ns.inode] = fd >= 0;
    if (fd >= 0) {
      close(fd);
    }
  });
  EXPECT_EQ(ownIpcNamespace(), own);
  ASSERT_TRUE(tables.contains(child.inode()));
  ASSERT_TRUE(tables.contains(own));
  EXPECT_THAT(tables[child.inode()], HasSubstr(" 123457 "));
  EXPECT_THAT(tables[own], Not(HasSubstr(" 123457 ")));
  EXPECT_TRUE(mqueue_mounted[child.inode()]);
  EXPECT_TRUE(mqueue_mounted[own]);
}

// The mount id of an fd, from /proc/self/fdinfo.
std::string mountIdOf(int fd) {
  const auto text = readProcFile("/proc/self/fdinfo/" + std::to_string(fd)).value_or("");
  const auto at = text.find("mnt_id:");
  return at == std::string::npos ? "" : text.substr(at, text.find('\n', at) - at);
}

TEST(SetnsIpcNamespaceVisitor, KeepsEachNamespacesMqueueMountAcrossVisits) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount the mqueue filesystem; CI runs this as root";
  }
  SegmentInNewNamespace child(123458);
  ASSERT_TRUE(child.ok());
  SetnsIpcNamespaceVisitor visitor("/proc");
  std::map<std::uint64_t, std::string> first;
  std::map<std::uint64_t, std::string> second;
  for (auto* mounts : {&first, &second}) {
    visitor.visit([&](const IpcNamespaceView& ns) {
      const int fd = ns.open_mqueue_dir();
      ASSERT_GE(fd, 0) << std::strerror(errno);
      (*mounts)[ns.inode] = mountIdOf(fd);
      close(fd);
    });
  }
  ASSERT_TRUE(first.contains(child.inode()));
  EXPECT_FALSE(first[child.inode()].empty());
  EXPECT_EQ(first, second);  // the same mounts, not new ones
  const std::uint64_t own = ownIpcNamespace();
  EXPECT_NE(first[own], first[child.inode()]);  // and one per namespace
}

TEST(SetnsIpcNamespaceVisitor, ReaderExceptionsReachTheCaller) {
  SetnsIpcNamespaceVisitor visitor("/proc");
  EXPECT_THROW(visitor.visit([](const IpcNamespaceView&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
}

// Shows the caller's own IPC namespace once, from inside (the IPC_INFO calls) or as files,
// with the mqueue limits a lister knew, if any.
class OwnNamespaceVisitor : public IpcNamespaceVisitor {
 public:
  explicit OwnNamespaceVisitor(bool inside, std::optional<MqueueLimits> mqueue = std::nullopt)
      : inside_(inside), mqueue_(mqueue) {}
  void visit(const std::function<void(const IpcNamespaceView&)>& read) override {
    read(IpcNamespaceView{ownIpcNamespace(), "/proc", [] { return -1; }, inside_, mqueue_});
  }

 private:
  bool inside_;
  std::optional<MqueueLimits> mqueue_;
};

// The lines of `registry`'s exposition that start with one of `prefixes`.
std::string linesStartingWith(ScrapeRegistry& registry,
                              std::initializer_list<const char*> prefixes) {
  std::string lines;
  std::istringstream text(renderMetrics(registry));
  for (std::string line; std::getline(text, line);) {
    for (const char* prefix : prefixes) {
      if (line.starts_with(prefix)) {
        lines += line + "\n";
        break;
      }
    }
  }
  return lines;
}

// The limits the collector takes from shmctl/msgctl/semctl(IPC_INFO) are exactly those of
// /proc/sys/kernel, series for series.
TEST(SysvIpcLimits, SystemCallsAgreeWithTheSysctlFiles) {
  const auto limits = currentSysvLimits();
  ASSERT_TRUE(limits.has_value()) << "no SysV IPC in this kernel";
  ASSERT_EQ(limits->size(), 10u);
  const auto limitLines = [](bool inside) {
    ParseErrors errors;
    ScrapeRegistry registry;
    registry.add(std::make_unique<SysvIpcCollector>(SysvIpcOptions{"/proc", 0}, errors,
                                                    std::make_unique<OwnNamespaceVisitor>(inside)));
    return linesStartingWith(registry, {"ipc_sysv_limit{", "ipc_sysv_limits{"});
  };
  const std::string from_calls = limitLines(true);
  const std::string from_files = limitLines(false);
  EXPECT_EQ(std::count(from_calls.begin(), from_calls.end(), '\n'), 10) << from_calls;
  EXPECT_EQ(from_calls, from_files);
  const auto shmmax = readProcFile("/proc/sys/kernel/shmmax");
  ASSERT_TRUE(shmmax.has_value());
  const auto it = std::find_if(limits->begin(), limits->end(), [](const auto& entry) {
    return std::string(entry.first) == "shmmax";
  });
  ASSERT_NE(it, limits->end());
  EXPECT_EQ(std::to_string(it->second) + "\n", *shmmax);
}

// The mqueue limits a lister hands over (the BPF iterator reads them with the processes) are
// exported as the sysctl files would be, and no file is read for them: these differ from the
// files' values, and only they appear.
TEST(PosixMqueueLimits, TakenFromTheListerWhenItKnowsThem) {
  const auto queues_max = readProcFile("/proc/sys/fs/mqueue/queues_max");
  if (!queues_max) {
    GTEST_SKIP() << "no POSIX message queues in this kernel (/proc/sys/fs/mqueue)";
  }
  char shm_dir[] = "/tmp/ipcw-shm-XXXXXX";  // an empty /dev/shm
  ASSERT_NE(mkdtemp(shm_dir), nullptr);
  const auto limitLines = [&shm_dir](std::optional<MqueueLimits> known) {
    ParseErrors errors;
    ScrapeRegistry registry;
    registry.add(
        std::make_unique<PosixIpcCollector>(PosixIpcOptions{shm_dir, 0, 0, "/proc", {}}, errors,
                                            std::make_unique<OwnNamespaceVisitor>(true, known)));
    return linesStartingWith(registry, {"ipc_posix_mqueue_limit{"});
  };
  const std::string ns = std::to_string(ownIpcNamespace());
  EXPECT_EQ(limitLines(MqueueLimits{1001, 1002, 1003}),
            "ipc_posix_mqueue_limit{ipcns=\"" + ns + "\",resource=\"msg_max\"} 1002\n" +
                "ipc_posix_mqueue_limit{ipcns=\"" + ns + "\",resource=\"msgsize_max\"} 1003\n" +
                "ipc_posix_mqueue_limit{ipcns=\"" + ns + "\",resource=\"queues_max\"} 1001\n");
  const std::string from_files = limitLines(std::nullopt);
  EXPECT_THAT(from_files, HasSubstr("resource=\"queues_max\"} " + *queues_max));
  EXPECT_EQ(std::count(from_files.begin(), from_files.end(), '\n'), 3) << from_files;
  EXPECT_EQ(rmdir(shm_dir), 0);
}

TEST(ParseErrors, CountedPerCollectorAndExportedBySelf) {
  ParseErrors errors;
  errors.declare("quiet");
  errors.record("noisy", "/proc/x", "line 2: bad size 'x'");
  errors.record("noisy", "/proc/x", "line 3: bad size 'y'");
  EXPECT_EQ(errors.counts(),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"noisy", 2}, {"quiet", 0}}));
  LabelCaps caps(1, 1, 1);
  ScrapeRegistry registry;
  registry.add(std::make_unique<SelfCollector>(BuildInfo{"1", "r", "1.1", "6.1"},
                                               std::vector<const Probe*>{}, caps, &errors));
  const std::string text = renderMetrics(registry);
  EXPECT_THAT(text, HasSubstr("# TYPE ipcwatch_parse_errors_total counter\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_parse_errors_total{collector=\"noisy\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ipcwatch_parse_errors_total{collector=\"quiet\"} 0\n"));
}

}  // namespace
}  // namespace ipcwatch
