#include "node/event_port.hpp"

#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "common/listen_socket.hpp"
#include "common/log.hpp"
#include "node/line_assembler.hpp"
#include "spool/spool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace honeycomb::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One read buffer per event-port thread (see the header: idle connections
/// hold none). The slack after it lets simdjson read past a line's end.
constexpr std::size_t kReadBytes = 256 * 1024;
/// Reads one connection may do in a row before letting the others run.
constexpr int kReadsPerTurn = 16;

std::string peer_text(const tcp::endpoint& remote) {
  return fmt::format("{}:{}", remote.address().to_string(), remote.port());
}

std::vector<char>& read_buffer() {
  thread_local std::vector<char> buffer(kReadBytes + LineAssembler::kPadding);
  return buffer;
}

}  // namespace

struct EventPort::Impl : std::enable_shared_from_this<EventPort::Impl> {
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
  };

  Impl(asio::io_context& io_context, const NodeConfig& cfg, spool::Spool& sp, std::function<void()> appended)
      : io(io_context),
        config(cfg),
        spool(sp),
        on_appended(std::move(appended)),
        acceptor(io_context),
        log(log::get("node.events")) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection, tcp::endpoint remote);

  void warn_malformed(const tcp::endpoint& peer, std::string_view reason, std::string_view line) {
    std::uint64_t suppressed = 0;
    if (!malformed_log.allow(suppressed)) {
      return;
    }
    std::string start;
    json_text::append_string(start, line.substr(0, 80));
    log->warn("event port: dropped a line from {}: {} ({} bytes, starts {}){}", peer_text(peer), reason, line.size(),
              start, suppressed ? fmt::format("; {} more not logged", suppressed) : std::string());
  }

  asio::io_context& io;
  const NodeConfig& config;
  spool::Spool& spool;
  std::function<void()> on_appended;
  tcp::acceptor acceptor;
  std::shared_ptr<spdlog::logger> log;
  EventPortStats stats;
  log::RateLimiter malformed_log{5};
  log::RateLimiter refused_log{1};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::uint64_t next_serial = 0;
  std::map<std::uint64_t, std::weak_ptr<Connection>> live;
};

asio::awaitable<void> EventPort::Impl::serve(std::shared_ptr<Connection> connection, tcp::endpoint remote) {
  auto self = shared_from_this();
  auto& socket = connection->socket;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  // The peer's text only for a log line or an anomaly event: a
  // connection-per-event client should not cost a string per connection.
  const auto peer = [&remote]() { return peer_text(remote); };
  LineAssembler lines(config.max_line_bytes);
  std::vector<spool::Entry> entries;
  std::deque<std::string> anomalies;  // own the text of anomaly events until appended
  std::int64_t now = 0;

  auto on_line = [&](std::string_view line) {
    const auto check = check_line(line);
    switch (check.kind) {
      case LineKind::event:
        entries.push_back(spool::Entry{now, {}, line});
        break;
      case LineKind::blank:
        stats.blank_lines.fetch_add(1, std::memory_order_relaxed);
        break;
      case LineKind::malformed:
        stats.malformed.fetch_add(1, std::memory_order_relaxed);
        warn_malformed(remote, check.reason, line);
        break;
    }
  };
  auto on_oversize = [&](std::string_view head, std::size_t total) {
    stats.oversized.fetch_add(1, std::memory_order_relaxed);
    anomalies.push_back(oversize_event(head, total, config.max_line_bytes, peer(), now));
    entries.push_back(spool::Entry{now, {}, anomalies.back()});
    std::uint64_t suppressed = 0;
    if (malformed_log.allow(suppressed)) {
      log->warn("event port: a line of {} bytes from {} is over max_line_bytes ({}): stored as node.line_too_long",
                total, peer(), config.max_line_bytes);
    }
  };
  auto append = [&]() {
    if (entries.empty()) {
      return;
    }
    spool.append(entries);
    stats.events.fetch_add(entries.size(), std::memory_order_relaxed);
    entries.clear();
    anomalies.clear();
    if (on_appended) {
      on_appended();
    }
  };

  // Read first, wait only when nothing is there: a connection-per-event
  // client has usually sent its line (and closed) by the time it is
  // accepted, so the common case costs no epoll round trip.
  bool open = true;
  while (open && !stopping.load(std::memory_order_relaxed)) {
    auto& buffer = read_buffer();
    bool drained = false;
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      const std::size_t n = socket.read_some(asio::buffer(buffer.data(), kReadBytes), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        drained = true;
        break;
      }
      if (ec || n == 0) {
        open = false;
        break;
      }
      now = unix_now_us();
      stats.bytes.fetch_add(n, std::memory_order_relaxed);
      lines.feed(std::string_view(buffer.data(), n), on_line, on_oversize);
      // Appended before the next read: the views point into the buffer.
      append();
    }
    if (!open) {
      break;
    }
    if (drained) {
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
      if (wait_ec) {
        break;
      }
    } else {
      // A busy connection had its turn; let the others read.
      co_await asio::post(socket.get_executor(), asio::use_awaitable);
    }
  }
  now = unix_now_us();
  lines.finish(on_line, on_oversize);
  append();
  lines.release();
  socket.close(ec);
  stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

asio::awaitable<void> EventPort::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    // The peer's address comes with accept() (no getpeername per connection).
    tcp::endpoint remote;
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(io), remote, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) {
        co_return;
      }
      // EMFILE and friends: back off instead of spinning.
      log->warn("event port: accept failed: {}", ec.message());
      asio::steady_timer t(io, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code pec;
    if (stats.connections_open.load() >= config.max_connections) {
      stats.connections_refused.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t suppressed = 0;
      if (refused_log.allow(suppressed)) {
        log->warn("event port: refusing {}: {} connections open already (max_connections){}", peer_text(remote),
                  config.max_connections, suppressed ? fmt::format("; {} more refused", suppressed) : std::string());
      }
      socket.close(pec);
      continue;
    }
    stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    stats.connections_open.fetch_add(1, std::memory_order_relaxed);
    auto connection = std::make_shared<Connection>(std::move(socket));
    std::uint64_t serial = 0;
    {
      std::lock_guard lock(mutex);
      serial = ++next_serial;
      live.emplace(serial, connection);
    }
    auto executor = connection->socket.get_executor();
    asio::co_spawn(executor, serve(connection, remote), [self, serial](const std::exception_ptr& e) {
      {
        std::lock_guard lock(self->mutex);
        self->live.erase(serial);
      }
      if (e) {
        // Attacker input never throws; this is a bug. Keep the
        // node up and say so.
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          self->log->error("event port: connection ended by an exception: {}", ex.what());
        }
      }
    });
  }
}

EventPort::EventPort(asio::io_context& io, const NodeConfig& config, spool::Spool& spool,
                     std::function<void()> on_appended)
    : impl_(std::make_shared<Impl>(io, config, spool, std::move(on_appended))) {}

EventPort::~EventPort() {
  stop();
}

std::string EventPort::start() {
  auto error = open_listener(impl_->acceptor, impl_->config.event_listen, "event_listen", "event port");
  if (!error.empty()) {
    return error;
  }
  auto& a = impl_->acceptor;
  asio::co_spawn(a.get_executor(), impl_->accept_loop(), asio::detached);
  return {};
}

void EventPort::stop() {
  if (impl_->stopping.exchange(true)) {
    return;
  }
  auto impl = impl_;
  asio::post(impl->acceptor.get_executor(), [impl]() {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<Impl::Connection>> connections;
  {
    std::lock_guard lock(impl->mutex);
    for (auto& [serial, weak] : impl->live) {
      if (auto c = weak.lock()) {
        connections.push_back(std::move(c));
      }
    }
  }
  for (auto& c : connections) {
    // cancel() wakes the coroutine's wait; it then drains what it read.
    asio::post(c->socket.get_executor(), [c]() {
      boost::system::error_code ec;
      c->socket.cancel(ec);
    });
  }
}

std::uint16_t EventPort::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

const EventPortStats& EventPort::stats() const {
  return impl_->stats;
}

}  // namespace honeycomb::node
