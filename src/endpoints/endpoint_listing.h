#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inventory/host_snapshot.h"
#include "inventory/ipc_namespaces.h"

namespace ipcwatch {

// A process holding an IPC endpoint, and how.
struct EndpointHolder {
  std::uint32_t pid = 0;
  std::string comm;
  std::string context;    // its SELinux context, "" when SELinux is not active
  std::string direction;  // read, write, read_write (FIFOs); listen, bound (sockets);
                          // creator (SysV shared memory)
};

// One IPC endpoint of the host, as `ipcwatch endpoints` lists it.
struct ListedEndpoint {
  // fifo, unix_stream, unix_dgram, unix_seqpacket, mqueue, sysv_shm, sysv_sem, sysv_msg
  std::string type;
  std::string name;  // a path, @name (abstract socket), /name (mqueue), 0x... key (SysV)
  std::optional<std::uint32_t> uid;  // owner, when the object has one (not abstract sockets)
  std::optional<std::uint32_t> gid;
  std::optional<std::uint32_t> mode;    // permission bits
  std::string label;                    // the file's SELinux label, "" when none
  std::string ns_kind;                  // mnt (FIFOs), net (sockets), ipc (mqueues, SysV)
  std::uint64_t ns = 0;                 // that namespace's inode
  std::vector<EndpointHolder> holders;  // by pid
};

// Every IPC endpoint of the host: the named FIFOs some process holds open, the bound unix
// sockets of every network namespace, and the POSIX message queues and SysV objects of every
// IPC namespace, with the processes holding each. From the host snapshot the collectors read
// (processes, FIFO and socket holders, the sock_diag dump) and the IPC namespace visitor; FIFO
// paths, owners and labels through the holders' descriptors (/proc/PID/fd), socket files
// inside their holder's root. Sorted by type, then name.
std::vector<ListedEndpoint> listHostEndpoints(HostSnapshot& snapshot, const std::string& procfs,
                                              IpcNamespaceVisitor& ipc_namespaces);

// The filters of `ipcwatch endpoints`.
struct EndpointFilter {
  std::string type;         // a type above, or "unix" (every socket type) or "sysv"; "": all
  std::string path_prefix;  // the name starts with it
  std::optional<std::uint32_t> pid;  // a holder is this process
  std::string context;               // fnmatch glob: a holder's context or the label matches it
};

bool matchesFilter(const ListedEndpoint& endpoint, const EndpointFilter& filter);
// Whether `type` is a value --type accepts.
bool knownEndpointType(const std::string& type);

// Human columns (TYPE NAME OWNER MODE LABEL NAMESPACE HOLDERS), one endpoint per line.
std::string renderEndpointsText(const std::vector<ListedEndpoint>& endpoints);
// One JSON array of objects.
std::string renderEndpointsJson(const std::vector<ListedEndpoint>& endpoints);

}  // namespace ipcwatch
