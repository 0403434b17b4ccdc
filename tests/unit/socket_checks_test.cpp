// The socket endpoint checks over a hand-built inventory: which bound sockets serve an
// endpoint, in which network namespace, and what the accept queue says.
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/socket_checks.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t kClientNs = 4026531840;
constexpr std::uint64_t kOtherNs = 4026532999;

// The kernel's internal dev_t of major 8, minor 1 (MKDEV: major << 20 | minor).
constexpr std::uint32_t kKernelDev = (8U << 20) | 1U;

UnixSocket listener(std::string name, std::uint32_t queued, std::uint32_t backlog) {
  UnixSocket s;
  s.type = SOCK_STREAM;
  s.state = UnixSocketState::kListening;
  s.name = std::move(name);
  s.has_rqlen = true;
  s.rqueue = queued;
  s.wqueue = backlog;
  return s;
}

UnixSocketInventory inventory(std::vector<std::pair<std::uint64_t, UnixSocket>> sockets) {
  UnixSocketInventory inv;
  for (std::uint64_t ns : {kClientNs, kOtherNs}) {
    NamespaceSockets entry;
    entry.ns.inode = ns;
    entry.ok = true;
    for (const auto& [where, socket] : sockets) {
      if (where == ns) {
        entry.sockets.push_back(socket);
      }
    }
    inv.namespaces.push_back(entry);
  }
  return inv;
}

TEST(SocketChecks, PathSocketMatchedByInodeInAnyNamespace) {
  auto bound = listener("/run/app.sock", 0, 128);
  bound.has_vfs = true;
  bound.vfs_dev = kKernelDev;
  bound.vfs_ino = 77;
  SocketPeerQuery query{"/run/app.sock", EndpointType::kUnixStream, FileId{makedev(8, 1), 77},
                        kClientNs};
  auto result = checkSocketPeer(inventory({{kOtherNs, bound}}), query);
  EXPECT_EQ(result.check.name, "peer");
  EXPECT_EQ(result.check.status, CheckStatus::kPass);
  EXPECT_EQ(result.peers, 1u);
  ASSERT_TRUE(result.listener);
  // The same path name bound to another inode: the file at the path is not the one served.
  query.file = FileId{makedev(8, 1), 78};
  result = checkSocketPeer(inventory({{kOtherNs, bound}}), query);
  EXPECT_EQ(result.check.status, CheckStatus::kFail);
  EXPECT_THAT(result.check.evidence, HasSubstr("replaced socket file: no unix_stream socket is "
                                               "bound to it (inode 78)"));
  // No listener of that name at all: the file is stale.
  bound.name = "/run/other.sock";
  result = checkSocketPeer(inventory({{kOtherNs, bound}}), query);
  EXPECT_THAT(result.check.evidence, HasSubstr("stale socket file: no unix_stream socket is bound "
                                               "to it (inode 78)"));
  // A datagram socket does not serve a stream endpoint.
  query.file = FileId{makedev(8, 1), 77};
  bound.type = SOCK_DGRAM;
  EXPECT_EQ(checkSocketPeer(inventory({{kClientNs, bound}}), query).check.status,
            CheckStatus::kFail);
}

TEST(SocketChecks, AbstractNameOnlyInTheClientsNamespace) {
  const auto elsewhere = listener(std::string("\0mi", 3), 0, 16);
  const SocketPeerQuery query{"@mi", EndpointType::kUnixStream, std::nullopt, kClientNs};
  auto result = checkSocketPeer(inventory({{kOtherNs, elsewhere}}), query);
  EXPECT_EQ(result.check.status, CheckStatus::kFail);
  EXPECT_THAT(result.check.evidence,
              HasSubstr("it is bound in net:[4026532999], which the client cannot reach"));
  EXPECT_THAT(result.check.fix, HasSubstr("run the client in the server's network namespace"));
  result = checkSocketPeer(inventory({{kClientNs, elsewhere}}), query);
  EXPECT_EQ(result.check.status, CheckStatus::kPass);
  EXPECT_THAT(result.check.evidence,
              HasSubstr("in the client's network namespace net:[4026531840]"));
}

TEST(SocketChecks, NoFileMeansPeerSkipped) {
  const SocketPeerQuery query{"/run/gone.sock", EndpointType::kUnixStream, std::nullopt, kClientNs};
  EXPECT_EQ(checkSocketPeer(inventory({}), query).check.status, CheckStatus::kSkipped);
}

// Without unix_diag (the /proc/net/unix fallback) no socket carries its file's inode: a listener
// is matched by the path it is bound to, and the evidence says so.
TEST(SocketChecks, WithoutUnixDiagAPathSocketIsMatchedByPath) {
  auto bound = listener("/run/app.sock", 0, 0);
  bound.has_rqlen = false;  // what /proc/net/unix tells: no queue lengths, no inode
  auto inv = inventory({{kOtherNs, bound}});
  inv.from_procfs = true;
  SocketPeerQuery query{"/run/app.sock", EndpointType::kUnixStream, FileId{makedev(8, 1), 77},
                        kClientNs};
  auto result = checkSocketPeer(inv, query);
  EXPECT_EQ(result.check.status, CheckStatus::kPass) << result.check.evidence;
  EXPECT_EQ(result.peers, 1u);
  EXPECT_THAT(result.check.evidence, HasSubstr("1 unix_stream socket(s) bound and serving"));
  EXPECT_THAT(result.check.evidence, HasSubstr("matched by path"));
  EXPECT_THAT(result.check.evidence, HasSubstr("unix_diag is unavailable"));
  ASSERT_TRUE(result.listener);
  const auto backlog = checkBacklog(EndpointType::kUnixStream, result.listener);
  EXPECT_EQ(backlog.status, CheckStatus::kNotApplicable);
  EXPECT_THAT(backlog.evidence, HasSubstr("unix_diag is unavailable"));

  // Nothing listens on the path: the file is stale.
  query.path = "/run/other.sock";
  result = checkSocketPeer(inv, query);
  EXPECT_EQ(result.check.status, CheckStatus::kFail);
  EXPECT_EQ(result.peers, 0u);
  EXPECT_THAT(result.check.evidence,
              HasSubstr("no unix_stream socket is bound to that path (matched by path"));
  // A socket bound to the path but not listening does not serve it.
  query.path = "/run/app.sock";
  bound.state = UnixSocketState::kUnconnected;
  inv = inventory({{kOtherNs, bound}});
  inv.from_procfs = true;
  EXPECT_EQ(checkSocketPeer(inv, query).check.status, CheckStatus::kFail);
}

TEST(SocketChecks, ListenerOnTheSameNameButAnotherFileIsAReplacedFile) {
  auto old_file = listener("/run/app.sock", 0, 128);
  old_file.inode = 9001;
  old_file.has_vfs = true;
  old_file.vfs_dev = kKernelDev;
  old_file.vfs_ino = 76;  // the file it was bound to, since removed
  SocketPeerQuery query{"/run/app.sock", EndpointType::kUnixStream, FileId{makedev(8, 1), 77},
                        kClientNs};
  const auto result = checkSocketPeer(inventory({{kClientNs, old_file}}), query);
  EXPECT_EQ(result.check.status, CheckStatus::kFail);
  EXPECT_EQ(result.peers, 0u);
  ASSERT_TRUE(result.replaced);
  EXPECT_EQ(result.replaced->inode, 9001u);
  EXPECT_THAT(result.check.evidence, HasSubstr("replaced socket file"));
  EXPECT_THAT(result.check.evidence, HasSubstr("socket inode 9001 listens on the same path name "
                                               "bound to another file (inode 76)"));

  // Serving the file at the path: its socket inode is what names the holders.
  old_file.vfs_ino = 77;
  const auto serving = checkSocketPeer(inventory({{kClientNs, old_file}}), query);
  EXPECT_EQ(serving.check.status, CheckStatus::kPass);
  EXPECT_FALSE(serving.replaced);
  EXPECT_EQ(serving.serving_inodes, (std::vector<std::uint32_t>{9001}));
}

TEST(SocketChecks, BacklogFullOnlyWhenQueueExceedsBacklog) {
  EXPECT_EQ(checkBacklog(EndpointType::kUnixStream, listener("/a", 5, 5)).status,
            CheckStatus::kPass);
  const auto full = checkBacklog(EndpointType::kUnixStream, listener("/a", 6, 5));
  EXPECT_EQ(full.name, "backlog");
  EXPECT_EQ(full.status, CheckStatus::kFail);
  EXPECT_EQ(full.evidence, "accept queue full: 6 connection(s) waiting, backlog 5");
  EXPECT_EQ(checkBacklog(EndpointType::kFifo, std::nullopt).status, CheckStatus::kNotApplicable);
  EXPECT_EQ(checkBacklog(EndpointType::kUnixDgram, std::nullopt).status,
            CheckStatus::kNotApplicable);
  EXPECT_EQ(checkBacklog(EndpointType::kUnixSeqpacket, std::nullopt).status, CheckStatus::kSkipped);
}

}  // namespace
}  // namespace ipcwatch
