// CommCounterFamily against a real per-CPU hash map (root only): scrape after scrape, it writes
// exactly what summing every key through FamilyBuilder writes, and leaves its LabelCap in
// exactly the state that asking the cap for every key of every scrape leaves.
#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectors/broken_pipe_collector.h"
#include "collectors/comm_counter_family.h"
#include "metrics/family.h"
#include "metrics/label_value.h"
#include "metrics/text_format.h"
#include "probes/bpf_map_reader.h"

namespace ipcwatch {
namespace {

LabelSet epipeLabels(const std::string& comm, std::uint32_t code) {
  return {{"comm", comm}, {"kind", std::string(epipeKindName(code))}};
}

ipcw_comm_key key(const std::string& comm, std::uint32_t code) {
  ipcw_comm_key k{};
  std::memcpy(k.comm, comm.data(), std::min(comm.size(), sizeof k.comm));
  k.code = code;
  return k;
}

// What the collectors did before they kept their series: every key through the cap and a
// FamilyBuilder, every scrape.
std::string reference(int map_fd, LabelCap& cap, const std::vector<std::uint64_t>& other) {
  FamilyBuilder family("ipc_epipe_total", "EPIPE.", MetricType::Counter);
  forEachPerCpuCounter<ipcw_comm_key>(map_fd, [&](const ipcw_comm_key& k, std::uint64_t n) {
    const std::string comm = cap.admit(sanitizeLabelValue(fromKernelString(k.comm, sizeof k.comm)));
    family.add(epipeLabels(comm, k.code), static_cast<double>(n));
  });
  for (std::uint32_t code = 0; code < other.size(); ++code) {
    if (other[code] != 0) {
      family.add(epipeLabels(std::string(LabelCap::kOther), code),
                 static_cast<double>(other[code]));
    }
  }
  std::string text;
  if (!family.empty()) {
    appendExposition(text, {family.build()});
  }
  return text;
}

std::string scrape(CommCounterFamily& family, int map_fd, const std::vector<std::uint64_t>& other) {
  family.beginScrape();
  family.addMap(map_fd);
  for (std::uint32_t code = 0; code < other.size(); ++code) {
    if (other[code] != 0) {
      family.addOther(code, other[code]);
    }
  }
  std::vector<MetricFamily> out;
  family.appendTo(out);
  std::string text;
  appendExposition(text, out);
  return text;
}

class CommCounterFamilyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create BPF maps; CI runs this as root";
    }
    map_fd_ = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "test_comm", sizeof(ipcw_comm_key),
                             sizeof(std::uint64_t), 256, nullptr);
    ASSERT_GE(map_fd_, 0) << std::strerror(errno);
  }
  void TearDown() override {
    if (map_fd_ >= 0) {
      close(map_fd_);
    }
  }
  // Sets the key's count on every CPU: the reader must sum them.
  void put(const std::string& comm, std::uint32_t code, std::uint64_t per_cpu) {
    const ipcw_comm_key k = key(comm, code);
    std::vector<std::uint64_t> values(static_cast<std::size_t>(possibleCpus()), per_cpu);
    ASSERT_EQ(bpf_map_update_elem(map_fd_, &k, values.data(), BPF_ANY), 0);
  }
  void remove(const std::string& comm, std::uint32_t code) {
    const ipcw_comm_key k = key(comm, code);
    ASSERT_EQ(bpf_map_delete_elem(map_fd_, &k), 0);
  }

  int map_fd_ = -1;
};

TEST_F(CommCounterFamilyTest, MatchesAskingTheCapForEveryKeyEveryScrape) {
  // Room for two comms, one folded value remembered: past it, every fold is counted each time
  // the cap is asked, so skipping or repeating a question would show in folds().
  LabelCap kept_cap(2, 1);
  LabelCap reference_cap(2, 1);
  CommCounterFamily family("ipc_epipe_total", "EPIPE.", kept_cap, epipeLabels);
  const auto expectSame = [&](const std::vector<std::uint64_t>& other, const char* when) {
    const std::string expected = reference(map_fd_, reference_cap, other);
    EXPECT_EQ(scrape(family, map_fd_, other), expected) << when;
    EXPECT_EQ(kept_cap.folds(), reference_cap.folds()) << when;
    EXPECT_EQ(kept_cap.admittedCount(), reference_cap.admittedCount()) << when;
    return expected;
  };

  EXPECT_EQ(expectSame({}, "empty map"), "");
  put("bash", IPCW_KIND_PIPE, 1);
  put("bash", IPCW_KIND_FIFO, 2);
  put("bad\x01\xff", IPCW_KIND_PIPE, 3);  // sanitized; the second comm admitted
  put("zsh", IPCW_KIND_PIPE, 4);          // folded
  put("other", IPCW_KIND_TCP, 5);         // never admitted: shares the fold bucket
  // Which two comms are admitted depends on the kernel's read order; the literal "other" and
  // the fallback count are in the fold bucket whatever it is.
  const std::string first = expectSame({0, 6}, "first scrape");
  EXPECT_NE(first.find("ipc_epipe_total{comm=\"other\",kind=\"tcp\"} " +
                       std::to_string(5 * possibleCpus()) + "\n"),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("ipc_epipe_total{comm=\"other\",kind=\"fifo\"} "), std::string::npos)
      << first;
  EXPECT_EQ(kept_cap.admittedCount(), 2u);
  EXPECT_GE(kept_cap.folds(), 2u);

  expectSame({0, 6}, "same keys again");
  put("bash", IPCW_KIND_PIPE, 10);
  for (int i = 0; i < 40; ++i) {  // new keys move the old ones in the kernel's read order
    put("new" + std::to_string(i), IPCW_KIND_UNIX_STREAM, 1);
  }
  expectSame({3, 6}, "after new keys");
  remove("bash", IPCW_KIND_FIFO);
  remove("zsh", IPCW_KIND_PIPE);
  const std::string last = expectSame({}, "after deletions");
  EXPECT_EQ(last.find("kind=\"fifo\""), std::string::npos) << last;
}

}  // namespace
}  // namespace ipcwatch
