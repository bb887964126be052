// Which local process is at the other end of an event-port connection: the
// kernel's socket diagnostics (sock_diag, NETLINK_SOCK_DIAG) give the inode
// of the peer's socket for the exact 4-tuple, and /proc/<pid>/fd says whether
// a process holds it. Used to fill in the pot id of events that do not name
// their pot (Cowrie's stock output has only `sensor`) when they come from a
// pot the node runs. IPv4 loopback only.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <optional>
#include <sys/types.h>

namespace honeycomb::node {

/// The inode of the socket at `remote` connected to `local` (TCP, IPv4);
/// nullopt when the kernel does not know it (closed already, not IPv4).
std::optional<ino_t> peer_socket_inode(const boost::asio::ip::tcp::endpoint& local,
                                       const boost::asio::ip::tcp::endpoint& remote);

/// Descriptors of one process looked at, at most (about 10 ms).
inline constexpr std::size_t kMaxDescriptorsScanned = 4096;

/// True when process `pid` has socket `inode` among its open descriptors
/// (the first kMaxDescriptorsScanned of them).
bool process_holds_socket(pid_t pid, ino_t inode);

}  // namespace honeycomb::node
