#include "audit/audit_log_tail.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace ipcwatch {

AuditLogTail::AuditLogTail(DenialStore& store, std::string path, std::chrono::milliseconds interval)
    : store_(store), path_(std::move(path)), interval_(interval) {
  if (!openCurrent(/*at_end=*/true)) {
    // Not fatal: auditd may create it later; it is then read from its start.
    spdlog::warn("selinux: {} does not exist yet; waiting for it", path_);
  }
  store_.declareSource(kName);
  thread_.start(kThreadName, [this](int stop_fd) { run(stop_fd); });
}

AuditLogTail::~AuditLogTail() {
  thread_.stop();
}

bool AuditLogTail::openCurrent(bool at_end) {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
    return false;
  }
  file_ = std::move(fd);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = at_end ? st.st_size : 0;
  partial_.clear();
  skipping_ = false;
  return true;
}

void AuditLogTail::run(int stop_fd) {
  pollfd stop{stop_fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&stop, 1, static_cast<int>(interval_.count()));
    if (ready > 0) {
      return;
    }
    injectedFailurePoint(kThreadName);
    poll();
  }
}

void AuditLogTail::poll() {
  if (!file_.valid()) {
    openCurrent(/*at_end=*/false);
  }
  if (!file_.valid()) {
    return;
  }
  struct stat st {};
  if (::fstat(file_.get(), &st) == 0 && st.st_size < offset_) {
    offset_ = 0;  // truncated in place: everything in it now is new
    partial_.clear();
    skipping_ = false;
  }
  readAppended();
  struct stat current {};
  if (::stat(path_.c_str(), &current) == 0 && (current.st_ino != ino_ || current.st_dev != dev_)) {
    // Renamed away and replaced: the old file is drained (above), the new one is all new.
    if (!partial_.empty()) {
      handleLine(partial_);
    }
    if (openCurrent(/*at_end=*/false)) {
      readAppended();
    }
  }
}

void AuditLogTail::readAppended() {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::pread(file_.get(), buffer, sizeof buffer, offset_);
    if (n <= 0) {
      return;
    }
    offset_ += n;
    std::string_view chunk(buffer, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      const std::size_t newline = chunk.find('\n');
      const std::string_view piece = chunk.substr(0, newline);
      if (!skipping_) {
        partial_.append(piece);
      }
      if (partial_.size() > kMaxLine) {
        store_.addLost(kName, 1);
        partial_.clear();
        skipping_ = true;
      }
      if (newline == std::string_view::npos) {
        break;
      }
      if (!skipping_) {
        handleLine(partial_);
      }
      partial_.clear();
      skipping_ = false;
      chunk.remove_prefix(newline + 1);
    }
  }
}

void AuditLogTail::handleLine(std::string_view line) {
  for (const auto& record : parseAuditLine(line)) {
    if (record.kind == AuditRecordKind::kMalformed) {
      spdlog::debug("audit.log: cannot parse {} record ({}): {}", record.type, record.error, line);
    }
    store_.add(kName, record);
  }
}

bool readAuditLogHistory(DenialStore& store, const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
    return false;
  }
  const off_t start =
      st.st_size > static_cast<off_t>(max_bytes) ? st.st_size - static_cast<off_t>(max_bytes) : 0;
  std::string text(static_cast<std::size_t>(st.st_size - start), '\0');
  const ssize_t n = ::pread(fd.get(), text.data(), text.size(), start);
  if (n < 0) {
    return false;
  }
  text.resize(static_cast<std::size_t>(n));
  std::size_t at = 0;
  if (start > 0) {  // the first line is cut: skip it
    at = text.find('\n');
    at = at == std::string::npos ? text.size() : at + 1;
  }
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      break;  // being written
    }
    for (const auto& record : parseAuditLine(std::string_view(text).substr(at, end - at))) {
      store.add(AuditLogTail::kName, record);
    }
    at = end + 1;
  }
  return true;
}

}  // namespace ipcwatch
