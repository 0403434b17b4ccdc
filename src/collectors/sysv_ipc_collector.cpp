#include "collectors/sysv_ipc_collector.h"

#include <pwd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "inventory/parsers/ipc_parsers.h"
#include "inventory/proc_file.h"
#include "metrics/family.h"
#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

// semctl's fourth argument, which callers declare themselves.
union semun_for_info {
  int val;
  semid_ds* buf;
  unsigned short* array;
  seminfo* info;
};

constexpr const char* kCollector = "sysv_ipc";
constexpr std::uint32_t kOthersReadWrite = 0006;

FamilyBuilder gauge(const char* name, const char* help) {
  return FamilyBuilder(name, help, MetricType::Gauge);
}

bool worldAccessible(std::uint32_t mode) {
  return (mode & kOthersReadWrite) != 0;
}

// Reads and parses one /proc/sysvipc table; a table that cannot be read fails the scrape
// (the kernel has no SysV IPC, or procfs is wrong), unparsable rows are counted and skipped.
template <typename Parse>
auto readTable(const IpcNamespaceView& ns, const char* table, ParseErrors& errors, Parse parse) {
  const std::string path = ns.procfs + "/sysvipc/" + table;
  const auto text = readProcFile(path);
  if (!text) {
    throw std::runtime_error("cannot read " + path);
  }
  auto result = parse(*text);
  for (const auto& error : result.errors) {
    errors.record(kCollector, path, error);
  }
  return result.rows;
}

}  // namespace

struct SysvIpcCollector::Families {
  FamilyBuilder shm_segments = gauge("ipc_sysv_shm_segments", "SysV shared memory segments.");
  FamilyBuilder shm_bytes =
      gauge("ipc_sysv_shm_bytes", "Total size of the SysV shared memory segments.");
  FamilyBuilder shm_attachments = gauge(
      "ipc_sysv_shm_attachments", "Attachments to SysV shared memory segments (sum of nattch).");
  FamilyBuilder shm_orphaned_segments =
      gauge("ipc_sysv_shm_orphaned_segments",
            "SysV shared memory segments nobody has attached (nattch 0) whose creator process "
            "is gone: leaked memory that counts against shmall until removed (ipcrm).");
  FamilyBuilder shm_orphaned_bytes = gauge(
      "ipc_sysv_shm_orphaned_bytes", "Total size of the orphaned SysV shared memory segments.");
  FamilyBuilder sem_arrays = gauge("ipc_sysv_sem_arrays", "SysV semaphore arrays.");
  FamilyBuilder semaphores =
      gauge("ipc_sysv_semaphores", "SysV semaphores in all arrays (sum of nsems).");
  FamilyBuilder msg_queues = gauge("ipc_sysv_msg_queues", "SysV message queues.");
  FamilyBuilder msg_messages =
      gauge("ipc_sysv_msg_queue_messages", "Messages waiting in all SysV message queues.");
  FamilyBuilder msg_bytes =
      gauge("ipc_sysv_msg_queue_bytes", "Bytes waiting in all SysV message queues.");
  FamilyBuilder top_bytes =
      gauge("ipc_sysv_msg_queue_top_bytes",
            "Bytes waiting in each of the largest SysV message queues (inventory.msg_queue_top_n "
            "across all namespaces).");
  FamilyBuilder top_messages =
      gauge("ipc_sysv_msg_queue_top_messages",
            "Messages waiting in each of the largest SysV message queues (same queues as "
            "ipc_sysv_msg_queue_top_bytes).");
  FamilyBuilder limits =
      gauge("ipc_sysv_limit",
            "SysV IPC limits of the namespace from /proc/sys/kernel (shmall is in pages, "
            "shmmax, msgmnb and msgmax in bytes, the others are counts).");
  FamilyBuilder world_accessible =
      gauge("ipc_sysv_world_accessible_objects",
            "SysV IPC objects whose mode grants read or write to others (any user).");
};

struct SysvIpcCollector::QueueSample {
  std::string ipcns;
  SysvMsgQueue queue;
};

std::string systemUserName(std::uint32_t uid) {
  passwd entry{};
  passwd* result = nullptr;
  char buffer[4096];
  if (getpwuid_r(uid, &entry, buffer, sizeof buffer, &result) == 0 && result != nullptr) {
    return entry.pw_name;
  }
  return std::to_string(uid);
}

std::string formatIpcKey(std::int32_t key) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<std::uint32_t>(key));
  return text;
}

SysvIpcCollector::SysvIpcCollector(SysvIpcOptions options, ParseErrors& errors,
                                   std::unique_ptr<IpcNamespaceVisitor> visitor,
                                   UserNameFn user_name)
    : options_(std::move(options)),
      errors_(errors),
      visitor_(std::move(visitor)),
      user_name_(std::move(user_name)) {
  errors_.declare(kCollector);
}

SysvIpcCollector::~SysvIpcCollector() = default;

void SysvIpcCollector::collect(std::vector<MetricFamily>& out) {
  Families families;
  std::vector<QueueSample> queues;
  owners_.clear();  // user names can change; remember them for one scrape only
  visitor_->visit([&](const IpcNamespaceView& ns) { readNamespace(ns, families, queues); });

  // One bound across namespaces, so the series count stays at most top_n on any host.
  const std::size_t n = std::min<std::size_t>(options_.msg_queue_top_n, queues.size());
  std::partial_sort(queues.begin(), queues.begin() + static_cast<std::ptrdiff_t>(n), queues.end(),
                    [](const QueueSample& a, const QueueSample& b) {
                      return a.queue.cbytes != b.queue.cbytes ? a.queue.cbytes > b.queue.cbytes
                                                              : a.queue.qnum > b.queue.qnum;
                    });
  for (std::size_t i = 0; i < n; ++i) {
    const auto& q = queues[i];
    const LabelSet labels = {{"id", std::to_string(q.queue.id)},
                             {"ipcns", q.ipcns},
                             {"key", formatIpcKey(q.queue.key)},
                             {"owner", ownerOf(q.queue.uid)}};
    families.top_bytes.set(labels, static_cast<double>(q.queue.cbytes));
    families.top_messages.set(labels, static_cast<double>(q.queue.qnum));
  }

  for (FamilyBuilder* family :
       {&families.shm_segments, &families.shm_bytes, &families.shm_attachments,
        &families.shm_orphaned_segments, &families.shm_orphaned_bytes, &families.sem_arrays,
        &families.semaphores, &families.msg_queues, &families.msg_messages, &families.msg_bytes,
        &families.top_bytes, &families.top_messages, &families.limits,
        &families.world_accessible}) {
    if (!family->empty()) {
      out.push_back(family->build());
    }
  }
}

void SysvIpcCollector::readNamespace(const IpcNamespaceView& ns, Families& families,
                                     std::vector<QueueSample>& queues) {
  const std::string ipcns = std::to_string(ns.inode);
  readShm(ns, ipcns, families);
  readSem(ns, ipcns, families);
  readMsg(ns, ipcns, families, queues);
  readLimits(ns, ipcns, families);
}

void SysvIpcCollector::readShm(const IpcNamespaceView& ns, const std::string& ipcns, Families& f) {
  double segments = 0, bytes = 0, attachments = 0, orphaned = 0, orphaned_bytes = 0, world = 0;
  for (const auto& s : readTable(ns, "shm", errors_, parseSysvShm)) {
    segments += 1;
    bytes += static_cast<double>(s.size);
    attachments += static_cast<double>(s.nattch);
    world += worldAccessible(s.mode) ? 1 : 0;
    // The kernel prints cpid in the reader's pid namespace (the agent's, whatever IPC
    // namespace the helper thread is in), which must be the one procfs shows. 0 means the
    // creator is not visible there, so it cannot be judged. A reused pid makes a gone creator
    // look alive: orphans can be missed, never invented.
    struct stat st {};
    if (s.nattch == 0 && s.cpid > 0 &&
        stat((options_.procfs + "/" + std::to_string(s.cpid)).c_str(), &st) != 0) {
      orphaned += 1;
      orphaned_bytes += static_cast<double>(s.size);
    }
  }
  const LabelSet labels = {{"ipcns", ipcns}};
  f.shm_segments.set(labels, segments);
  f.shm_bytes.set(labels, bytes);
  f.shm_attachments.set(labels, attachments);
  f.shm_orphaned_segments.set(labels, orphaned);
  f.shm_orphaned_bytes.set(labels, orphaned_bytes);
  f.world_accessible.set({{"ipcns", ipcns}, {"object", "shm"}}, world);
}

void SysvIpcCollector::readSem(const IpcNamespaceView& ns, const std::string& ipcns, Families& f) {
  double arrays = 0, semaphores = 0, world = 0;
  for (const auto& s : readTable(ns, "sem", errors_, parseSysvSem)) {
    arrays += 1;
    semaphores += static_cast<double>(s.nsems);
    world += worldAccessible(s.mode) ? 1 : 0;
  }
  f.sem_arrays.set({{"ipcns", ipcns}}, arrays);
  f.semaphores.set({{"ipcns", ipcns}}, semaphores);
  f.world_accessible.set({{"ipcns", ipcns}, {"object", "sem"}}, world);
}

void SysvIpcCollector::readMsg(const IpcNamespaceView& ns, const std::string& ipcns, Families& f,
                               std::vector<QueueSample>& queues) {
  double count = 0, messages = 0, bytes = 0, world = 0;
  for (const auto& q : readTable(ns, "msg", errors_, parseSysvMsg)) {
    count += 1;
    messages += static_cast<double>(q.qnum);
    bytes += static_cast<double>(q.cbytes);
    world += worldAccessible(q.mode) ? 1 : 0;
    if (options_.msg_queue_top_n > 0) {
      queues.push_back({ipcns, q});
    }
  }
  f.msg_queues.set({{"ipcns", ipcns}}, count);
  f.msg_messages.set({{"ipcns", ipcns}}, messages);
  f.msg_bytes.set({{"ipcns", ipcns}}, bytes);
  f.world_accessible.set({{"ipcns", ipcns}, {"object", "msg"}}, world);
}

std::optional<std::vector<std::pair<const char*, std::uint64_t>>> currentSysvLimits() {
  shminfo shm{};
  msginfo msg{};
  seminfo sem{};
  // IPC_INFO fills the structs glibc declares for it; the casts are the calls' documented use.
  if (shmctl(0, IPC_INFO, reinterpret_cast<shmid_ds*>(&shm)) < 0 ||
      msgctl(0, IPC_INFO, reinterpret_cast<msqid_ds*>(&msg)) < 0) {
    return std::nullopt;
  }
  semun_for_info arg{};
  arg.info = &sem;
  if (semctl(0, 0, IPC_INFO, arg) < 0) {
    return std::nullopt;
  }
  // In the order the files were read, so the families come out the same.
  return std::vector<std::pair<const char*, std::uint64_t>>{
      {"shmmni", shm.shmmni},
      {"shmall", shm.shmall},
      {"shmmax", shm.shmmax},
      {"msgmni", static_cast<std::uint64_t>(msg.msgmni)},
      {"msgmnb", static_cast<std::uint64_t>(msg.msgmnb)},
      {"msgmax", static_cast<std::uint64_t>(msg.msgmax)},
      {"semmsl", static_cast<std::uint64_t>(sem.semmsl)},
      {"semmns", static_cast<std::uint64_t>(sem.semmns)},
      {"semopm", static_cast<std::uint64_t>(sem.semopm)},
      {"semmni", static_cast<std::uint64_t>(sem.semmni)}};
}

void SysvIpcCollector::readLimits(const IpcNamespaceView& ns, const std::string& ipcns,
                                  Families& f) {
  if (ns.inside) {
    if (const auto limits = currentSysvLimits()) {
      for (const auto& [resource, value] : *limits) {
        f.limits.set({{"ipcns", ipcns}, {"resource", resource}}, static_cast<double>(value));
      }
      return;
    }
    // No SysV IPC in this kernel's system calls (ENOSYS): the files say the same or nothing.
  }
  const std::string dir = ns.procfs + "/sys/kernel/";
  for (const char* resource : {"shmmni", "shmall", "shmmax", "msgmni", "msgmnb", "msgmax"}) {
    const auto text = readProcFile(dir + resource);
    if (!text) {
      continue;  // not every kernel has every limit; nothing to compare against then
    }
    if (const auto value = parseSysctlUnsigned(*text)) {
      f.limits.set({{"ipcns", ipcns}, {"resource", resource}}, static_cast<double>(*value));
    } else {
      errors_.record(kCollector, dir + resource, "expected one unsigned integer");
    }
  }
  const auto text = readProcFile(dir + "sem");
  if (!text) {
    return;
  }
  const auto sem = parseSysvSemLimits(*text);
  if (!sem) {
    errors_.record(kCollector, dir + "sem", "expected four unsigned integers");
    return;
  }
  const std::pair<const char*, std::uint64_t> values[] = {{"semmsl", sem->semmsl},
                                                          {"semmns", sem->semmns},
                                                          {"semopm", sem->semopm},
                                                          {"semmni", sem->semmni}};
  for (const auto& [resource, value] : values) {
    f.limits.set({{"ipcns", ipcns}, {"resource", resource}}, static_cast<double>(value));
  }
}

std::string SysvIpcCollector::ownerOf(std::uint32_t uid) {
  if (const auto it = owners_.find(uid); it != owners_.end()) {
    return it->second;
  }
  const std::string owner = sanitizeLabelValue(user_name_(uid));
  owners_.emplace(uid, owner);
  return owner;
}

}  // namespace ipcwatch
