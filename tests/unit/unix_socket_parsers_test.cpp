#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "inventory/parsers/unix_socket_parsers.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

// ---- /proc/net/unix ---------------------------------------------------------------------------

constexpr std::string_view kHeader = "Num       RefCount Protocol Flags    Type St Inode Path\n";

TEST(ProcNetUnixParser, RealKernelOutput) {
  const std::string text =
      std::string(kHeader) +
      "0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/systemd/notify\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03    77 /run/dbus/system_bus_socket\n"
      "ffff8a0c41b2e400: 00000002 00000000 00000000 0002 01 31337\n"
      "0000000000000000: 00000002 00000000 00010000 0005 01 99999 @/tmp/.X11-unix/X0\n";
  const auto parsed = parseProcNetUnix(text);
  EXPECT_TRUE(parsed.errors.empty());
  ASSERT_EQ(parsed.sockets.size(), 4u);
  EXPECT_EQ(parsed.sockets[0].inode, 23456u);
  EXPECT_EQ(parsed.sockets[0].type, SOCK_STREAM);
  EXPECT_EQ(parsed.sockets[0].state, UnixSocketState::kListening);
  EXPECT_EQ(parsed.sockets[0].name, "/run/systemd/notify");
  EXPECT_EQ(parsed.sockets[1].inode, 77u);
  EXPECT_EQ(parsed.sockets[1].state, UnixSocketState::kConnected);
  EXPECT_EQ(parsed.sockets[2].type, SOCK_DGRAM);
  EXPECT_EQ(parsed.sockets[2].state, UnixSocketState::kUnconnected);
  EXPECT_EQ(parsed.sockets[2].name, "");
  EXPECT_EQ(parsed.sockets[3].type, SOCK_SEQPACKET);
  EXPECT_EQ(parsed.sockets[3].name, std::string("\0/tmp/.X11-unix/X0", 18));
  EXPECT_EQ(unixSocketDisplayName(parsed.sockets[3].name), "@/tmp/.X11-unix/X0");
}

TEST(ProcNetUnixParser, PathsWithSpacesAndNewlines) {
  const std::string text =
      std::string(kHeader) +
      "0000000000000000: 00000002 00000000 00010000 0001 01 10 /tmp/a b  c\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 11  /tmp/leading\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 12 /tmp/two\nlines\n"
      "0000000000000000: 00000002 00000000 00000000 0001 03 13\n";
  const auto parsed = parseProcNetUnix(text);
  EXPECT_TRUE(parsed.errors.empty());
  ASSERT_EQ(parsed.sockets.size(), 4u);
  EXPECT_EQ(parsed.sockets[0].name, "/tmp/a b  c");
  EXPECT_EQ(parsed.sockets[1].name, " /tmp/leading");
  EXPECT_EQ(parsed.sockets[2].name, "/tmp/two\nlines");
  EXPECT_EQ(parsed.sockets[3].inode, 13u);
}

TEST(ProcNetUnixParser, TruncatedAndGarbageLinesAreErrorsNotCrashes) {
  const std::string text =
      std::string(kHeader) +
      "0000000000000000: 00000002 000\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 20 /ok\n"
      "garbage\xff\n"
      "0000000000000000: 00000002 00000000 00000000 0001 zz 21\n"
      "stray\n"
      "0000000000000000: 00000002 00000000 00000000 0001 01 22";  // no final newline
  const auto parsed = parseProcNetUnix(text);
  // "garbage" follows a socket with a path, so it is read as the rest of that path.
  ASSERT_EQ(parsed.sockets.size(), 2u);
  EXPECT_EQ(parsed.sockets[0].name, "/ok\ngarbage\xff");
  EXPECT_EQ(parsed.sockets[1].inode, 22u);
  ASSERT_EQ(parsed.errors.size(), 3u);
  EXPECT_THAT(parsed.errors[0], HasSubstr("line 2: not a socket record"));
  EXPECT_THAT(parsed.errors[1], HasSubstr("line 5: not a socket record"));
  // After a damaged record, a stray line belongs to no path.
  EXPECT_THAT(parsed.errors[2], HasSubstr("line 6: not a socket record: 'stray'"));
}

TEST(ProcNetUnixParser, EmptyInput) {
  EXPECT_TRUE(parseProcNetUnix("").sockets.empty());
  EXPECT_TRUE(parseProcNetUnix(kHeader).errors.empty());
}

// ---- UNIX_DIAG ------------------------------------------------------------------------------

// Builds netlink messages the way the kernel lays them out.
class DiagBuffer {
 public:
  // Starts a SOCK_DIAG_BY_FAMILY message.
  DiagBuffer& socket(std::uint8_t type, std::uint8_t state, std::uint32_t inode) {
    begin(SOCK_DIAG_BY_FAMILY);
    unix_diag_msg msg{};
    msg.udiag_family = AF_UNIX;
    msg.udiag_type = type;
    msg.udiag_state = state;
    msg.udiag_ino = inode;
    append(&msg, sizeof msg);
    return *this;
  }
  DiagBuffer& attr(std::uint16_t type, const void* data, std::size_t size) {
    rtattr header{};
    header.rta_len = static_cast<std::uint16_t>(sizeof header + size);
    header.rta_type = type;
    append(&header, sizeof header);
    append(data, size);
    pad();
    return *this;
  }
  DiagBuffer& done() {
    begin(NLMSG_DONE);
    const int zero = 0;
    append(&zero, sizeof zero);
    return *this;
  }
  DiagBuffer& error(int err) {
    begin(NLMSG_ERROR);
    nlmsgerr e{};
    e.error = err;
    append(&e, sizeof e);
    return *this;
  }
  std::vector<std::uint8_t> bytes() {
    finish();
    return bytes_;
  }

 private:
  void begin(std::uint16_t type) {
    finish();
    start_ = bytes_.size();
    nlmsghdr header{};
    header.nlmsg_type = type;
    append(&header, sizeof header);
  }
  void finish() {
    if (start_ == std::string::npos) {
      return;
    }
    const auto len = static_cast<std::uint32_t>(bytes_.size() - start_);
    std::memcpy(bytes_.data() + start_, &len, sizeof len);
    pad();
    start_ = std::string::npos;
  }
  void append(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  void pad() {
    while (bytes_.size() % 4 != 0) {
      bytes_.push_back(0);
    }
  }
  std::vector<std::uint8_t> bytes_;
  std::size_t start_ = std::string::npos;
};

TEST(UnixDiagDecoder, ListenerWithEveryAttribute) {
  const std::string path = "/run/app.sock";
  const std::string kernel_name = path + '\0';  // bound paths come with their terminating NUL
  const unix_diag_vfs vfs{123456, (8u << 20) | 3u};
  const unix_diag_rqlen rqlen{5, 128};
  const std::uint32_t peer = 0;
  const auto buffer = DiagBuffer()
                          .socket(SOCK_STREAM, 10, 4242)
                          .attr(UNIX_DIAG_NAME, kernel_name.data(), kernel_name.size())
                          .attr(UNIX_DIAG_VFS, &vfs, sizeof vfs)
                          .attr(UNIX_DIAG_PEER, &peer, sizeof peer)
                          .attr(UNIX_DIAG_RQLEN, &rqlen, sizeof rqlen)
                          .attr(UNIX_DIAG_UID, &peer, sizeof peer)  // not asked for: ignored
                          .done()
                          .bytes();
  std::vector<UnixSocket> out;
  const auto batch = decodeUnixDiag(buffer, out);
  EXPECT_TRUE(batch.done);
  EXPECT_EQ(batch.error, 0);
  EXPECT_TRUE(batch.errors.empty());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].inode, 4242u);
  EXPECT_EQ(out[0].type, SOCK_STREAM);
  EXPECT_EQ(out[0].state, UnixSocketState::kListening);
  EXPECT_EQ(out[0].name, path);
  EXPECT_TRUE(out[0].has_vfs);
  EXPECT_EQ(out[0].vfs_ino, 123456u);
  EXPECT_EQ(devFromKernel(out[0].vfs_dev), makedev(8, 3));
  EXPECT_TRUE(out[0].has_rqlen);
  EXPECT_EQ(out[0].rqueue, 5u);
  EXPECT_EQ(out[0].wqueue, 128u);
}

TEST(UnixDiagDecoder, SeveralMessagesAbstractNamesAndStates) {
  const std::string abstract("\0name\0with nul", 14);  // not a multiple of 4: padding
  const std::uint32_t peer = 77;
  const auto buffer = DiagBuffer()
                          .socket(SOCK_DGRAM, 7, 1)
                          .socket(SOCK_SEQPACKET, 1, 2)
                          .attr(UNIX_DIAG_NAME, abstract.data(), abstract.size())
                          .attr(UNIX_DIAG_PEER, &peer, sizeof peer)
                          .socket(SOCK_STREAM, 2, 3)
                          .bytes();
  std::vector<UnixSocket> out;
  const auto batch = decodeUnixDiag(buffer, out);
  EXPECT_FALSE(batch.done);  // more messages follow in the next recv()
  EXPECT_EQ(batch.decoded, 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].state, UnixSocketState::kUnconnected);
  EXPECT_FALSE(out[0].has_vfs);
  EXPECT_EQ(out[1].state, UnixSocketState::kConnected);
  EXPECT_EQ(out[1].name, abstract);
  EXPECT_EQ(out[2].inode, 3u);  // a peer attribute, not asked for, is stepped over
  EXPECT_EQ(unixSocketDisplayName(out[1].name), "@name\\x00with nul");
  EXPECT_EQ(out[2].state, UnixSocketState::kConnecting);
}

TEST(UnixDiagDecoder, ErrorMessageEndsTheDump) {
  std::vector<UnixSocket> out;
  const auto batch = decodeUnixDiag(DiagBuffer().error(-ENOENT).bytes(), out);
  EXPECT_TRUE(batch.done);
  EXPECT_EQ(batch.error, -ENOENT);
}

TEST(UnixDiagDecoder, ErrorMessageWithAnInvalidCodeIsMalformed) {
  std::vector<UnixSocket> out;
  // Found by the fuzzer: a positive "errno" would have been passed on as the dump's error.
  auto batch = decodeUnixDiag(DiagBuffer().error(875705376).bytes(), out);
  EXPECT_TRUE(batch.done);
  EXPECT_EQ(batch.error, -EPROTO);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("NLMSG_ERROR with invalid code 875705376"));
  batch = decodeUnixDiag(DiagBuffer().error(-100000).bytes(), out);
  EXPECT_EQ(batch.error, -EPROTO);
  batch = decodeUnixDiag(DiagBuffer().error(0).bytes(), out);  // an acknowledgement
  EXPECT_EQ(batch.error, 0);
  EXPECT_TRUE(batch.errors.empty());
}

TEST(UnixDiagDecoder, MalformedInputIsReportedWithinBounds) {
  const unix_diag_vfs vfs{1, 2};
  auto good = DiagBuffer().socket(SOCK_STREAM, 10, 9).attr(UNIX_DIAG_VFS, &vfs, sizeof vfs).bytes();
  std::vector<UnixSocket> out;

  // Cut inside the attribute: the message length no longer fits the buffer.
  auto cut = good;
  cut.resize(cut.size() - 3);
  auto batch = decodeUnixDiag(cut, out);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("out of bounds"));
  EXPECT_TRUE(out.empty());

  // A short VFS attribute inside a well-formed message.
  const std::uint32_t half = 1;
  batch = decodeUnixDiag(
      DiagBuffer().socket(SOCK_STREAM, 10, 9).attr(UNIX_DIAG_VFS, &half, sizeof half).bytes(), out);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("short UNIX_DIAG_VFS"));

  // An attribute claiming more bytes than the message has.
  auto bad_attr = good;
  const std::uint16_t huge = 200;
  std::memcpy(bad_attr.data() + sizeof(nlmsghdr) + sizeof(unix_diag_msg), &huge, sizeof huge);
  batch = decodeUnixDiag(bad_attr, out);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("attribute length 200 out of bounds"));

  // Header shorter than nlmsghdr, and a zero length that would loop forever.
  batch = decodeUnixDiag(std::span(good.data(), 5), out);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("truncated netlink header"));
  auto zero = good;
  std::memset(zero.data(), 0, 4);
  batch = decodeUnixDiag(zero, out);
  EXPECT_THAT(batch.errors.at(0), HasSubstr("length 0 out of bounds"));
  EXPECT_TRUE(out.empty());

  // Every truncation of a valid buffer decodes without reading outside it.
  for (std::size_t n = 0; n <= good.size(); ++n) {
    std::vector<UnixSocket> any;
    decodeUnixDiag(std::span(good.data(), n), any);
    EXPECT_LE(any.size(), 1u);
  }
}

TEST(UnixSocketNames, DisplayNames) {
  EXPECT_EQ(unixSocketDisplayName("/run/x.sock"), "/run/x.sock");
  EXPECT_EQ(unixSocketDisplayName(std::string("\0", 1)), "@");
  EXPECT_EQ(unixSocketDisplayName("/tmp/new\nline"), "/tmp/new\\x0aline");
  EXPECT_EQ(unixSocketTypeName(SOCK_STREAM), "stream");
  EXPECT_EQ(unixSocketTypeName(SOCK_DGRAM), "dgram");
  EXPECT_EQ(unixSocketTypeName(SOCK_SEQPACKET), "seqpacket");
  EXPECT_EQ(unixSocketTypeName(99), "other");
  EXPECT_EQ(unixSocketStateName(unixStateFromKernel(10)), "listening");
  EXPECT_EQ(unixSocketStateName(unixStateFromKernel(99)), "other");
}

TEST(UnixSocketNames, KernelDevEncoding) {
  // Internal dev_t: 12-bit major above a 20-bit minor; st_dev uses the glibc encoding.
  EXPECT_EQ(devFromKernel((259u << 20) | 0x12345u), makedev(259, 0x12345));
  EXPECT_EQ(devFromKernel(0x2du), makedev(0, 45));  // a tmpfs anonymous device
}

}  // namespace
}  // namespace ipcwatch
