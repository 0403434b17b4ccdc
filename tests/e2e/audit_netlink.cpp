#include "audit_netlink.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/unique_fd.h"

namespace ipcwatch::testing {

int sendUserAvc(const std::string& text) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.valid()) {
    return -errno;
  }
  std::vector<char> buffer(NLMSG_SPACE(text.size() + 1), 0);
  auto* header = reinterpret_cast<nlmsghdr*>(buffer.data());
  header->nlmsg_len = NLMSG_LENGTH(text.size() + 1);
  header->nlmsg_type = AUDIT_USER_AVC;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  header->nlmsg_seq = 1;
  std::memcpy(NLMSG_DATA(header), text.c_str(), text.size() + 1);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), buffer.data(), header->nlmsg_len, 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    return -errno;
  }
  char reply[512];
  const ssize_t n = ::recv(fd.get(), reply, sizeof reply, 0);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) {
    return -EIO;
  }
  const auto* ack = reinterpret_cast<const nlmsghdr*>(reply);
  if (ack->nlmsg_type != NLMSG_ERROR) {
    return -EIO;
  }
  return static_cast<const nlmsgerr*>(NLMSG_DATA(ack))->error;
}

}  // namespace ipcwatch::testing
