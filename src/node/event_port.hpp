// The event port (TCP 9100, loopback by default): honeypots send one JSON
// object per line and never get an answer. Every valid line is appended to
// the durable spool before anything else happens to it; what cannot be an
// event is counted and logged (rate-limited) and never stops the connection
// or the node: blank lines are ignored, malformed JSON is dropped, a line
// over max_line_bytes becomes an anomaly event carrying its first bytes.
// Connections are capped (max_connections), never timed out when idle.
//
// Reads are reactor-style (wait until readable, then read into one buffer
// per thread), so an idle connection holds no read buffer: thousands of
// them cost a few hundred bytes each.
#pragma once

#include "node/config.hpp"
#include "node/event_line.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace honeycomb::spool {
class Spool;
}

namespace honeycomb::node {

struct EventPortStats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  ///< over max_connections
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> events{0};  ///< lines appended to the spool (anomalies included)
  std::atomic<std::uint64_t> blank_lines{0};
  std::atomic<std::uint64_t> malformed{0};  ///< not a JSON object: dropped
  std::atomic<std::uint64_t> oversized{0};  ///< over max_line_bytes: became anomaly events
  std::atomic<std::uint64_t> bytes{0};
};

class EventPort {
 public:
  /// `on_appended` runs (on an event-port thread) after each batch lands in
  /// the spool: it wakes the link to the core.
  EventPort(boost::asio::io_context& io, const NodeConfig& config, spool::Spool& spool,
            std::function<void()> on_appended);
  ~EventPort();
  EventPort(const EventPort&) = delete;
  EventPort& operator=(const EventPort&) = delete;

  /// Counts events per pot they name (for the pot manager's metrics); set
  /// before start(). Called on event-port threads, once per read and pot.
  void count_pot_events(std::function<void(std::string_view pot_id, std::uint64_t events)> counter);
  /// Names the pot a connection comes from (empty: unknown); events of that
  /// connection that name no pot get it (spool origin). Called once per
  /// accepted connection (its descriptor and peer) on an event-port thread;
  /// set before start().
  using OriginResolver = std::function<std::string(int socket, const boost::asio::ip::tcp::endpoint& remote)>;
  void resolve_origin(OriginResolver resolver);
  /// Binds config.event_listen; error text, empty on success.
  std::string start();
  /// Stops accepting and closes every connection (each appends what it read).
  void stop();
  std::uint16_t port() const;
  const EventPortStats& stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace honeycomb::node
