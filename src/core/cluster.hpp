// Several cores on one PostgreSQL database (docs/DEPLOYMENT.md): what makes
// them one fleet. Each core has an id; through the database it
//  - says where its nodes are (the router's sessions, store::node_presence),
//  - shows the nodes connected to the other cores (the registry refreshed
//    from the database every kRegistryRefresh),
//  - runs commands for nodes connected elsewhere (the router's remote
//    executor: queued in the database for that core, answer polled) and
//    runs the commands the other cores queued for its own nodes,
//  - streams the events the other cores commit to its WebSocket clients.
// Off (start() returns false) when the storage cannot be shared (SQLite).
#pragma once

#include "core/command_router.hpp"
#include "core/registry.hpp"
#include "core/stream_hub.hpp"
#include "store/storage.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace honeycomb::core {

struct ClusterContext {
  boost::asio::io_context& io;
  boost::asio::thread_pool& db_pool;
  store::Storage& storage;
  CommandRouter& router;
  StreamHub& hub;
  Registry& registry;
  spdlog::logger& log;
};

class Cluster {
 public:
  explicit Cluster(ClusterContext context);
  /// Leaves the cluster: the storage's listener stops calling back here.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  /// Joins the cluster when the storage is shared (before the servers
  /// start: the router's hooks are set here). False: one core alone.
  bool start();
  /// Stops the loops (shutdown); the storage says goodbye when destroyed.
  void stop();
  std::uint64_t core_id() const { return core_id_; }

  /// A CommandResult as it crosses the database, and back.
  static std::string encode_result(const CommandResult& result);
  static std::optional<CommandResult> decode_result(const std::string& json);

 private:
  boost::asio::awaitable<void> serve_commands();
  boost::asio::awaitable<void> run_command(store::RemoteCommand command);
  boost::asio::awaitable<void> refresh_registry();
  boost::asio::awaitable<std::optional<CommandResult>> execute_remote(protocol::NodeId id, protocol::Command command,
                                                                      std::chrono::milliseconds timeout);
  void publish_remote(const std::vector<store::StoredEvent>& events);

  ClusterContext ctx_;
  std::uint64_t core_id_ = 0;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  /// Presence changes in order (a connect then a disconnect must not swap).
  boost::asio::strand<boost::asio::thread_pool::executor_type> presence_strand_;
  boost::asio::steady_timer wake_;     ///< serve_commands() waits on it; a notification cancels it
  boost::asio::steady_timer refresh_;  ///< refresh_registry()'s tick
  std::atomic<bool> stopping_{false};
};

}  // namespace honeycomb::core
