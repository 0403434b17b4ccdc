#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "audit/audit_log_tail.h"

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;

std::string denial(int serial, const std::string& perm) {
  return "type=AVC msg=audit(1700000000.000:" + std::to_string(serial) + "): avc:  denied  { " +
         perm +
         " } for  pid=1 comm=\"httpd\" scontext=system_u:system_r:httpd_t:s0 "
         "tcontext=system_u:object_r:user_tmp_t:s0 tclass=fifo_file permissive=0\n";
}

void append(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

class AuditLogTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ipcwatch-auditlog-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = dir_ / "audit.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::uint64_t count(const DenialStore& store, const std::string& perm) {
    const auto s = store.snapshot();
    const auto it = s.denials.find({"fifo_file", perm, "httpd_t", "user_tmp_t", "0", "kernel"});
    return it == s.denials.end() ? 0 : it->second;
  }
  // Polls until `perm` reaches `expected` or 5 s pass; returns the last value.
  std::uint64_t waitFor(const DenialStore& store, const std::string& perm, std::uint64_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::uint64_t n = count(store, perm);
    while (n < expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      n = count(store, perm);
    }
    return n;
  }

  std::filesystem::path dir_;
  std::filesystem::path log_;
};

TEST_F(AuditLogTailTest, StartsAtEndAndFollowsRenameAndTruncateRotation) {
  append(log_, denial(1, "read") + denial(2, "read"));  // before start: not counted
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 10);
  AuditLogTail tail(store, log_.string(), 20ms);

  append(log_, denial(3, "write"));
  // A line written in two pieces is one record.
  const std::string split = denial(4, "write");
  append(log_, split.substr(0, 40));
  std::this_thread::sleep_for(60ms);  // let the tail see the torn half (not synchronisation)
  append(log_, split.substr(40));
  EXPECT_EQ(waitFor(store, "write", 2), 2u);

  // Rename rotation: the old file gets one last line after the rename, then a new file.
  std::filesystem::rename(log_, dir_ / "audit.log.1");
  append(dir_ / "audit.log.1", denial(5, "open"));
  append(log_, denial(6, "open") + denial(7, "open"));
  EXPECT_EQ(waitFor(store, "open", 3), 3u);

  // Truncate rotation (copytruncate): shorter content than before, read from the start.
  append(log_, denial(8, "ioctl"));
  EXPECT_EQ(waitFor(store, "ioctl", 1), 1u);
  std::filesystem::resize_file(log_, 0);
  append(log_, denial(9, "getattr"));
  EXPECT_EQ(waitFor(store, "getattr", 1), 1u);

  // Nothing is counted twice: wait for a sentinel after everything, then check every count.
  append(log_, denial(10, "lock"));
  EXPECT_EQ(waitFor(store, "lock", 1), 1u);
  EXPECT_EQ(count(store, "read"), 0u);
  EXPECT_EQ(count(store, "write"), 2u);
  EXPECT_EQ(count(store, "open"), 3u);
  EXPECT_EQ(count(store, "ioctl"), 1u);
  EXPECT_EQ(count(store, "getattr"), 1u);
  const auto s = store.snapshot();
  EXPECT_EQ((s.records.at({"audit_log", "AVC"})), 8u);
  EXPECT_EQ(s.parse_errors.at("audit_log"), 0u);
  EXPECT_EQ(s.lost.at("audit_log"), 0u);
}

TEST_F(AuditLogTailTest, MissingFileIsReadFromItsStartOnceCreated) {
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 10);
  AuditLogTail tail(store, log_.string(), 20ms);
  append(log_, denial(1, "read") + "garbage that is no record\n" +
                   "type=AVC msg=audit(1700000000.000:2): avc:  denied  { read }\n");
  EXPECT_EQ(waitFor(store, "read", 1), 1u);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (store.snapshot().parse_errors.at("audit_log") < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(store.snapshot().parse_errors.at("audit_log"), 1u);
}

TEST_F(AuditLogTailTest, OverlongLinesAreDroppedAndCountedAsLost) {
  append(log_, "");
  LabelCaps caps(10, 10, 100);
  DenialStore store(caps, 10);
  AuditLogTail tail(store, log_.string(), 20ms);
  append(log_, std::string(AuditLogTail::kMaxLine + 10, 'x') + "\n" + denial(1, "read"));
  EXPECT_EQ(waitFor(store, "read", 1), 1u);
  EXPECT_EQ(store.snapshot().lost.at("audit_log"), 1u);
}

}  // namespace
}  // namespace ipcwatch
