#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "audit/denial_store.h"
#include "util/stoppable_thread.h"
#include "util/unique_fd.h"

namespace ipcwatch {

// Follows audit.log like `tail -F`: starts at the end of the file (what is already there was
// written before we started and may have been counted by an earlier run), reads each appended
// line once, and survives both rotation styles. After a rename (auditd's own rotation,
// logrotate) it first drains the renamed file, then reads the new file from its start; after a
// truncation (copytruncate) it reads from the start again. A failure of its thread (bad_alloc,
// a parser that throws) starts the loop again after a backoff (StoppableThread), from the
// offset it had reached.
class AuditLogTail {
 public:
  static constexpr const char* kName = "audit_log";
  static constexpr const char* kThreadName = "selinux audit_log";

  AuditLogTail(DenialStore& store, std::string path,
               std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~AuditLogTail();  // stops and joins the thread
  AuditLogTail(const AuditLogTail&) = delete;
  AuditLogTail& operator=(const AuditLogTail&) = delete;

  // Lines longer than this are dropped and counted as lost.
  static constexpr std::size_t kMaxLine = 64 * 1024;

 private:
  void run(int stop_fd);
  void poll();
  bool openCurrent(bool at_end);
  void readAppended();
  void handleLine(std::string_view line);

  DenialStore& store_;
  const std::string path_;
  const std::chrono::milliseconds interval_;
  UniqueFd file_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  std::string partial_;     // the unfinished last line
  bool skipping_ = false;   // inside an over-long line, until its newline
  StoppableThread thread_;  // last: it stops before the state it reads goes away
};

// Feeds the last `max_bytes` of the audit log at `path` (whole lines only) to `store`, for a
// one-shot reader such as `ipcwatch diagnose`. False when the file cannot be read.
bool readAuditLogHistory(DenialStore& store, const std::string& path, std::size_t max_bytes);

}  // namespace ipcwatch
