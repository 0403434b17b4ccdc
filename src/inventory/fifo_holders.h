#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/endpoint_scan.h"

namespace ipcwatch {

struct FifoHolders {
  std::uint32_t readers = 0;            // open file descriptions opened O_RDONLY or O_RDWR
  std::uint32_t writers = 0;            // opened O_WRONLY or O_RDWR
  std::set<std::uint32_t> reader_pids;  // the processes behind them
  std::set<std::uint32_t> writer_pids;
};

// The `flags:` field of /proc/<pid>/fdinfo/<fd> (octal open flags), or nullopt.
std::optional<unsigned> parseFdinfoFlags(std::string_view fdinfo);

// One descriptor of a process that refers to a named FIFO.
struct FifoDescriptor {
  std::uint32_t pid = 0;
  FileId id;
  bool read = false;
  bool write = false;
};

// One descriptor of a process that refers to a socket; `ino` is the socket's inode in sockfs,
// the inode sock_diag and /proc/net/unix report (one numbering for every network namespace).
struct SocketDescriptor {
  std::uint32_t pid = 0;
  std::uint64_t ino = 0;
};

struct FifoHolderScan {
  std::map<FileId, FifoHolders> holders;    // only FIFOs of the set that someone holds open
  std::vector<FifoDescriptor> descriptors;  // the same, one entry per descriptor
  std::vector<SocketDescriptor> sockets;    // only when asked for (any family: the caller
                                            // matches the inodes it knows)
  bool out_of_time = false;
};

// Looks through every process's open files (<procfs>/<pid>/fd, stat()ed through the magic
// links, which does not open them) for the given FIFOs, and tells readers from writers by the
// access mode in fdinfo. One pass for all FIFOs: it costs a stat per open file on the host.
FifoHolderScan findFifoHolders(const std::string& procfs, const std::set<FileId>& fifos,
                               std::chrono::steady_clock::time_point deadline);
// The same walk for every FIFO (`fifos` nullopt) except those on `pipe_dev`, the device of
// anonymous pipes: the host snapshot's procfs backend.
// With `sockets`, the socket descriptors too (the stat() of each is made anyway).
FifoHolderScan findFifoHolders(const std::string& procfs,
                               const std::optional<std::set<FileId>>& fifos,
                               std::chrono::steady_clock::time_point deadline, dev_t pipe_dev,
                               bool sockets = false);

}  // namespace ipcwatch
