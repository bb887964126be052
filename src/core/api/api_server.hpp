// REST API on 9002 (Boost.Beast, coroutines): the public HoneyBee endpoints
// plus events query, statistics, commands, export and Prometheus metrics.
// Bearer-token auth on everything but /health and the dashboard's static
// files. Blocking storage calls run on the core's database pool, never on
// the I/O threads.
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
namespace api {
class Dashboard;
}

struct ApiContext {
  const CoreConfig& config;
  Registry& registry;
  store::Storage& storage;
  CommandRouter& commands;
  Auth& auth;
  Metrics& metrics;
  boost::asio::thread_pool& db_pool;  ///< where blocking storage calls run
  /// The web dashboard served at `/` (api/dashboard.hpp); null: none.
  std::shared_ptr<const api::Dashboard> dashboard;
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
  /// The WebSocket server's bound port, for GET /api/v1/info (until it is
  /// set: ws_listen's port).
  void set_ws_port(std::uint16_t port);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace honeycomb::core
