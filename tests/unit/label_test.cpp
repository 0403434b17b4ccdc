#include <gtest/gtest.h>

#include "metrics/label_cap.h"
#include "metrics/label_caps.h"
#include "metrics/label_value.h"

namespace ipcwatch {
namespace {

TEST(SanitizeLabelValue, KeepsPrintableAsciiAndValidUtf8) {
  EXPECT_EQ(sanitizeLabelValue("opensips"), "opensips");
  EXPECT_EQ(sanitizeLabelValue("a \"quoted\" \\ name"), "a \"quoted\" \\ name");
  EXPECT_EQ(sanitizeLabelValue("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(sanitizeLabelValue("\xe2\x82\xac\xf0\x9f\x98\x80"), "\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(SanitizeLabelValue, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(sanitizeLabelValue("line\nbreak"), "line\\x0abreak");
  EXPECT_EQ(sanitizeLabelValue(std::string_view("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(sanitizeLabelValue("del\x7f"), "del\\x7f");
  EXPECT_EQ(sanitizeLabelValue("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(sanitizeLabelValue("\xc3"), "\\xc3");                 // truncated sequence
  EXPECT_EQ(sanitizeLabelValue("\xc0\xaf"), "\\xc0\\xaf");         // overlong '/'
  EXPECT_EQ(sanitizeLabelValue("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // UTF-16 surrogate
  EXPECT_EQ(sanitizeLabelValue("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
}

TEST(FromKernelString, StopsAtNulOrCapacity) {
  const char comm[16] = {'b', 'a', 's', 'h', 0, 'j', 'u', 'n', 'k'};
  EXPECT_EQ(fromKernelString(comm, sizeof comm), "bash");
  const char full[4] = {'a', 'b', 'c', 'd'};
  EXPECT_EQ(fromKernelString(full, sizeof full), "abcd");
}

TEST(LabelCap, AdmitsUpToCapThenFoldsIntoOther) {
  LabelCap cap(2, 100);
  EXPECT_EQ(cap.admit("a"), "a");
  EXPECT_EQ(cap.admit("b"), "b");
  EXPECT_EQ(cap.admit("c"), "other");
  EXPECT_EQ(cap.admit("a"), "a");  // admitted values stay admitted
  EXPECT_EQ(cap.admit("c"), "other");
  EXPECT_EQ(cap.admit("d"), "other");
  EXPECT_EQ(cap.admittedCount(), 2u);
  EXPECT_EQ(cap.folds(), 2u);  // c and d, each counted once
}

TEST(LabelCap, LiteralOtherIsNeverAdmittedAsAValue) {
  LabelCap cap(5, 100);
  EXPECT_EQ(cap.admit("other"), "other");
  EXPECT_EQ(cap.admittedCount(), 0u);
  EXPECT_EQ(cap.folds(), 1u);
}

TEST(LabelCap, CountsEveryFoldOnceRememberedSetIsFull) {
  LabelCap cap(1, 1);
  cap.admit("kept");
  cap.admit("x");  // remembered
  cap.admit("x");  // already counted
  cap.admit("y");  // set full: counted every time
  cap.admit("y");
  EXPECT_EQ(cap.folds(), 3u);
}

TEST(LabelCaps, OneCapPerMetric) {
  LabelCaps caps(1, 1, 10);
  EXPECT_EQ(caps.comm("m1").admit("a"), "a");
  EXPECT_EQ(caps.comm("m2").admit("b"), "b");
  EXPECT_EQ(caps.comm("m1").admit("b"), "other");
  const auto folds = caps.folds();
  ASSERT_EQ(folds.size(), 2u);
  EXPECT_EQ(folds[0], (std::pair<std::string, std::uint64_t>{"m1", 1}));
  EXPECT_EQ(folds[1], (std::pair<std::string, std::uint64_t>{"m2", 0}));
}

TEST(LabelCaps, PathAndCommCapsOfOneMetricAddUp) {
  LabelCaps caps(1, 1, 10);
  caps.comm("m").admit("a");
  caps.comm("m").admit("b");
  caps.path("m").admit("/x");
  caps.path("m").admit("/y");
  caps.path("m").admit("/z");
  const auto folds = caps.folds();
  ASSERT_EQ(folds.size(), 1u);
  EXPECT_EQ(folds[0].second, 3u);
}

}  // namespace
}  // namespace ipcwatch
