#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "agent_process.h"

namespace ipcwatch::testing {

// A FUSE file system that never answers: the test opens /dev/fuse and never reads it, so every
// lookup or stat under the mount point waits in the kernel (a killable wait: the agent can still
// exit) until abort() closes the device, after which they fail with ENOTCONN. This is the
// stuck path of a dead network or FUSE mount, made on purpose.
//
// It is mounted only inside the agent's own mount namespace (mountInPrivateNamespace, run by
// AgentProcess before exec), so nothing else on the host can walk into it: outside, the mount
// point is an empty directory.
class UnansweredFuseMount {
 public:
  // Creates the mount point under `parent_dir` and opens /dev/fuse.
  explicit UnansweredFuseMount(const std::string& parent_dir);
  ~UnansweredFuseMount();
  UnansweredFuseMount(const UnansweredFuseMount&) = delete;
  UnansweredFuseMount& operator=(const UnansweredFuseMount&) = delete;

  // Whether /dev/fuse could be opened (why not, when not).
  bool available() const { return fd_ >= 0; }
  const std::string& unavailableReason() const { return why_; }
  const std::string& mountPoint() const { return mount_point_; }

  // In the agent's child before exec: a private mount namespace, the mount in it, and the
  // child's copy of the device closed (the test keeps its own). Returns 0, or an exit code.
  int mountInPrivateNamespace() const;
  // Closes the device: the kernel aborts the connection and every waiting call returns.
  void abort();

 private:
  std::string mount_point_;
  std::string why_;
  int fd_ = -1;
};

// Whether a thread of `pid` is waiting in the FUSE code of the kernel (its wchan names a fuse_
// function), i.e. a call into an unanswered mount is in flight.
bool threadWaitsInFuse(pid_t pid);

// Polls threadWaitsInFuse for up to `deadline`.
bool waitForThreadInFuse(pid_t pid, std::chrono::milliseconds deadline);

// A GET /metrics sent from a thread of its own to an agent whose scrape will hang in `mount`.
// Destruction aborts the mount first, so the scrape (and the thread) can end whatever the agent
// did.
class ScrapeInFlight {
 public:
  ScrapeInFlight(UnansweredFuseMount& mount, int port);
  ~ScrapeInFlight();
  ScrapeInFlight(const ScrapeInFlight&) = delete;
  ScrapeInFlight& operator=(const ScrapeInFlight&) = delete;

  // Waits for the answer (abort the mount first, or the agent must have gone).
  std::optional<HttpResponse> response();

 private:
  UnansweredFuseMount& mount_;
  std::optional<HttpResponse> response_;
  std::thread thread_;
};

}  // namespace ipcwatch::testing
