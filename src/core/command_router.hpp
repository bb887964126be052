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
#include <optional>
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
  /// A node without a session here goes to the remote executor when there
  /// is one (several cores on one database) unless `local_only`.
  boost::asio::awaitable<CommandResult> execute(protocol::NodeId id, protocol::Command command, bool known,
                                                std::chrono::milliseconds timeout, bool local_only = false);

  /// Several cores on one database (core/cluster.hpp): runs a command for a
  /// node whose session is on another core; nullopt when no core has it.
  using RemoteExecutor = std::function<boost::asio::awaitable<std::optional<CommandResult>>(
      protocol::NodeId, protocol::Command, std::chrono::milliseconds)>;
  void set_remote_executor(RemoteExecutor remote) { remote_ = std::move(remote); }
  /// Told when a node's session attaches (true) or detaches (false): the
  /// other cores learn where the node is. Must not block.
  void set_presence_hook(std::function<void(protocol::NodeId, bool)> hook) { presence_ = std::move(hook); }
  /// A reply-shaped message from node `id` (PotStatusUpdate, NodeEvent, NodeStatusUpdate).
  void on_reply(protocol::NodeId id, const protocol::Message& message);

 private:
  struct Pending;
  /// execute() for a node whose session is (or should be) on this core.
  boost::asio::awaitable<CommandResult> execute_here(protocol::NodeId id, protocol::Command command, bool known,
                                                     std::chrono::milliseconds timeout);
  Metrics& metrics_;
  std::mutex mutex_;
  struct Session {
    SendFn send;
    std::uint64_t generation = 0;
  };
  std::map<protocol::NodeId, Session> sessions_;
  std::uint64_t next_generation_ = 0;
  std::multimap<protocol::NodeId, std::shared_ptr<Pending>> pending_;
  RemoteExecutor remote_;                                 ///< set before the servers start
  std::function<void(protocol::NodeId, bool)> presence_;  ///< likewise
};

}  // namespace honeycomb::core
