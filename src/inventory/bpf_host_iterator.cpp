#include "inventory/bpf_host_iterator.h"

#include <linux/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "host_iter.skel.h"
#include "ipcwatch/bpf/host_iter.h"
#include "util/libbpf_error.h"
#include "util/unique_fd.h"

namespace ipcwatch {

static_assert(sizeof(ipcw_host_task) == 80, "ABI of struct ipcw_host_task changed");
static_assert(sizeof(ipcw_host_file) == 24, "ABI of struct ipcw_host_file changed");

namespace {

void readIterator(bpf_link* link, std::size_t record_size, const char* what,
                  const std::function<void(const char*)>& on_record) {
  const UniqueFd iter(bpf_iter_create(bpf_link__fd(link)));
  if (!iter.valid()) {
    throw std::system_error(errno, std::generic_category(),
                            std::string("create ") + what + " iterator");
  }
  readFixedSizeRecords(iter.get(), record_size, what, on_record);
}

template <typename Record>
Record recordAt(const char* bytes) {
  Record record;
  std::memcpy(&record, bytes, sizeof(record));
  return record;
}

// bpf_loop comes from the helpers every program type shares (bpf_base_func_proto), so where
// libbpf cannot probe a tracing program (it needs an attach target, and libbpf answers
// -EOPNOTSUPP) a socket filter answers for it.
bool kernelHasBpfLoop() {
  int has = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACING, BPF_FUNC_loop, nullptr);
  if (has == -EOPNOTSUPP) {
    has = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_loop, nullptr);
  }
  return has == 1;
}

// bpf_rdonly_cast (6.2+) is a kfunc: the kernel has it when its BTF names it.
bool kernelHasRdonlyCast() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) {
    return false;
  }
  const bool has = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
  btf__free(vmlinux);
  return has;
}

std::string commOf(const char (&comm)[IPCW_HOST_COMM_LEN]) {
  return std::string(comm, strnlen(comm, sizeof(comm)));
}

}  // namespace

void readFixedSizeRecords(int fd, std::size_t record_size, const std::string& what,
                          const std::function<void(const char*)>& on_record,
                          std::size_t buffer_size) {
  std::vector<char> buffer(std::max(buffer_size, record_size));
  std::size_t filled = 0;
  for (;;) {
    const ssize_t n = read(fd, buffer.data() + filled, buffer.size() - filled);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "read " + what + " iterator");
    }
    if (n == 0) {
      break;
    }
    filled += static_cast<std::size_t>(n);
    std::size_t offset = 0;
    for (; filled - offset >= record_size; offset += record_size) {
      on_record(buffer.data() + offset);
    }
    std::memmove(buffer.data(), buffer.data() + offset, filled - offset);
    filled -= offset;
  }
  if (filled != 0) {
    throw std::system_error(EPROTO, std::generic_category(),
                            what + " iterator ended inside a record");
  }
}

dev_t devFromKernelEncoding(std::uint64_t kernel_dev) {
  // include/linux/kdev_t.h: inside the kernel MINORBITS is 20; stat(2) hands out
  // new_encode_dev(), which keeps the old 8:8 layout for small numbers.
  const std::uint64_t major = (kernel_dev >> 20) & 0xfff;
  const std::uint64_t minor = kernel_dev & 0xfffff;
  return static_cast<dev_t>((minor & 0xff) | (major << 8) | ((minor & ~std::uint64_t{0xff}) << 12));
}

void BpfHostIterator::SkeletonDeleter::operator()(host_iter_bpf* skel) const {
  host_iter_bpf__destroy(skel);
}

void BpfHostIterator::LinkDeleter::operator()(bpf_link* link) const {
  bpf_link__destroy(link);
}

std::unique_ptr<BpfHostIterator> BpfHostIterator::create(bool want_sockets, std::string& why,
                                                         FileWalk walk) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    why = "kernel BTF (/sys/kernel/btf/vmlinux) is not available: " +
          std::string(std::strerror(errno));
    return nullptr;
  }
  std::unique_ptr<BpfHostIterator> self(new BpfHostIterator());
  self->skel_.reset(host_iter_bpf__open());
  if (!self->skel_) {
    why = "open host_iter BPF object: " + libbpfErrorText(errno);
    return nullptr;
  }
  self->skel_->rodata->want_sockets = want_sockets;
  const bool has_loop = kernelHasBpfLoop();
  const bool has_cast = has_loop && kernelHasRdonlyCast();
  if ((walk == FileWalk::kBpfLoop || walk == FileWalk::kBpfLoopBtf) && !has_loop) {
    why = "the kernel has no bpf_loop helper (5.17+)";
    return nullptr;
  }
  if (walk == FileWalk::kBpfLoopBtf && !has_cast) {
    why = "the kernel has no bpf_rdonly_cast kfunc (6.2+)";
    return nullptr;
  }
  self->walk_ = walk != FileWalk::kAuto ? walk
                : has_cast              ? FileWalk::kBpfLoopBtf
                : has_loop              ? FileWalk::kBpfLoop
                                        : FileWalk::kTaskFile;
  // Only one walk is loaded: the verifier rejects the bpf_loop walks where bpf_loop is missing
  // and host_files_loop_btf where bpf_rdonly_cast is, and the others would load for nothing.
  bpf_program__set_autoload(self->skel_->progs.host_files_loop_btf,
                            self->walk_ == FileWalk::kBpfLoopBtf);
  bpf_program__set_autoload(self->skel_->progs.host_files_loop, self->walk_ == FileWalk::kBpfLoop);
  bpf_program__set_autoload(self->skel_->progs.host_files, self->walk_ == FileWalk::kTaskFile);
  if (const int err = host_iter_bpf__load(self->skel_.get()); err != 0) {
    why = "load host_iter BPF object (needs iter/task and iter/task_file, CAP_BPF or root): " +
          libbpfErrorText(-err);
    return nullptr;
  }
  self->tasks_link_.reset(bpf_program__attach_iter(self->skel_->progs.host_tasks, nullptr));
  if (!self->tasks_link_) {
    why = "attach iter/task: " + libbpfErrorText(errno);
    return nullptr;
  }
  bpf_program* files = self->walk_ == FileWalk::kBpfLoopBtf ? self->skel_->progs.host_files_loop_btf
                       : self->walk_ == FileWalk::kBpfLoop  ? self->skel_->progs.host_files_loop
                                                            : self->skel_->progs.host_files;
  self->files_link_.reset(bpf_program__attach_iter(files, nullptr));
  if (!self->files_link_) {
    why = std::string("attach the ") + self->fileWalk() +
          " descriptor walk: " + libbpfErrorText(errno);
    return nullptr;
  }
  return self;
}

BpfHostIterator::~BpfHostIterator() = default;

std::vector<KernelProcess> BpfHostIterator::processes() const {
  std::vector<KernelProcess> out;
  readIterator(tasks_link_.get(), sizeof(ipcw_host_task), "task", [&out](const char* bytes) {
    const auto rec = recordAt<ipcw_host_task>(bytes);
    KernelProcess& process = out.emplace_back();
    process.pid = rec.tgid;
    process.ppid = rec.ppid;
    process.euid = rec.euid;
    process.egid = rec.egid;
    process.comm = commOf(rec.comm);
    process.mnt_ns = rec.mnt_ns;
    process.net_ns = rec.net_ns;
    process.ipc_ns = rec.ipc_ns;
    process.pid_ns = rec.pid_ns;
    process.pipe_uid = rec.pipe_uid;
    process.pipe_pages = rec.pipe_pages;
    if (rec.mq_valid != 0) {
      process.mqueue_limits = MqueueLimits{rec.mq_queues_max, rec.mq_msg_max, rec.mq_msgsize_max};
    }
  });
  return out;
}

std::vector<KernelOpenFile> BpfHostIterator::openFiles() const {
  std::vector<KernelOpenFile> out;
  readIterator(files_link_.get(), sizeof(ipcw_host_file), fileWalk(), [&out](const char* bytes) {
    const auto rec = recordAt<ipcw_host_file>(bytes);
    KernelOpenFile& file = out.emplace_back();
    file.pid = rec.tgid;
    file.fd = static_cast<std::int32_t>(rec.fd);
    file.kind = rec.kind == IPCW_HOST_FILE_UNIX_SOCKET ? KernelOpenFile::Kind::kUnixSocket
                                                       : KernelOpenFile::Kind::kFifo;
    file.read = (rec.access & IPCW_HOST_FILE_READ) != 0;
    file.write = (rec.access & IPCW_HOST_FILE_WRITE) != 0;
    file.dev = devFromKernelEncoding(rec.dev);
    file.ino = static_cast<ino_t>(rec.ino);
  });
  return out;
}

std::vector<KernelOpenFile> BpfHostIterator::openFiles(const std::vector<std::uint64_t>& sockets) {
  std::lock_guard lock(filter_mutex_);
  const int map = bpf_map__fd(skel_->maps.wanted_sockets);
  for (const auto ino : wanted_) {
    bpf_map_delete_elem(map, &ino);
  }
  wanted_.clear();
  const bool filter = sockets.size() <= IPCW_WANTED_SOCKETS_MAX;
  if (filter) {
    const __u8 yes = 1;
    for (const auto ino : sockets) {
      const __u64 key = ino;
      if (bpf_map_update_elem(map, &key, &yes, BPF_ANY) != 0) {
        throw std::system_error(errno, std::generic_category(), "fill wanted_sockets");
      }
      wanted_.push_back(ino);
    }
  }
  skel_->bss->filter_sockets = filter;
  struct Unfilter {
    host_iter_bpf* skel;
    ~Unfilter() { skel->bss->filter_sockets = false; }
  } unfilter{skel_.get()};
  return openFiles();
}

const char* fileWalkName(FileWalk walk) {
  switch (walk) {
    case FileWalk::kBpfLoopBtf:
      return "bpf_loop_btf";
    case FileWalk::kBpfLoop:
      return "bpf_loop";
    case FileWalk::kTaskFile:
      return "task_file";
    case FileWalk::kAuto:
      break;
  }
  return "auto";
}

const char* BpfHostIterator::fileWalk() const {
  return fileWalkName(walk_);
}

std::uint64_t BpfHostIterator::truncatedFileWalks() const {
  if (walk_ == FileWalk::kTaskFile) {
    return 0;
  }
  const __u32 key = IPCW_FDWALK_TRUNCATED_TASKS;
  __u64 value = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.fdwalk_stats), &key, &value) != 0) {
    throw std::system_error(errno, std::generic_category(), "read fdwalk_stats");
  }
  return value;
}

}  // namespace ipcwatch
