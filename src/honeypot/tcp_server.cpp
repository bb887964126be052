#include "honeypot/tcp_server.hpp"

#include "common/listen_socket.hpp"
#include "honeypot/install.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <stdexcept>
#include <unistd.h>

namespace honeycomb::honeypot {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
/// After an accept error such as EMFILE the connection stays queued and the
/// listener readable: retrying at once would spin.
constexpr std::chrono::milliseconds kAcceptRetry{50};
}  // namespace

Alert& stamp(Alert& alert, const char* event_type, const Peer& peer) {
  alert.event_type = event_type;
  alert.set("originating_ip", peer.src_ip)
      .set("originating_port", peer.src_port)
      .set("dest_ip", peer.dst_ip)
      .set("dest_port", peer.dst_port)
      .set("session", peer.session);
  return alert;
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, ConnectionGate& gate, Logger& logger,
                                  log::RateLimiter& refusal_log, SessionHandler handler) {
  const auto executor = acceptor.get_executor();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      asio::steady_timer pause(executor, kAcceptRetry);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    const auto local = socket.local_endpoint(peer_ec);
    if (peer_ec) {
      continue;  // reset before we looked: nothing to record
    }
    ConnectionGate::Ticket ticket;
    if (const auto verdict = gate.admit(remote.address(), ticket); verdict != ConnectionGate::Verdict::admitted) {
      // Refused connections are counted, not recorded one by one: a flood
      // must not become a flood of events.
      socket.close(ec);
      std::uint64_t suppressed = 0;
      if (refusal_log.allow(suppressed)) {
        logger.warning(
            "refused a connection from " + remote.address().to_string() +
            (verdict == ConnectionGate::Verdict::source_cap ? " (max_per_ip reached)" : " (max_connections reached)") +
            "; refused so far: " + std::to_string(gate.refused_source_cap() + gate.refused_total_cap()));
      }
      continue;
    }
    Peer peer{
        new_session_id(), remote.address(), remote.address().to_string(), remote.port(), local.address().to_string(),
        local.port()};
    asio::co_spawn(executor, handler(std::move(socket), std::move(peer), std::move(ticket)), asio::detached);
  }
}

SessionLimits read_session_limits(const ServiceArgs& args, const SessionLimits& defaults) {
  SessionLimits limits;
  limits.idle_timeout = std::chrono::seconds(int_arg(args, "idle_timeout", defaults.idle_timeout.count(), 1, 86400));
  limits.session_timeout =
      std::chrono::seconds(int_arg(args, "session_timeout", defaults.session_timeout.count(), 1, 86400));
  limits.max_bytes = static_cast<std::uint64_t>(
      int_arg(args, "max_bytes", static_cast<std::int64_t>(defaults.max_bytes), 1, std::int64_t{1} << 40));
  limits.gate.max_connections = static_cast<std::size_t>(
      int_arg(args, "max_connections", static_cast<std::int64_t>(defaults.gate.max_connections), 1, 1'000'000));
  limits.gate.max_per_source = static_cast<std::size_t>(
      int_arg(args, "max_per_ip", static_cast<std::int64_t>(defaults.gate.max_per_source), 1, 1'000'000));
  return limits;
}

std::int64_t int_arg(const ServiceArgs& args, const char* name, std::int64_t fallback, std::int64_t min,
                     std::int64_t max) {
  const auto value = args.get<std::int64_t>(name, fallback);
  if (value < min || value > max) {
    throw std::invalid_argument(std::string(name) + " must be from " + std::to_string(min) + " to " +
                                std::to_string(max) + " (got " + std::to_string(value) + ")");
  }
  return value;
}

void make_room_for(std::size_t max_connections, Logger& logger) {
  if (const auto files = raise_open_file_limit(max_connections); files < max_connections) {
    logger.warning("max_connections is " + std::to_string(max_connections) + " but this process may open only " +
                   std::to_string(files) + " files (ulimit -n): connections past that wait in the listen queue");
  }
}

void converse_once(std::uint16_t port, std::string_view bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  asio::write(socket, asio::buffer(bytes));
  socket.shutdown(tcp::socket::shutdown_send);
  boost::system::error_code ec;
  std::array<char, 1024> sink{};
  while (!ec) {
    socket.read_some(asio::buffer(sink), ec);
  }
}

tcp::acceptor listen_on(asio::io_context& io, const std::string& address, std::uint16_t port) {
  tcp::acceptor acceptor(io);
  if (auto error = open_listener(acceptor, {address, port}, "port", "honeypot"); !error.empty()) {
    throw std::runtime_error(error);
  }
  return acceptor;
}

void TcpHoneypot::on_server_shutdown() {
  std::lock_guard lock(mutex_);
  if (io_) {
    io_->stop();
  }
}

void TcpHoneypot::serve(std::vector<Listener>&& listeners, ConnectionGate::Limits limits, const std::string& started,
                        const std::string& stopped) {
  gate_ = std::make_unique<ConnectionGate>(limits);
  make_room_for(limits.max_connections * 2, logger());  // a data connection each (ftp)
  // Root was needed to bind (and to raise the open-file limit); nothing
  // after this point needs it, and no attacker byte has been read yet.
  if (const auto account = run_as()) {
    drop_privileges(*account);
    logger().info("running as " + account->name + " (uid " + std::to_string(account->uid) +
                  ") from now on; root only bound the ports");
  } else if (::geteuid() == 0) {
    logger().warning("still running as root (run_as=root): whoever exploits this process owns the machine");
  }
  for (auto& [acceptor, handler] : listeners) {
    asio::co_spawn(*io_, accept_loop(std::move(acceptor), *gate_, logger(), refusal_log_, std::move(handler)),
                   asio::detached);
  }
  signal_ready();
  logger().info(started);
  io_->run();
  {
    // Destroys the connections still pending, now, while the derived
    // service's members they use are alive.
    std::lock_guard lock(mutex_);
    io_.reset();
  }
  logger().info(stopped);
}

void TcpHoneypot::serve_port(const std::string& address, std::uint16_t port, SessionHandler handler,
                             ConnectionGate::Limits limits, const std::string& label) {
  auto acceptor = listen_on(*io_, address, port);
  const auto bound = acceptor.local_endpoint().port();
  std::vector<Listener> listeners;
  listeners.emplace_back(std::move(acceptor), std::move(handler));
  serve(std::move(listeners), limits, "Starting " + label + " service on port: " + std::to_string(bound),
        label + " service stopped");
}

std::optional<Account> TcpHoneypot::run_as() const {
  return account_to_run_as(service_args().get("run_as", "nobody"));
}

void TcpHoneypot::emit(const char* event_type, const Peer& peer, Alert&& alert) {
  add_alert_to_queue(std::move(stamp(alert, event_type, peer)));
}

}  // namespace honeycomb::honeypot
