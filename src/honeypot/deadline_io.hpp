// Socket waits with a timeout for the built-in honeypots' coroutines.
//
// A honeypot often needs a timeout that does not end the connection (a
// client that went quiet has finished its first message). Racing a read
// against a timer could drop bytes the losing read had already taken, so
// these race a readiness wait instead and read only once data is there.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <cstddef>
#include <span>

namespace honeycomb::honeypot {

/// True once `socket` has bytes (or EOF, or an error) to read; false when
/// `timeout` passed first. Nothing is consumed.
boost::asio::awaitable<bool> wait_readable(boost::asio::ip::tcp::socket& socket,
                                           std::chrono::steady_clock::duration timeout);

/// The same for one end of a local socket pair (the ssh honeypot's engine).
boost::asio::awaitable<bool> wait_readable(boost::asio::local::stream_protocol::socket& socket,
                                           std::chrono::steady_clock::duration timeout);

/// Writes all of `data`; false on an error or when `timeout` passed first.
boost::asio::awaitable<bool> write_all(boost::asio::ip::tcp::socket& socket, boost::asio::const_buffer data,
                                       std::chrono::steady_clock::duration timeout);

/// The calling thread's read buffer (`read_buffer_size` bytes), for the
/// pattern above: wait_readable(), then a non-blocking read_some() into it,
/// then use the bytes up (or copy them) before the coroutine next awaits.
/// One per thread, shared by every session and honeypot on it, and
/// allocated on first use: a per-connection buffer would cost every idle
/// session its size, and a thread_local array would cost every thread of
/// every process (pipeline workers, the node's threads) its size at start.
inline constexpr std::size_t read_buffer_size = 16384;
std::span<char> thread_read_buffer();

}  // namespace honeycomb::honeypot
