#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "inventory/ipc_namespaces.h"

struct host_iter_bpf;
struct bpf_link;

namespace ipcwatch {

// A process (thread-group leader) as the kernel sees it. Namespace fields are nsfs inode
// numbers, equal to st_ino of /proc/PID/ns/{mnt,net,ipc,pid}; 0 for an exiting process.
struct KernelProcess {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t euid = 0;
  std::uint32_t egid = 0;
  std::string comm;
  std::uint64_t mnt_ns = 0;
  std::uint64_t net_ns = 0;
  std::uint64_t ipc_ns = 0;
  std::uint64_t pid_ns = 0;
  // The POSIX message queue limits of its IPC namespace; none on kernels without POSIX mqueues.
  std::optional<MqueueLimits> mqueue_limits;
  // The pipe buffer pages charged to its user (real uid), as the kernel counts them.
  std::uint32_t pipe_uid = 0;
  std::uint64_t pipe_pages = 0;
};

// A descriptor that refers to a named FIFO or an AF_UNIX socket. For a FIFO, dev/ino match
// stat() of its path; for a socket, ino is the socket inode sock_diag reports (udiag_ino). An
// O_PATH descriptor of a FIFO has neither read nor write: it holds no end of the FIFO.
struct KernelOpenFile {
  enum class Kind : std::uint8_t { kFifo, kUnixSocket };

  std::uint32_t pid = 0;
  std::int32_t fd = -1;
  Kind kind = Kind::kFifo;
  bool read = false;
  bool write = false;
  dev_t dev = 0;
  ino_t ino = 0;
};

// How openFiles() walks the descriptor tables. kAuto takes kBpfLoopBtf where the kernel has
// bpf_loop and bpf_rdonly_cast (6.2+), kBpfLoop where it has bpf_loop only (5.17+) and
// kTaskFile elsewhere; forcing one is for tests and benchmarks. All report the same records.
enum class FileWalk : std::uint8_t { kAuto, kBpfLoopBtf, kBpfLoop, kTaskFile };

// The name fileWalk() reports for `walk`: "bpf_loop_btf", "bpf_loop", "task_file" or "auto".
const char* fileWalkName(FileWalk walk);

// Host facts from BPF iterators: one kernel pass per call instead of a /proc walk with a
// stat() per descriptor. Pids are those of the initial pid namespace, so the agent must run in
// it (hostPID in Kubernetes), as the /proc walk already requires.
class BpfHostIterator {
 public:
  // Opens, configures, loads and attaches both iterators. Returns null and sets `why` when the
  // kernel cannot (no BTF, no iterator support, missing privileges, or a forced `walk` it lacks):
  // callers fall back to /proc.
  static std::unique_ptr<BpfHostIterator> create(bool want_sockets, std::string& why,
                                                 FileWalk walk = FileWalk::kAuto);
  ~BpfHostIterator();
  BpfHostIterator(const BpfHostIterator&) = delete;
  BpfHostIterator& operator=(const BpfHostIterator&) = delete;

  // Each call is a fresh pass over all tasks. Throw std::system_error when the read fails.
  std::vector<KernelProcess> processes() const;
  std::vector<KernelOpenFile> openFiles() const;
  // The same walk reporting, of the sockets (want_sockets), only those whose inode is in
  // `sockets`: the kernel looks each socket up in a map and writes no record for the rest.
  // More than IPCW_WANTED_SOCKETS_MAX inodes: every socket. Calls are serialised (the map and
  // the switch are the object's); an openFiles() made while one runs sees its filter.
  std::vector<KernelOpenFile> openFiles(const std::vector<std::uint64_t>& sockets);

  // The walk openFiles() uses: "bpf_loop_btf", "bpf_loop" or "task_file".
  const char* fileWalk() const;
  // Tasks whose descriptor table openFiles() walked only in part, since create(): more than
  // IPCW_FDWALK_MAX_FDS slots (only with a raised fs.nr_open). Always 0 for "task_file".
  std::uint64_t truncatedFileWalks() const;

 private:
  struct SkeletonDeleter {
    void operator()(host_iter_bpf* skel) const;
  };
  struct LinkDeleter {
    void operator()(bpf_link* link) const;
  };

  BpfHostIterator() = default;

  FileWalk walk_ = FileWalk::kTaskFile;
  std::mutex filter_mutex_;
  std::vector<std::uint64_t> wanted_;  // the keys in the wanted_sockets map now

  // Members are destroyed in reverse order: the links go before the skeleton they refer to.
  std::unique_ptr<host_iter_bpf, SkeletonDeleter> skel_;
  std::unique_ptr<bpf_link, LinkDeleter> tasks_link_;
  std::unique_ptr<bpf_link, LinkDeleter> files_link_;
};

// Large enough that one read(2) drains the kernel's seq_file buffer (8 pages) at once.
inline constexpr std::size_t kIteratorReadBufferSize = 64 * 1024;

// Reads fd to EOF and hands each whole record of record_size bytes to on_record. read(2) stops
// wherever the buffer ends, not at a record boundary, so a partial record is kept and completed
// by the next read; EOF inside a record throws std::system_error, as does a failed read.
void readFixedSizeRecords(int fd, std::size_t record_size, const std::string& what,
                          const std::function<void(const char*)>& on_record,
                          std::size_t buffer_size = kIteratorReadBufferSize);

// The kernel's internal dev_t (MAJOR << 20 | MINOR) as user space's st_dev (new_encode_dev).
dev_t devFromKernelEncoding(std::uint64_t kernel_dev);

}  // namespace ipcwatch
