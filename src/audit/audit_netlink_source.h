#pragma once

#include <atomic>

#include "audit/denial_store.h"
#include "util/stoppable_thread.h"
#include "util/unique_fd.h"

namespace ipcwatch {

// Reads the kernel's audit stream as a multicast listener (NETLINK_AUDIT, group
// AUDIT_NLGRP_READLOG; needs CAP_AUDIT_READ). Read-only: it never sends AUDIT_SET and so never
// takes the audit daemon's place, and auditd keeps working beside it. Records go to the store
// from a dedicated thread; a receive queue overrun (ENOBUFS) is counted as lost. A failure of
// the thread (a failing poll or recv, bad_alloc) starts its loop again after a backoff
// (StoppableThread), on the same socket.
class AuditNetlinkSource {
 public:
  static constexpr const char* kName = "netlink";
  static constexpr const char* kThreadName = "selinux netlink";

  // Opens and binds the socket; throws std::system_error when the kernel refuses.
  explicit AuditNetlinkSource(DenialStore& store);
  ~AuditNetlinkSource();  // stops and joins the thread, then closes the socket
  AuditNetlinkSource(const AuditNetlinkSource&) = delete;
  AuditNetlinkSource& operator=(const AuditNetlinkSource&) = delete;

 private:
  void run(int stop_fd);
  void handleDatagram(const char* data, std::size_t size);

  DenialStore& store_;
  UniqueFd socket_;
  StoppableThread thread_;  // last: it stops before the socket closes
};

}  // namespace ipcwatch
