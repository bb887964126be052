#include "honeypot/deadline_io.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <memory>

namespace honeycomb::honeypot {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
template <typename Socket>
asio::awaitable<bool> race_readable(Socket& socket, std::chrono::steady_clock::duration timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto winner = co_await (socket.async_wait(Socket::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  co_return winner.index() == 0;
}
}  // namespace

asio::awaitable<bool> wait_readable(asio::ip::tcp::socket& socket, std::chrono::steady_clock::duration timeout) {
  return race_readable(socket, timeout);
}

asio::awaitable<bool> wait_readable(asio::local::stream_protocol::socket& socket,
                                    std::chrono::steady_clock::duration timeout) {
  return race_readable(socket, timeout);
}

asio::awaitable<bool> write_all(asio::ip::tcp::socket& socket, asio::const_buffer data,
                                std::chrono::steady_clock::duration timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto winner = co_await (asio::async_write(socket, data, asio::as_tuple(asio::use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (winner.index() != 0) {
    co_return false;
  }
  const auto [ec, written] = std::get<0>(winner);
  co_return !ec && written == data.size();
}

std::span<char> thread_read_buffer() {
  thread_local const std::unique_ptr<char[]> buffer(new char[read_buffer_size]);  // NOLINT(*-avoid-c-arrays)
  return {buffer.get(), read_buffer_size};
}

}  // namespace honeycomb::honeypot
