// The who-failed labels of the failure metrics: which are chosen, empty ones left out, and the
// workload capped as one value per metric, a folded one "other" in every chosen label.
#include "collectors/identity_labels.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace ipcwatch {
namespace {

class IdentityLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcwatch-identity-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    resolver_ = std::make_unique<WorkloadResolver>(root_ + "/cgroup", root_ + "/pods");
    std::filesystem::create_directories(root_ + "/cgroup/system.slice");
    std::filesystem::create_directories(root_ + "/pods");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A cgroup directory below the fake hierarchy; its id is its inode number.
  std::uint64_t cgroup(const std::string& relative) {
    const std::string path = root_ + "/cgroup/" + relative;
    std::filesystem::create_directories(path);
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return st.st_ino;
  }

  std::string root_;
  std::unique_ptr<WorkloadResolver> resolver_;
};

TEST_F(IdentityLabelsTest, ChosenLabelsOnlyEmptyOnesLeftOutSorted) {
  WorkloadConfig config;
  LabelCap cap(10, 100);
  IdentityLabels identity(config, resolver_.get(), cap);
  const std::uint64_t nginx = cgroup("system.slice/nginx.service");
  LabelSet labels = {{"path", "/run/php.sock"}, {"errno", "ECONNREFUSED"}};
  identity.append(labels, "nginx", nginx);
  EXPECT_EQ(labels, (LabelSet{{"comm", "nginx"},
                              {"errno", "ECONNREFUSED"},
                              {"path", "/run/php.sock"},
                              {"unit", "nginx.service"}}));
  // The root cgroup has no workload, and id 0 (none recorded) neither: comm alone.
  LabelSet none = {{"path", "/x"}};
  identity.append(none, "cron", 0);
  EXPECT_EQ(none, (LabelSet{{"comm", "cron"}, {"path", "/x"}}));

  config.labels = {"unit"};
  IdentityLabels unit_only(config, resolver_.get(), cap);
  LabelSet unit = {{"path", "/x"}};
  unit_only.append(unit, "nginx", nginx);
  EXPECT_EQ(unit, (LabelSet{{"path", "/x"}, {"unit", "nginx.service"}}));

  config.labels = {};
  IdentityLabels off(config, resolver_.get(), cap);
  LabelSet what = {{"path", "/x"}};
  off.append(what, "nginx", nginx);
  EXPECT_EQ(what, (LabelSet{{"path", "/x"}}));
  EXPECT_FALSE(off.folds(nginx));
}

TEST_F(IdentityLabelsTest, WorkloadsPastTheCapFoldTogether) {
  WorkloadConfig config;
  LabelCap cap(2, 100);
  IdentityLabels identity(config, resolver_.get(), cap);
  const std::uint64_t a = cgroup("system.slice/a.service");
  const std::uint64_t b = cgroup("system.slice/b.service");
  const std::uint64_t c = cgroup("system.slice/c.service");
  EXPECT_FALSE(identity.folds(a));
  EXPECT_FALSE(identity.folds(b));
  EXPECT_TRUE(identity.folds(c));
  EXPECT_TRUE(identity.folds(c));  // a folded workload stays folded, counted once
  EXPECT_EQ(cap.folds(), 1u);
  EXPECT_FALSE(identity.folds(a));  // admitted for good
  LabelSet folded = {{"path", "/x"}};
  identity.append(folded, "svc", kFoldedCgroup);
  EXPECT_EQ(folded, (LabelSet{{"comm", "svc"},
                              {"container_id", "other"},
                              {"path", "/x"},
                              {"pod", "other"},
                              {"pod_namespace", "other"},
                              {"pod_uid", "other"},
                              {"unit", "other"}}));
}

TEST_F(IdentityLabelsTest, OnlyTheChosenLabelsMakeAWorkload) {
  // Two units, no container: with only container_id chosen they are one workload, "".
  WorkloadConfig config;
  config.labels = {"container_id"};
  LabelCap cap(1, 100);
  IdentityLabels identity(config, resolver_.get(), cap);
  EXPECT_FALSE(identity.folds(cgroup("system.slice/a.service")));
  EXPECT_FALSE(identity.folds(cgroup("system.slice/b.service")));
  EXPECT_EQ(cap.folds(), 0u);
}

}  // namespace
}  // namespace ipcwatch
