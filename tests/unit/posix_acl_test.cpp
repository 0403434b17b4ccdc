#include <gtest/gtest.h>

#include "endpoints/client_identity.h"
#include "endpoints/posix_acl.h"

namespace ipcwatch {
namespace {

using Tag = AclEntry::Tag;

std::vector<AclEntry> aclWith(std::vector<AclEntry> named, unsigned mask) {
  std::vector<AclEntry> acl = {{Tag::kUserObj, 6, 0}};
  for (const auto& entry : named) {
    if (entry.tag == Tag::kUser) {
      acl.push_back(entry);
    }
  }
  acl.push_back({Tag::kGroupObj, 0, 0});
  for (const auto& entry : named) {
    if (entry.tag == Tag::kGroup) {
      acl.push_back(entry);
    }
  }
  acl.push_back({Tag::kMask, mask, 0});
  acl.push_back({Tag::kOther, 0, 0});
  return acl;
}

TEST(PosixAclTest, EncodeDecodeRoundTrip) {
  const auto acl = aclWith({{Tag::kUser, 6, 61234}, {Tag::kGroup, 4, 61300}}, 6);
  const std::string blob = encodePosixAcl(acl);
  ASSERT_EQ(blob.size(), 4u + 8u * acl.size());
  EXPECT_EQ(blob.substr(0, 4), std::string("\x02\x00\x00\x00", 4));
  const auto decoded = decodePosixAcl(blob);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->size(), acl.size());
  EXPECT_EQ((*decoded)[1].tag, Tag::kUser);
  EXPECT_EQ((*decoded)[1].id, 61234u);
  EXPECT_EQ((*decoded)[1].perm, 6u);
  EXPECT_EQ((*decoded)[3].tag, Tag::kGroup);
  EXPECT_EQ((*decoded)[3].id, 61300u);
}

TEST(PosixAclTest, RejectsMalformedValues) {
  EXPECT_FALSE(decodePosixAcl(""));
  EXPECT_FALSE(decodePosixAcl(std::string("\x01\x00\x00\x00", 4)));          // version 1
  EXPECT_FALSE(decodePosixAcl(std::string("\x02\x00\x00\x00\x01\x00", 6)));  // short entry
  EXPECT_FALSE(decodePosixAcl(std::string("\x02\x00\x00\x00\x40\x00\x06\x00\x00\x00\x00\x00", 12)));
}

TEST(PosixAclTest, OtherClassNamesTheMissingBit) {
  const auto why = explainAccess({0, 0, S_IFIFO | 0600}, {}, 61234, {61234}, 2);
  EXPECT_FALSE(why.granted);
  EXPECT_EQ(why.missing, "w");
  EXPECT_NE(why.rule.find("the other class grants ---"), std::string::npos) << why.rule;
}

TEST(PosixAclTest, OwnerAndGroupClasses) {
  EXPECT_TRUE(explainAccess({61234, 0, S_IFIFO | 0600}, {}, 61234, {61234}, 6).granted);
  const auto in_group = explainAccess({0, 61300, S_IFIFO | 0620}, {}, 61234, {61234, 61300}, 2);
  EXPECT_TRUE(in_group.granted);
  const auto not_in_group = explainAccess({0, 61300, S_IFIFO | 0620}, {}, 61234, {61234}, 2);
  EXPECT_FALSE(not_in_group.granted);
  ASSERT_EQ(not_in_group.granting_groups.size(), 1u);
  EXPECT_EQ(not_in_group.granting_groups[0], 61300u);
  // A member of the owning group does not fall through to "other".
  EXPECT_FALSE(explainAccess({0, 61300, S_IFIFO | 0602}, {}, 61234, {61300}, 2).granted);
}

TEST(PosixAclTest, NamedEntriesAndMask) {
  const auto granted = explainAccess({0, 0, S_IFIFO | 0660}, aclWith({{Tag::kUser, 6, 61234}}, 6),
                                     61234, {61234}, 2);
  EXPECT_TRUE(granted.granted);
  EXPECT_NE(granted.rule.find("ACL entry user:61234:rw-"), std::string::npos);
  const auto masked = explainAccess({0, 0, S_IFIFO | 0640}, aclWith({{Tag::kUser, 6, 61234}}, 4),
                                    61234, {61234}, 2);
  EXPECT_FALSE(masked.granted);
  EXPECT_TRUE(masked.mask_blocks);
  EXPECT_EQ(masked.missing, "w");
  EXPECT_TRUE(explainAccess({0, 0, S_IFIFO | 0660}, aclWith({{Tag::kGroup, 2, 61300}}, 6), 61234,
                            {61234, 61300}, 2)
                  .granted);
}

TEST(PosixAclTest, RootOverridesTheBits) {
  EXPECT_TRUE(explainAccess({61234, 61234, S_IFIFO | 0600}, {}, 0, {0}, 6).granted);
}

TEST(ProcStatusTest, ParsesEffectiveIdsGroupsAndUmask) {
  const auto status = parseProcStatus(
      "Name:\thttpd\nUmask:\t0022\nUid:\t48\t61234\t48\t48\nGid:\t48\t61235\t48\t48\n"
      "Groups:\t10 61300 \n");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->euid, 61234u);
  EXPECT_EQ(status->egid, 61235u);
  EXPECT_EQ(status->groups, (std::vector<std::uint32_t>{10, 61300}));
  EXPECT_EQ(status->umask, 022u);
  EXPECT_FALSE(parseProcStatus("Name:\tx\n"));
}

}  // namespace
}  // namespace ipcwatch
