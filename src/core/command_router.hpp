// Sends a Protocol v2 command to a connected node and waits for its answer:
// the PotStatusUpdate(s) for the command's pot, or a NodeEvent (Error), or a
// timeout. Used by the REST API; node sessions register themselves here and
// hand it every reply-shaped message they receive.
#pragma once

#include "protocol/messages.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace honeycomb::core {

struct Metrics;

struct CommandResult {
  enum class Outcome { answered, timeout, unknown_node, offline };
  Outcome outcome = Outcome::timeout;
  /// The node's answers as Protocol v2 message JSON ({"PotStatusUpdate":{...}}...).
  std::vector<boost::json::value> replies;
  std::string error;  ///< human-readable, for every outcome but answered
  /// GetInstalledPots: the node marked the end of its list (possibly empty).
  bool listing_complete = false;
};

class CommandRouter {
 public:
  /// What a node session gives the router: a way to send it an envelope.
  /// `send` must be thread-safe and non-blocking (it queues).
  using SendFn = std::function<void(std::string envelope)>;

  explicit CommandRouter(Metrics& metrics) : metrics_(metrics) {}

  /// Registers node `id`'s session (replacing an older one); returns its
  /// generation for detach().
  std::uint64_t attach(protocol::NodeId id, SendFn send);
  /// Removes the session unless a newer one has been attached since.
  void detach(protocol::NodeId id, std::uint64_t generation);
  /// `known`: the registry knows this node (offline rather than unknown).
  boost::asio::awaitable<CommandResult> execute(protocol::NodeId id, protocol::Command command, bool known,
                                                std::chrono::milliseconds timeout);
  /// A reply-shaped message from node `id` (PotStatusUpdate, NodeEvent, NodeStatusUpdate).
  void on_reply(protocol::NodeId id, const protocol::Message& message);

 private:
  struct Pending;
  Metrics& metrics_;
  std::mutex mutex_;
  struct Session {
    SendFn send;
    std::uint64_t generation = 0;
  };
  std::map<protocol::NodeId, Session> sessions_;
  std::uint64_t next_generation_ = 0;
  std::multimap<protocol::NodeId, std::shared_ptr<Pending>> pending_;
};

}  // namespace honeycomb::core
