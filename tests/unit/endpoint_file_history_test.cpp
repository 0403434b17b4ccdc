// When a configured endpoint's file counts as replaced: it changed while the same server ran.
#include <gtest/gtest.h>

#include "collectors/collector_state.h"

namespace ipcwatch {
namespace {

const EndpointFile kFifo{8, 100, 1000, 010600};

TEST(EndpointFileHistory, AChangeUnderTheSameServerCountsOnce) {
  EndpointFileHistory history;
  EXPECT_FALSE(history.update("mi", kFifo, 42));
  EXPECT_FALSE(history.update("mi", kFifo, 42));
  EXPECT_EQ(history.replaced("mi"), 0u);
  const EndpointFile other{8, 101, 0, 010666};
  const auto change = history.update("mi", other, 42);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->before, kFifo);
  EXPECT_EQ(change->after, other);
  EXPECT_FALSE(history.update("mi", other, 42));
  EXPECT_EQ(history.replaced("mi"), 1u);
  EXPECT_EQ(history.replaced("api"), 0u);
}

TEST(EndpointFileHistory, EachIdentityFieldCounts) {
  EndpointFileHistory history;
  history.update("mi", kFifo, 42);
  EndpointFile chowned = kFifo;
  chowned.uid = 0;
  EXPECT_TRUE(history.update("mi", chowned, 42));
  EndpointFile chmodded = chowned;
  chmodded.mode = 010666;
  EXPECT_TRUE(history.update("mi", chmodded, 42));
  EXPECT_EQ(history.replaced("mi"), 2u);
}

TEST(EndpointFileHistory, ARestartedOrMissingServerIsNoReplacement) {
  EndpointFileHistory history;
  history.update("mi", kFifo, 42);
  EXPECT_FALSE(history.update("mi", EndpointFile{8, 101, 1000, 010600}, 43));  // new server
  EXPECT_FALSE(history.update("mi", EndpointFile{8, 102, 1000, 010600}, 0));   // none running
  EXPECT_FALSE(history.update("mi", EndpointFile{8, 103, 1000, 010600}, 44));
  EXPECT_EQ(history.replaced("mi"), 0u);
}

TEST(EndpointFileHistory, AFileBackAfterAGapUnderTheSameServerCounts) {
  EndpointFileHistory history;
  history.update("mi", kFifo, 42);
  EXPECT_FALSE(history.update("mi", std::nullopt, 42));  // removed: nothing to compare yet
  EXPECT_TRUE(history.update("mi", EndpointFile{8, 101, 1000, 010600}, 42));
  EXPECT_EQ(history.replaced("mi"), 1u);
}

}  // namespace
}  // namespace ipcwatch
