// The sysv_ipc and posix_ipc collectors over a fixture procfs tree with two IPC namespaces,
// rendered and compared with tests/golden/sysv_posix.prom (IPCWATCH_UPDATE_GOLDEN=1 rewrites it).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <linux/magic.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/posix_ipc_collector.h"
#include "collectors/sysv_ipc_collector.h"
#include "http/http_server.h"

#ifndef IPCWATCH_FIXTURES_DIR
#error "IPCWATCH_FIXTURES_DIR must name tests/fixtures"
#endif

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

const std::string kFixtures = IPCWATCH_FIXTURES_DIR;
const std::string kGolden = kFixtures + "/../golden/sysv_posix.prom";

// Each namespace's view is a directory fixtures/ipcns/<inode>/ laid out like procfs (sysvipc/,
// sys/) plus mqueue/ standing for its mqueue filesystem. The namespaces themselves are listed
// from the fixture procfs as in production.
class FixtureVisitor : public IpcNamespaceVisitor {
 public:
  FixtureVisitor(std::string procfs, std::string views)
      : procfs_(std::move(procfs)), views_(std::move(views)) {}
  void visit(const std::function<void(const IpcNamespaceView&)>& read) override {
    for (const auto& ns : listIpcNamespaces(procfs_)) {
      const std::string root = views_ + "/" + std::to_string(ns.inode);
      read(IpcNamespaceView{
          ns.inode, root,
          [root] { return open((root + "/mqueue").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); },
          /*inside=*/false, /*mqueue_limits=*/std::nullopt});
    }
  }

 private:
  std::string procfs_;
  std::string views_;
};

std::string fakeUserName(std::uint32_t uid) {
  if (uid == 0)
    return "root";
  if (uid == 1000)
    return "alice";
  return std::to_string(uid);
}

class Collectors : public MetricSource {
 public:
  explicit Collectors(std::vector<Collector*> collectors) : collectors_(std::move(collectors)) {}
  std::vector<MetricFamily> collect() const override {
    std::vector<MetricFamily> out;
    for (auto* collector : collectors_) {
      collector->collect(out);
    }
    return out;
  }

 private:
  std::vector<Collector*> collectors_;
};

// A directory on tmpfs standing for /dev/shm: allocated sizes are exact whole pages there.
class TmpfsDir {
 public:
  TmpfsDir() {
    char path[] = "/dev/shm/ipcwatch-test-XXXXXX";
    EXPECT_NE(mkdtemp(path), nullptr);
    path_ = path;
  }
  ~TmpfsDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  void write(const std::string& name, std::size_t bytes) const {
    std::ofstream(path_ + "/" + name) << std::string(bytes, 'x');
  }

 private:
  std::string path_;
};

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(IpcInventoryGolden, FixtureTreeRendersTheGoldenExposition) {
  struct statfs fs {};
  ASSERT_EQ(statfs("/dev/shm", &fs), 0);
  ASSERT_EQ(fs.f_type, TMPFS_MAGIC) << "/dev/shm must be tmpfs for exact allocated sizes";
  ASSERT_EQ(sysconf(_SC_PAGESIZE), 4096);
  TmpfsDir shm;
  shm.write("app.buffer", 10000);  // 3 pages allocated
  shm.write("tiny", 1);            // 1 page
  shm.write("sem.lock", 32);       // a named semaphore, not shared memory
  ASSERT_EQ(truncate((shm.path() + "/tiny").c_str(), 1), 0);
  { std::ofstream(shm.path() + "/sparse.region"); }
  ASSERT_EQ(truncate((shm.path() + "/sparse.region").c_str(), 1 << 20), 0);  // nothing allocated
  ASSERT_EQ(mkdir((shm.path() + "/somedir").c_str(), 0700), 0);
  ASSERT_EQ(symlink("app.buffer", (shm.path() + "/link").c_str()), 0);

  const std::string procfs = kFixtures + "/procfs";
  ParseErrors errors;
  SysvIpcCollector sysv(SysvIpcOptions{procfs, 3}, errors,
                        std::make_unique<FixtureVisitor>(procfs, kFixtures + "/ipcns"),
                        fakeUserName);
  PosixIpcCollector posix(PosixIpcOptions{shm.path(), 2, 2, "/proc", {}}, errors,
                          std::make_unique<FixtureVisitor>(procfs, kFixtures + "/ipcns"));
  const std::string text = renderMetrics(Collectors({&sysv, &posix}));

  if (const char* update = std::getenv("IPCWATCH_UPDATE_GOLDEN"); update && *update == '1') {
    std::filesystem::create_directories(std::filesystem::path(kGolden).parent_path());
    std::ofstream(kGolden) << text;
    GTEST_SKIP() << "rewrote " << kGolden;
  }
  EXPECT_EQ(text, readText(kGolden)) << "regenerate with IPCWATCH_UPDATE_GOLDEN=1 if intended";

  // One truncated shm line and one unparsable sysctl in the container; one bad queue file.
  EXPECT_EQ(errors.counts(), (std::vector<std::pair<std::string, std::uint64_t>>{{"posix_ipc", 1},
                                                                                 {"sysv_ipc", 2}}));

  const std::string file = shm.path() + "/exposition.prom";
  std::ofstream(file) << text;
  const int status =
      std::system(("promtool check metrics < " + file + " >" + file + ".out 2>&1").c_str());
  EXPECT_EQ(status, 0) << readText(file + ".out");
}

TEST(IpcInventoryGolden, UnreadableTableFailsTheScrapeMissingMqueueSkipsTheNamespace) {
  TmpfsDir shm;
  const std::string procfs = kFixtures + "/procfs";
  ParseErrors errors;
  // No views for these namespaces: no sysvipc tables, no mqueue directory.
  SysvIpcCollector sysv(SysvIpcOptions{procfs, 3}, errors,
                        std::make_unique<FixtureVisitor>(procfs, shm.path()), fakeUserName);
  std::vector<MetricFamily> out;
  EXPECT_THROW(sysv.collect(out), std::runtime_error);

  PosixIpcCollector posix(PosixIpcOptions{shm.path(), 2, 2, "/proc", {}}, errors,
                          std::make_unique<FixtureVisitor>(procfs, shm.path()));
  out.clear();
  posix.collect(out);
  std::vector<std::string> names;
  for (const auto& family : out) {
    names.push_back(family.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ipc_posix_shm_files", "ipc_posix_shm_bytes",
                                             "ipc_posix_named_semaphores"}));
}

TEST(IpcInventoryGolden, ThousandsOfObjectsScrapeWellUnderASecond) {
  TmpfsDir root;
  const std::string procfs = root.path() + "/proc";
  const std::string view = root.path() + "/views/4026531839";
  std::filesystem::create_directories(procfs + "/1/ns");
  ASSERT_EQ(symlink("ipc:[4026531839]", (procfs + "/1/ns/ipc").c_str()), 0);
  std::filesystem::create_directories(view + "/sysvipc");
  std::ostringstream shm, sem, msg;
  shm << "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  "
         "cgid      atime      dtime      ctime                   rss                  swap\n";
  sem << "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
  msg << "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid  "
         "    stime      rtime      ctime\n";
  constexpr int kObjects = 1000;
  for (int i = 0; i < kObjects; ++i) {
    // Every second segment is unattached and its creator (pid 2+i) does not exist: orphaned.
    shm << i << " " << i << " 600 4096 " << (i % 2 == 0 ? 1 : 2 + i) << " 0 "
        << (i % 2 == 0 ? 1 : 0) << " 0 0 0 0 0 0 0 0 0\n";
    sem << i << " " << i << " 666 3 0 0 0 0 0 0\n";
    msg << i << " " << i << " 600 " << i << " 1 0 0 " << i << " 0 0 0 0 0 0\n";
  }
  std::ofstream(view + "/sysvipc/shm") << shm.str();
  std::ofstream(view + "/sysvipc/sem") << sem.str();
  std::ofstream(view + "/sysvipc/msg") << msg.str();

  ParseErrors errors;
  SysvIpcCollector sysv(SysvIpcOptions{procfs, 10}, errors,
                        std::make_unique<FixtureVisitor>(procfs, root.path() + "/views"),
                        [](std::uint32_t uid) { return "u" + std::to_string(uid); });
  const auto start = std::chrono::steady_clock::now();
  const std::string text = renderMetrics(Collectors({&sysv}));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(250));
  EXPECT_THAT(text, HasSubstr("ipc_sysv_shm_segments{ipcns=\"4026531839\"} 1000\n"));
  EXPECT_THAT(text, HasSubstr("ipc_sysv_shm_orphaned_segments{ipcns=\"4026531839\"} 500\n"));
  EXPECT_THAT(text, HasSubstr("ipc_sysv_semaphores{ipcns=\"4026531839\"} 3000\n"));
  EXPECT_THAT(
      text,
      HasSubstr("ipc_sysv_world_accessible_objects{ipcns=\"4026531839\",object=\"sem\"} 1000\n"));
  EXPECT_THAT(text, HasSubstr("ipc_sysv_msg_queue_bytes{ipcns=\"4026531839\"} 499500\n"));
  EXPECT_THAT(text, HasSubstr("ipc_sysv_msg_queue_top_bytes{id=\"999\",ipcns=\"4026531839\",key="
                              "\"0x000003e7\",owner=\"u999\"} 999\n"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n') - std::count(text.begin(), text.end(), '#'),
            0 + 10 + 10 + 13 /* per-namespace series */)
      << text;
  EXPECT_EQ(errors.counts().front().second, 0u);
}

}  // namespace
}  // namespace ipcwatch
