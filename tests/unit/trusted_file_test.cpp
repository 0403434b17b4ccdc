#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/trusted_file.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

class TrustedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ipcwatch-trusted-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/ipcwatch.yml";
    std::ofstream(path_) << "log: {level: info}\n";
    ASSERT_EQ(chmod(path_.c_str(), 0644), 0);
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string errorOf() {
    try {
      readTrustedFile(path_);
    } catch (const UntrustedFileError& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
  std::string path_;
};

TEST_F(TrustedFileTest, ReadsAFileOnlyItsOwnerCanWrite) {
  EXPECT_EQ(readTrustedFile(path_), "log: {level: info}\n");
  ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
  EXPECT_EQ(readTrustedFile(path_), "log: {level: info}\n");
}

TEST_F(TrustedFileTest, RefusesAWorldWritableFile) {
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  EXPECT_EQ(errorOf(), path_ +
                           ": writable by every user (mode 0666), who could change what the "
                           "agent does; remove the write bits (chmod go-w " +
                           path_ + ")");
}

TEST_F(TrustedFileTest, RefusesAGroupWritableFile) {
  ASSERT_EQ(chmod(path_.c_str(), 0664), 0);
  EXPECT_THAT(errorOf(), HasSubstr("writable by its group (mode 0664)"));
}

TEST_F(TrustedFileTest, RefusesAFileOwnedByAnotherUser) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to give the file to another user";
  }
  ASSERT_EQ(chown(path_.c_str(), 65534, 65534), 0);
  EXPECT_THAT(errorOf(), HasSubstr(": owned by uid 65534, another user"));
}

TEST_F(TrustedFileTest, RefusesADirectoryAndReportsAMissingFile) {
  EXPECT_THAT(
      [&] {
        try {
          readTrustedFile(dir_);
        } catch (const UntrustedFileError& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr(": not a regular file"));
  unlink(path_.c_str());
  EXPECT_EQ(errorOf(), path_ + ": cannot read: No such file or directory");
}

}  // namespace
}  // namespace ipcwatch
