// Opening a TCP listener from an ADDRESS:PORT setting, the same way for
// every server (the core's node port, the node's event port): address
// checked, SO_REUSEADDR (a restart must not wait for TIME_WAIT), the
// kernel's largest backlog (connection-per-event clients arrive in bursts).
#pragma once

#include "common/config_keys.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace honeycomb {

/// Opens, binds and listens `acceptor` on `listen`. Error text naming the
/// setting (`key`) and the listener (`what`); empty on success.
inline std::string open_listener(boost::asio::ip::tcp::acceptor& acceptor, const config_keys::Listen& listen,
                                 std::string_view key, std::string_view what) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen.address, ec);
  if (ec) {
    return fmt::format("{}: '{}' is not an IP address", key, listen.address);
  }
  asio::ip::tcp::endpoint endpoint(address, listen.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return fmt::format("cannot listen on {} ({}): {}", listen.text(), what, ec.message());
  }
  return {};
}

}  // namespace honeycomb
