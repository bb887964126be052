#include "node/peer_process.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace honeycomb::node {

std::optional<ino_t> peer_socket_inode(const boost::asio::ip::tcp::endpoint& local,
                                       const boost::asio::ip::tcp::endpoint& remote) {
  if (!local.address().is_v4() || !remote.address().is_v4()) {
    return std::nullopt;
  }
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    return std::nullopt;
  }
  // The kernel answers at once; the timeout only guards against the
  // unexpected, since this runs on an event-port thread.
  const timeval timeout{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;  // one socket, by its exact id
  message.request.sdiag_family = AF_INET;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0U;
  // The peer's socket: its source is the remote end of our connection.
  auto& id = message.request.id;
  id.idiag_sport = htons(remote.port());
  id.idiag_dport = htons(local.port());
  const auto src = remote.address().to_v4().to_bytes();
  const auto dst = local.address().to_v4().to_bytes();
  std::memcpy(&id.idiag_src[0], src.data(), src.size());
  std::memcpy(&id.idiag_dst[0], dst.data(), dst.size());
  id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<ino_t> inode;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof message)) {
    // One answer: a header and the socket's inet_diag_msg (or an error).
    std::array<char, 8192> buffer{};
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    constexpr std::size_t kHeader = (sizeof(nlmsghdr) + 3U) & ~std::size_t{3};  // NLMSG_HDRLEN
    if (n >= static_cast<ssize_t>(kHeader + sizeof(inet_diag_msg))) {
      nlmsghdr header{};
      std::memcpy(&header, buffer.data(), sizeof header);
      if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY && header.nlmsg_len >= kHeader + sizeof(inet_diag_msg)) {
        inet_diag_msg diag{};
        std::memcpy(&diag, buffer.data() + kHeader, sizeof diag);
        if (diag.idiag_inode != 0) {
          inode = diag.idiag_inode;
        }
      }
    }
  }
  ::close(fd);
  return inode;
}

bool process_holds_socket(pid_t pid, ino_t inode) {
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  std::error_code ec;
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  std::array<char, 64> target{};
  // Bounded: a pot holding many attacker connections must not make every
  // event-port connection slow (the event port's thread waits for this).
  std::size_t scanned = 0;
  for (const auto& entry : std::filesystem::directory_iterator(fds, ec)) {
    if (++scanned > kMaxDescriptorsScanned) {
      return false;
    }
    const ssize_t n = ::readlink(entry.path().c_str(), target.data(), target.size());
    if (n == static_cast<ssize_t>(wanted.size()) && std::memcmp(target.data(), wanted.data(), wanted.size()) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace honeycomb::node
