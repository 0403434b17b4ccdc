#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ipcwatch::testing {

// A production-sized host generated on the test machine: many idle processes holding many
// descriptors, network and IPC namespaces kept alive by some of them, FIFOs with and without
// readers. Everything is torn down by the destructor (children killed and reaped, files
// removed; the namespaces die with the children that hold them). Children also get
// PR_SET_PDEATHSIG, so a benchmark that crashes does not leave them behind.
class BigHost {
 public:
  struct Options {
    int processes = 1000;
    int fds_per_process = 100;  // counting the 3 standard descriptors
    int network_namespaces = 100;
    int ipc_namespaces = 100;
    int shm_every = 4;  // a SysV shm segment in every Nth new IPC namespace
    int fifo_endpoints = 10;
    int socket_endpoints = 2;  // listening unix stream sockets, each with a server child
    std::chrono::seconds ready_deadline{120};
  };

  // Throws std::runtime_error when the host cannot be built (everything built so far is torn
  // down first).
  explicit BigHost(const Options& options);
  ~BigHost();
  BigHost(const BigHost&) = delete;
  BigHost& operator=(const BigHost&) = delete;

  // The directory under /tmp that holds the generated files.
  const std::string& dir() const { return dir_; }
  // FIFOs with a reading child each (the endpoints a benchmark configures).
  const std::vector<std::string>& endpointFifos() const { return endpoint_fifos_; }
  // The comm of the reader of endpointFifos()[i].
  std::string serverComm(int i) const;
  // The comm of generic child i (0 <= i < processes).
  std::string childComm(int i) const;
  // A FIFO under /tmp that nobody holds open.
  const std::string& orphanFifo() const { return orphan_fifo_; }
  int processCount() const { return static_cast<int>(children_.size()); }
  const Options& options() const { return options_; }

  // The endpoints: section of an agent configuration with one endpoint per reader FIFO and per
  // listening socket, two clients each: `nobody` as a user, and a running generic child as a
  // process.
  std::string endpointsYaml() const;

 private:
  void build();
  void teardown();
  void spawn(const std::string& comm, int kind, int index);
  void waitUntilReady();

  Options options_;
  std::string dir_;
  std::string orphan_fifo_;
  std::vector<std::string> endpoint_fifos_;
  std::vector<std::string> endpoint_sockets_;
  std::vector<std::string> regular_files_;
  std::vector<pid_t> children_;
  // Children block in read() on hold_read_; closing hold_write_ ends every one of them.
  int hold_read_ = -1;
  int hold_write_ = -1;
  // Each child writes one byte when it is set up: 'R' ready, 'E' a setup step failed.
  int ready_read_ = -1;
  int ready_write_ = -1;
};

}  // namespace ipcwatch::testing
