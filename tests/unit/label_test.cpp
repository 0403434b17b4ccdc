#include <gtest/gtest.h>

#include "metrics/label_cap.h"
#include "metrics/label_caps.h"
#include "metrics/label_value.h"
#include "metrics/scrape_label_cap.h"

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

TEST(ScrapeLabelCap, KeepsTheMostRelevantValuesOfEachScrape) {
  ScrapeLabelCap cap(2, 100);
  const auto first = cap.admit({{"/a", 1}, {"/b", 5}, {"/c", 3}});
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(first.label("/b"), "/b");
  EXPECT_EQ(first.label("/c"), "/c");
  EXPECT_EQ(first.label("/a"), "other");
  EXPECT_EQ(cap.folds(), 1u);
  // A later scrape admits afresh: values never seen before keep their names once the earlier
  // ones are gone, and a value admitted before folds when more relevant ones arrive.
  const auto second = cap.admit({{"/d", 1}, {"/e", 2}});
  EXPECT_EQ(second.label("/d"), "/d");
  EXPECT_EQ(second.label("/e"), "/e");
  const auto third = cap.admit({{"/b", 1}, {"/x", 9}, {"/y", 8}});
  EXPECT_EQ(third.label("/b"), "other");
  EXPECT_EQ(third.label("/x"), "/x");
  EXPECT_EQ(cap.folds(), 2u);  // /a, then /b
}

TEST(ScrapeLabelCap, EqualRelevanceKeepsTheSmallestValuesAndDuplicatesCountOnce) {
  ScrapeLabelCap cap(2, 100);
  // /m appears twice (two modes of one FIFO): it takes one place, at its higher relevance.
  const auto admitted = cap.admit({{"/z", 0}, {"/m", 0}, {"/b", 0}, {"/m", 7}, {"/a", 0}});
  EXPECT_TRUE(admitted.contains("/m"));
  EXPECT_TRUE(admitted.contains("/a"));
  EXPECT_FALSE(admitted.contains("/b"));
  EXPECT_FALSE(admitted.contains("/z"));
  EXPECT_EQ(cap.folds(), 2u);
  // The same values at the next scrape: the same names, and nothing newly folded.
  const auto again = cap.admit({{"/z", 0}, {"/m", 0}, {"/b", 0}, {"/m", 7}, {"/a", 0}});
  EXPECT_TRUE(again.contains("/m"));
  EXPECT_TRUE(again.contains("/a"));
  EXPECT_EQ(cap.folds(), 2u);
}

TEST(ScrapeLabelCap, LiteralOtherIsNeverAdmittedAndFullMemoryCountsEveryFold) {
  ScrapeLabelCap cap(5, 1);
  EXPECT_FALSE(cap.admit({{"other", 1}, {"/a", 0}}).contains("other"));
  EXPECT_EQ(cap.folds(), 1u);  // "other", remembered
  ScrapeLabelCap tight(0, 1);
  tight.admit({{"/x", 0}});  // remembered
  tight.admit({{"/x", 0}});  // already counted
  tight.admit({{"/y", 0}});  // set full: counted every scrape
  tight.admit({{"/y", 0}});
  EXPECT_EQ(tight.folds(), 3u);
}

TEST(LabelCaps, GaugeCapsAreListedWithTheirFolds) {
  LabelCaps caps(1, 1, 10);
  caps.gaugePath("g").admit({{"/a", 0}, {"/b", 0}});
  caps.gaugePath("g").admit({{"/c", 0}, {"/d", 0}});
  caps.path("m");
  const auto folds = caps.folds();
  ASSERT_EQ(folds.size(), 2u);
  EXPECT_EQ(folds[0], (std::pair<std::string, std::uint64_t>{"g", 2}));  // /b, /d
  EXPECT_EQ(folds[1], (std::pair<std::string, std::uint64_t>{"m", 0}));
}

}  // namespace
}  // namespace ipcwatch
