// WebSocket stream on 9003 (Boost.Beast): live events and node/pot status
// changes from the StreamHub. A client authenticates with a bearer token
// (Authorization header on the upgrade request, or a first text message
// {"token":"..."} for browsers, which cannot set headers) and may send a
// filter at any time. Every client has a bounded queue; a slow client is
// told how many messages it missed and never slows anyone down.
#pragma once

#include "core/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace honeycomb::core {

class StreamHub;
class Auth;
struct Metrics;

struct WsContext {
  const CoreConfig& config;
  StreamHub& hub;
  Auth& auth;
  Metrics& metrics;
  boost::asio::thread_pool& db_pool;  ///< Auth checks may hit storage
};

/// Bounds of the WebSocket server besides the configured ones
/// (CoreConfig::ws_client_queue, ws_max_clients). Defaults for production;
/// tests shorten the timeouts.
struct WsLimits {
  /// TLS handshake plus reading the HTTP upgrade request, and the
  /// WebSocket handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Without an Authorization header, the first message {"token":"..."}
  /// must arrive within this.
  std::chrono::milliseconds auth_timeout{10'000};
  /// A client whose socket accepts no byte of a message for this long is
  /// disconnected (its queue already drops; this frees the connection).
  std::chrono::milliseconds write_stall_timeout{60'000};
  /// After a close frame is sent (stop(), garbage), the connection is cut
  /// if the close handshake has not finished within this.
  std::chrono::milliseconds close_timeout{3'000};
  /// Upgrade request header bytes.
  std::size_t header_limit = 8 * 1024;
  /// Bytes of one client message (filters are small).
  std::size_t max_message_bytes = 64 * 1024;
  /// Replies (filter confirmations, errors) queued for a client before its
  /// messages are no longer read until the replies are sent.
  std::size_t max_pending_replies = 16;
  /// Invalid client messages in a row before the client is disconnected.
  unsigned max_invalid_messages = 10;
  /// Connections not yet authenticated (TLS/HTTP/WebSocket handshake,
  /// waiting for the token message); more are closed at accept.
  std::size_t max_pending_connections = 128;
};

class WsServer {
 public:
  WsServer(boost::asio::io_context& io, WsContext context, std::shared_ptr<boost::asio::ssl::context> tls);
  /// Calls stop().
  ~WsServer();
  /// Before start(); the defaults otherwise.
  void set_limits(const WsLimits& limits);
  /// Binds config.ws_listen; error text, empty on success.
  std::string start();
  /// Closes the listener and every client (close frame "going away"), and
  /// removes every client from the StreamHub before returning, so nothing
  /// of this server is called by the hub afterwards. Any thread; idempotent.
  void stop();
  /// The bound port (useful with port 0), 0 before start().
  std::uint16_t port() const;
  /// Authenticated clients connected now.
  std::size_t clients() const;
  /// Connections of any state still open (after stop(): those still sending
  /// their close frame).
  std::size_t connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace honeycomb::core
