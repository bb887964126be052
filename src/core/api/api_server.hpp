// REST API on 9002 (Boost.Beast, coroutines): the public HoneyBee endpoints
// plus events query, statistics, commands, export and Prometheus metrics.
// Bearer-token auth on everything but /health. Blocking storage calls run
// on the core's database pool, never on the I/O threads.
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
class Auth;
struct Metrics;

struct ApiContext {
  const CoreConfig& config;
  Registry& registry;
  store::Storage& storage;
  CommandRouter& commands;
  Auth& auth;
  Metrics& metrics;
  boost::asio::thread_pool& db_pool;  ///< where blocking storage calls run
};

class ApiServer {
 public:
  /// `tls`: null for plain HTTP.
  ApiServer(boost::asio::io_context& io, ApiContext context, std::shared_ptr<boost::asio::ssl::context> tls);
  ~ApiServer();
  /// Binds config.api_listen and starts accepting. Returns an error text
  /// ("cannot listen on 127.0.0.1:9002: Address already in use"), empty on success.
  std::string start();
  void stop();
  /// The bound port (useful with port 0).
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace honeycomb::core
