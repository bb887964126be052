// Protocol v2 server (port 9001): one session per node connection. A
// session reads whatever arrives into the Framer (several envelopes per
// read, envelopes split across reads), decodes each, updates the registry,
// hands answers to the command router, and appends PotEvents to storage in
// one batch per read — waiting (not reading) while storage is full, so a
// flood slows its own node down and never drops an event or stalls others.
#pragma once

#include "core/config.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace honeycomb::store {
class Storage;
}

namespace honeycomb::core {

class Registry;
class CommandRouter;
class NodeAuthority;
class StreamHub;
struct Metrics;

struct NodeServerContext {
  const CoreConfig& config;
  Registry& registry;
  store::Storage& storage;
  CommandRouter& commands;
  StreamHub& stream;
  Metrics& metrics;
  NodeAuthority& auth;
  boost::asio::thread_pool& db_pool;  ///< blocking work (enrollment) runs here
};

class NodeServer {
 public:
  /// `tls`: null for plain TCP.
  NodeServer(boost::asio::io_context& io, NodeServerContext context, std::shared_ptr<boost::asio::ssl::context> tls);
  ~NodeServer();
  /// Binds config.node_listen and starts accepting; error text, empty on success.
  std::string start();
  /// Stops accepting and closes every session.
  void stop();
  std::uint16_t port() const;
  std::size_t sessions() const;
  /// Closes every session authenticated by a certificate that is no longer
  /// current (revoked). Thread-safe.
  void close_revoked();

  struct Impl;  ///< public so that the sessions (in the .cpp) can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace honeycomb::core
