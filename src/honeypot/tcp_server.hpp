// The TCP side every built-in honeypot shares: the accept loop (admission
// through a ConnectionGate, refusals counted and logged at most once a
// second, a pause instead of a spin on EMFILE), the peer fields stamped on
// every event, and checked integer parameters.
#pragma once

#include "common/log.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/privileges.hpp"

#include <honeycomb/service.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace honeycomb::honeypot {

/// Who is talking to whom; every event of a connection carries it.
struct Peer {
  std::string session;                   ///< 12 hex digits, new per connection
  boost::asio::ip::address src_address;  ///< for comparisons and per-address state
  std::string src_ip;                    ///< src_address as text, for events
  std::int64_t src_port = 0;
  std::string dst_ip;
  std::int64_t dst_port = 0;
};

/// Sets `event_type` and the peer fields (originating_ip, originating_port,
/// dest_ip, dest_port, session) on `alert`.
Alert& stamp(Alert& alert, const char* event_type, const Peer& peer);

using SessionHandler =
    std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket, Peer, ConnectionGate::Ticket)>;

/// Accepts until `acceptor` is closed or its io_context stops; runs
/// `handler` as a coroutine of its own for each admitted connection.
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor acceptor, ConnectionGate& gate, Logger& logger,
                                         log::RateLimiter& refusal_log, SessionHandler handler);

/// The bounds every connection of a built-in honeypot has; the parameters
/// idle_timeout, session_timeout, max_bytes, max_connections, max_per_ip.
struct SessionLimits {
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds session_timeout{900};
  std::uint64_t max_bytes = std::uint64_t{1} << 20;
  ConnectionGate::Limits gate;
};

/// SessionLimits from `args`, each parameter checked; `defaults` for those
/// not given (or not declared by the service).
SessionLimits read_session_limits(const ServiceArgs& args, const SessionLimits& defaults);

/// Integer parameter `name`, checked against [min, max]; std::invalid_argument
/// naming the parameter and the range otherwise.
std::int64_t int_arg(const ServiceArgs& args, const char* name, std::int64_t fallback, std::int64_t min,
                     std::int64_t max);

/// Raises the open-file limit for `max_connections` sockets; warns through
/// `logger` when the hard limit is lower.
void make_room_for(std::size_t max_connections, Logger& logger);

/// For a service's test(): connects to 127.0.0.1:`port`, sends `bytes`,
/// half-closes and reads until the server closes, so that every event of
/// the connection has been raised when it returns. Throws on a connect error.
void converse_once(std::uint16_t port, std::string_view bytes);

/// Opens a listener on address:port; std::runtime_error with the reason.
boost::asio::ip::tcp::acceptor listen_on(boost::asio::io_context& io, const std::string& address, std::uint16_t port);

/// The base of the built-in TCP honeypots: owns the io_context (one thread),
/// the ConnectionGate and the refusal log, and runs the accept loops.
class TcpHoneypot : public Service {
 public:
  void on_server_shutdown() override;

 protected:
  using Listener = std::pair<boost::asio::ip::tcp::acceptor, SessionHandler>;

  boost::asio::io_context& io() { return *io_; }

  /// Accepts on every listener, each with its handler, under `limits`;
  /// drops root (run_as()), signals ready, logs `started`, and runs until
  /// the service stops. When
  /// it returns, every connection is gone (so none outlives the members of
  /// the derived service it uses), and `stopped` is logged.
  void serve(std::vector<Listener>&& listeners, ConnectionGate::Limits limits, const std::string& started,
             const std::string& stopped);

  /// serve() on one port: logs "Starting <label> service on port: N" (the
  /// port bound, for port 0 too) and "<label> service stopped".
  void serve_port(const std::string& address, std::uint16_t port, SessionHandler handler, ConnectionGate::Limits limits,
                  const std::string& label);

  /// Stamps the peer fields on `alert` and queues it.
  void emit(const char* event_type, const Peer& peer, Alert&& alert);

  /// The account the process becomes after binding when started as root
  /// (parameter run_as, default nobody); nullopt when there is none to
  /// become. For what must be handed over before (ftp's quarantine).
  [[nodiscard]] std::optional<Account> run_as() const;

 private:
  std::mutex mutex_;
  std::unique_ptr<boost::asio::io_context> io_ = std::make_unique<boost::asio::io_context>(1);
  std::unique_ptr<ConnectionGate> gate_;
  log::RateLimiter refusal_log_{1};
};

}  // namespace honeycomb::honeypot
