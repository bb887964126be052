#include "node/peer_process.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::node {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

ino_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(PeerProcess, FindsTheSocketAtTheOtherEndAndItsProcess) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket accepted = acceptor.accept();

  const auto inode = peer_socket_inode(accepted.local_endpoint(), accepted.remote_endpoint());
  ASSERT_TRUE(inode);
  EXPECT_EQ(*inode, inode_of(client.native_handle()));
  EXPECT_NE(*inode, inode_of(accepted.native_handle()));  // the peer's, not ours
  EXPECT_TRUE(process_holds_socket(::getpid(), *inode));
  EXPECT_FALSE(process_holds_socket(::getppid(), *inode));

  // The other direction names the accepted socket.
  const auto back = peer_socket_inode(client.local_endpoint(), client.remote_endpoint());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, inode_of(accepted.native_handle()));
}

TEST(PeerProcess, UnknownConnectionsAndAddressesGiveNothing) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  // No such connection: a port nobody connected from.
  EXPECT_FALSE(peer_socket_inode(acceptor.local_endpoint(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 1)));
  // IPv6 is not looked up.
  EXPECT_FALSE(peer_socket_inode(tcp::endpoint(asio::ip::make_address("::1"), 9100),
                                 tcp::endpoint(asio::ip::make_address("::1"), 40000)));
  EXPECT_FALSE(process_holds_socket(::getpid(), 1));
  EXPECT_FALSE(process_holds_socket(0x7fffffff, 1));  // no such process
}

}  // namespace
}  // namespace honeycomb::node
