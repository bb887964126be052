// The node's Protocol v2 link to the core: connect, register (announcing the
// `event_ack` extension), status at once and every heartbeat, forward the
// spool in order, answer commands, NodeDrop before a voluntary disconnect,
// reconnect with exponential backoff and jitter. Runs on its own io_context
// (one thread), apart from the event port's.
//
// Several cores (a list in `core:`, cores sharing one database): the link
// connects to the first, stays with the core it reached until that
// connection drops or fails, and then tries the next one in the list, round
// robin. Trying the next one is immediate; the backoff applies once every
// address has been tried without success (and, as with one core, after a
// dropped connection). Enrollment with a join token goes to whichever core
// answers first.
//
// Delivery: with a core that confirms `event_ack`, an event leaves the spool
// only when the core says it is committed; after a reconnect everything not
// confirmed is sent again with the same `event_id` and time, and the core
// stores it once. A core that does not (the public Rust core, which has no
// PotEvent at all) gets status, command answers and NodeDrop, one message
// per write and never two at once; events wait in the spool (bounded), or,
// with `forward_without_ack: true`, are sent and leave the spool once
// written (what is in flight when such a core fails is lost). The node
// says which in its log at every registration.
#pragma once

#include "node/config.hpp"
#include "node/pot_event.hpp"
#include "protocol/messages.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace honeycomb::spool {
class Spool;
}

namespace honeycomb::node {

class AckGate;

struct LinkStats {
  std::atomic<bool> connected{false};  ///< registered and accepted
  std::atomic<bool> core_acks{false};  ///< the core confirmed `event_ack`
  std::atomic<std::uint64_t> registrations{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> events_sent{0};  ///< PotEvents written (resends included)
  std::atomic<std::uint64_t> commands{0};
  /// Which core of the configured list the link is registered with, from 1
  /// (0: none).
  std::atomic<std::size_t> core_number{0};
};

/// Answers the core's commands; the pot manager implements it. Called on
/// the link's thread; `reply` sends one message (thread-safe, may be kept and
/// called later from any thread).
class CommandHandler {
 public:
  virtual ~CommandHandler() = default;
  using Reply = std::function<void(protocol::Message)>;
  virtual void handle(const protocol::Command& command, const Reply& reply) = 0;
};

class CoreLink {
 public:
  /// The core's confirmations go to `gate` (which acknowledges the spool
  /// once the local outputs are done too); the link resumes after
  /// gate.core_position().
  CoreLink(boost::asio::io_context& io, const NodeConfig& config, std::uint64_t node_id, spool::Spool& spool,
           AckGate& gate, std::uint16_t event_port, CommandHandler* commands);
  ~CoreLink();
  CoreLink(const CoreLink&) = delete;
  CoreLink& operator=(const CoreLink&) = delete;

  void start();
  /// New events are in the spool. Thread-safe and cheap (coalesced).
  void wake();
  /// Sends a message to the core when connected (pot status changes);
  /// dropped when not. Thread-safe.
  void send(protocol::Message message);
  /// Sends NodeDrop when connected, closes, stops reconnecting; `done` runs
  /// on the link's thread when the link has stopped (at most ~2 s).
  void stop(std::function<void()> done);
  const LinkStats& stats() const;
  /// HOST:PORT of the core the link is registered with now; empty: none.
  /// Thread-safe.
  std::string connected_core() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace honeycomb::node
