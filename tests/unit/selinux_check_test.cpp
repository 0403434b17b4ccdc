// The endpoint `selinux` check: which recent denials concern an endpoint and a client, and
// what the check then reports.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/selinux_check.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kNow = 1700000000;

SelinuxCheckInput input() {
  SelinuxCheckInput in;
  in.active = true;
  in.enforce_path = "/sys/fs/selinux/enforce";
  in.path = "/tmp/opensips_fifo";
  in.ino = 4711;
  in.file_label = "system_u:object_r:user_tmp_t:s0";
  in.client_domain = "system_u:system_r:httpd_t:s0";
  in.now_seconds = kNow;
  return in;
}

RecentDenial denial(std::string path, std::string tclass = "fifo_file",
                    std::string domain = "httpd_t") {
  RecentDenial d;
  d.seconds = kNow - 60;
  d.comm = "httpd";
  d.pid = 4121;
  d.path = std::move(path);
  d.scontext = "system_u:system_r:" + domain + ":s0";
  d.tcontext = "system_u:object_r:user_tmp_t:s0";
  d.tclass = std::move(tclass);
  d.permissions = {"write"};
  d.permissive = "0";
  return d;
}

// /proc/PID/attr/current shows the major LSM's label: an SELinux context is kept (without
// its NUL or newline), AppArmor's and Smack's labels are no SELinux domain.
TEST(SelinuxCheck, ClientDomainIsOnlyAnSelinuxContext) {
  EXPECT_EQ(selinuxContextOf(std::string("system_u:system_r:httpd_t:s0\0", 29)),
            "system_u:system_r:httpd_t:s0");
  EXPECT_EQ(selinuxContextOf("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\n"),
            "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023");
  EXPECT_EQ(selinuxContextOf("unconfined\n"), "");                 // AppArmor, no profile
  EXPECT_EQ(selinuxContextOf("/usr/sbin/httpd (enforce)\n"), "");  // AppArmor, a profile
  EXPECT_EQ(selinuxContextOf("_"), "");                            // Smack
  EXPECT_EQ(selinuxContextOf("::"), "");
  EXPECT_EQ(selinuxContextOf(""), "");
}

TEST(SelinuxCheck, NotApplicableWhileInactive) {
  auto in = input();
  in.active = false;
  const auto result = checkSelinux(in, {denial("/tmp/opensips_fifo")});
  EXPECT_EQ(result.status, CheckStatus::kNotApplicable);
  EXPECT_EQ(result.evidence, "SELinux not active (no /sys/fs/selinux/enforce)");
}

TEST(SelinuxCheck, PassesWithoutDenialsAndReportsLabels) {
  const auto result = checkSelinux(input(), {denial("/tmp/other_fifo")});
  EXPECT_EQ(result.status, CheckStatus::kPass);
  EXPECT_EQ(result.evidence,
            "file label system_u:object_r:user_tmp_t:s0, client domain "
            "system_u:system_r:httpd_t:s0; no denial for this endpoint and domain in the last 15 "
            "minutes");
  EXPECT_EQ(result.fix, "");
}

TEST(SelinuxCheck, DenialNamingThePathFailsWithTheAllowRule) {
  const auto result = checkSelinux(input(), {denial("/tmp/opensips_fifo")});
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.evidence,
              HasSubstr("1 recent denial, newest: denied { write } for httpd_t on "
                        "user_tmp_t:fifo_file path /tmp/opensips_fifo comm httpd pid 4121"));
  EXPECT_THAT(result.fix, HasSubstr("restorecon -v /tmp/opensips_fifo"));
  EXPECT_THAT(result.fix, HasSubstr("allow httpd_t user_tmp_t:fifo_file write;"));
}

TEST(SelinuxCheck, MatchesByInodeNameAndParentDirectory) {
  auto by_inode = denial("opensips_fifo");
  by_inode.ino = 4711;
  EXPECT_TRUE(denialConcernsEndpoint(by_inode, input()));
  by_inode.ino = 4712;  // the same name, another file (an older FIFO, replaced since)
  EXPECT_FALSE(denialConcernsEndpoint(by_inode, input()));
  EXPECT_TRUE(denialConcernsEndpoint(denial("opensips_fifo"), input())) << "name= without ino=";
  EXPECT_TRUE(denialConcernsEndpoint(denial("/tmp", "dir"), input())) << "search on the parent";
  EXPECT_TRUE(denialConcernsEndpoint(denial("/", "dir"), input()));
  EXPECT_FALSE(denialConcernsEndpoint(denial("/tm", "dir"), input()));
  EXPECT_FALSE(denialConcernsEndpoint(denial("/tmp/opensips_fifo2"), input()));
  auto socket = denial("/tmp/opensips_fifo", "unix_stream_socket");
  socket.permissions = {"connectto"};
  EXPECT_TRUE(denialConcernsEndpoint(socket, input()));
}

// Relabelling the file is the fix for a denial on its label: once the file carries another
// label, denials on the old one no longer fail the check. A socket class's target is the
// serving socket, not the file, so the file's label does not decide those.
TEST(SelinuxCheck, DenialOnALabelTheFileNoLongerHasNoLongerFails) {
  auto relabelled = input();
  relabelled.file_label = "system_u:object_r:httpd_tmpfs_t:s0";
  const auto on_old_label = denial("/tmp/opensips_fifo");
  EXPECT_TRUE(denialConcernsEndpoint(on_old_label, input()));
  EXPECT_FALSE(denialConcernsEndpoint(on_old_label, relabelled));
  EXPECT_EQ(checkSelinux(relabelled, {on_old_label}).status, CheckStatus::kPass);
  auto unknown_label = input();
  unknown_label.file_label.clear();
  EXPECT_TRUE(denialConcernsEndpoint(on_old_label, unknown_label));
  auto connectto = denial("/tmp/opensips_fifo", "unix_stream_socket");
  connectto.tcontext = "system_u:system_r:opensips_t:s0";
  connectto.permissions = {"connectto"};
  EXPECT_TRUE(denialConcernsEndpoint(connectto, relabelled));
}

TEST(SelinuxCheck, OnlyTheClientsDomainUnlessUnknown) {
  const auto other = denial("/tmp/opensips_fifo", "fifo_file", "sshd_t");
  EXPECT_FALSE(denialConcernsEndpoint(other, input()));
  EXPECT_EQ(checkSelinux(input(), {other}).status, CheckStatus::kPass);
  auto unknown = input();
  unknown.client_domain.clear();  // no client process: any domain's denial on the path counts
  EXPECT_TRUE(denialConcernsEndpoint(other, unknown));
  const auto result = checkSelinux(unknown, {other});
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.evidence, HasSubstr("client domain unknown"));
}

TEST(SelinuxCheck, OldDenialsNoLongerFail) {
  auto old = denial("/tmp/opensips_fifo");
  old.seconds = kNow - kRecentDenialWindow.count() - 1;
  EXPECT_EQ(checkSelinux(input(), {old}).status, CheckStatus::kPass);
  old.seconds = kNow - kRecentDenialWindow.count();
  EXPECT_EQ(checkSelinux(input(), {old}).status, CheckStatus::kFail);
}

TEST(SelinuxCheck, NewestDenialIsShownAndAllCounted) {
  auto first = denial("/tmp/opensips_fifo");
  auto second = denial("/tmp");
  second.tclass = "dir";
  second.permissions = {"search"};
  second.permissive = "1";
  const auto result = checkSelinux(input(), {first, second});
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.evidence,
              HasSubstr("2 recent denials, newest: denied { search } for httpd_t on "
                        "user_tmp_t:dir path /tmp comm httpd pid 4121 (permissive: logged, not "
                        "enforced)"));
  EXPECT_THAT(result.fix, HasSubstr("allow httpd_t user_tmp_t:dir search;"));
}

TEST(SelinuxCheck, PermissiveDenialsOnlyWarn) {
  auto permissive = denial("/tmp/opensips_fifo");
  permissive.permissive = "1";
  const auto result = checkSelinux(input(), {permissive});
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.fix, HasSubstr("SELinux would deny the client once enforcing"));
  EXPECT_THAT(result.fix, HasSubstr("allow httpd_t user_tmp_t:fifo_file write;"));
}

}  // namespace
}  // namespace ipcwatch
