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

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <forward_list>
#include <map>
#include <memory>
#include <mutex>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace honeycomb::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One read buffer per event-port thread (see the header: idle connections
/// hold none), with LineAssembler::kPadding of slack after it.
constexpr std::size_t kReadBytes = std::size_t{256} * 1024;
/// Reads one connection may do in a row before letting the others run.
constexpr int kReadsPerTurn = 16;
/// Connections accepted in a row before the loop lets the others run.
constexpr int kAcceptsPerTurn = 64;
/// Reads of a new connection in the accept path: its line, then its end of
/// stream. One that sends more goes on in its own coroutine, so a turn of
/// the accept loop reads at most kAcceptsPerTurn * 2 buffers.
constexpr int kAcceptReads = 2;

std::string peer_text(const tcp::endpoint& remote) {
  return fmt::format("{}:{}", remote.address().to_string(), remote.port());
}

/// The thread's read buffer, not zero-filled: its pages become resident as
/// reads first reach them, so a node that has only seen short lines keeps a
/// page or two of it, not all 256 KiB (a vector zero-filled every page).
char* read_buffer() {
  thread_local const auto buffer = std::make_unique_for_overwrite<char[]>(kReadBytes + LineAssembler::kPadding);
  return buffer.get();
}

}  // namespace

struct EventPort::Impl : std::enable_shared_from_this<EventPort::Impl> {
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
  };
  class Reader;

  Impl(asio::io_context& io_context, const NodeConfig& cfg, spool::Spool& sp, std::function<void()> appended)
      : io(io_context),
        config(cfg),
        spool(sp),
        on_appended(std::move(appended)),
        acceptor(io_context),
        log(log::get("node.events")) {}

  asio::awaitable<void> accept_loop();
  /// Accepts what is waiting (at most kAcceptsPerTurn); false when accept
  /// failed for a reason that calls for a pause (EMFILE, ...).
  bool accept_ready();
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection, std::unique_ptr<Reader> reader);

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
  std::function<void(std::string_view, std::uint64_t)> pot_counter;
  OriginResolver origin_resolver;
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

/// What one connection sends: bytes assembled into lines, each checked and
/// appended to the spool before the next read (the lines are views into the
/// thread's read buffer). Used first by the accept path, then, if the
/// connection stays open, by its coroutine.
class EventPort::Impl::Reader {
 public:
  Reader(Impl& port, tcp::endpoint remote, std::string origin)
      : port_(port), remote_(std::move(remote)), origin_(std::move(origin)), lines_(port.config.max_line_bytes) {}

  /// Feeds one read's bytes; appends what they complete.
  void feed(std::string_view bytes) {
    now_ = unix_now_us();
    port_.stats.bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
    lines_.feed(
        bytes, [this](std::string_view line) { on_line(line); },
        [this](std::string_view head, std::size_t total) { on_oversize(head, total); });
    append();
  }
  /// End of stream: a last line without its newline counts too.
  void finish() {
    now_ = unix_now_us();
    lines_.finish([this](std::string_view line) { on_line(line); },
                  [this](std::string_view head, std::size_t total) { on_oversize(head, total); });
    append();
    lines_.release();
  }
  /// Whether anything reached the spool since the last call.
  bool take_appended() { return std::exchange(appended_, false); }

 private:
  void on_line(std::string_view line) {
    const auto check = check_line(line);
    switch (check.kind) {
      case LineKind::event:
        entries_.push_back(spool::Entry{now_, origin_, line});
        if (const auto pot = check.pot_id.empty() ? std::string_view(origin_) : check.pot_id;
            !pot.empty() && port_.pot_counter) {
          if (pot != counted_pot_) {
            flush_counts();
            counted_pot_.assign(pot);
          }
          ++counted_;
        }
        break;
      case LineKind::blank:
        port_.stats.blank_lines.fetch_add(1, std::memory_order_relaxed);
        break;
      case LineKind::malformed:
        port_.stats.malformed.fetch_add(1, std::memory_order_relaxed);
        port_.warn_malformed(remote_, check.reason, line);
        break;
    }
  }
  void on_oversize(std::string_view head, std::size_t total) {
    port_.stats.oversized.fetch_add(1, std::memory_order_relaxed);
    // The peer's text only for a log line or an anomaly event: a
    // connection-per-event client should not cost a string per connection.
    anomalies_.push_front(oversize_event(head, total, port_.config.max_line_bytes, peer_text(remote_), now_));
    entries_.push_back(spool::Entry{now_, origin_, anomalies_.front()});
    std::uint64_t suppressed = 0;
    if (port_.malformed_log.allow(suppressed)) {
      port_.log->warn(
          "event port: a line of {} bytes from {} is over max_line_bytes ({}): stored as node.line_too_long", total,
          peer_text(remote_), port_.config.max_line_bytes);
    }
  }
  void flush_counts() {
    if (counted_ > 0 && port_.pot_counter) {
      port_.pot_counter(counted_pot_, counted_);
    }
    counted_ = 0;
  }
  void append() {
    if (entries_.empty()) {
      return;
    }
    port_.spool.append(entries_);
    port_.stats.events.fetch_add(entries_.size(), std::memory_order_relaxed);
    flush_counts();
    entries_.clear();
    anomalies_.clear();
    appended_ = true;
  }

  Impl& port_;
  tcp::endpoint remote_;
  // The pot this connection comes from, when the node runs it: fills the
  // pot id of events that name none.
  std::string origin_;
  LineAssembler lines_;
  std::vector<spool::Entry> entries_;
  // Own the text of anomaly events until appended. A list: the entries
  // point into its strings, and an empty one costs no allocation (most
  // connections carry no anomaly; a deque allocates when constructed).
  std::forward_list<std::string> anomalies_;
  std::int64_t now_ = 0;
  // Events per pot, counted in runs (a connection usually carries one pot).
  std::string counted_pot_;
  std::uint64_t counted_ = 0;
  bool appended_ = false;
};

asio::awaitable<void> EventPort::Impl::serve(std::shared_ptr<Connection> connection, std::unique_ptr<Reader> reader) {
  auto self = shared_from_this();
  auto& socket = connection->socket;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  // The accept path read until the socket had nothing more: wait first.
  bool open = true;
  while (open && !stopping.load(std::memory_order_relaxed)) {
    auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (wait_ec) {
      break;
    }
    char* const buffer = read_buffer();
    bool drained = false;
    while (!drained && open) {
      for (int turn = 0; turn < kReadsPerTurn; ++turn) {
        const std::size_t n = socket.read_some(asio::buffer(buffer, kReadBytes), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          drained = true;
          break;
        }
        if (ec || n == 0) {
          open = false;
          break;
        }
        reader->feed(std::string_view(buffer, n));
      }
      if (reader->take_appended() && on_appended) {
        on_appended();
      }
      if (!drained && open) {
        // A busy connection had its turn; let the others read.
        co_await asio::post(socket.get_executor(), asio::use_awaitable);
      }
    }
  }
  reader->finish();
  if (reader->take_appended() && on_appended) {
    on_appended();
  }
  socket.close(ec);
  stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

bool EventPort::Impl::accept_ready() {
  char* const buffer = read_buffer();
  bool appended = false;
  for (int accepted = 0; accepted < kAcceptsPerTurn; ++accepted) {
    // accept4 by hand rather than async_accept: a connection-per-event
    // client has usually sent its line and closed by now, so the line is
    // read and the descriptor closed without ever entering epoll. About half
    // the system calls per connection (docs/BENCHMARKS.md, per-event rate).
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&address), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
        continue;  // that peer is gone; the next one may be there
      }
      log->warn("event port: accept failed: {}", std::strerror(errno));
      if (appended && on_appended) {
        on_appended();
      }
      return false;
    }
    tcp::endpoint remote;
    remote.resize(std::min<std::size_t>(length, remote.capacity()));
    std::memcpy(remote.data(), &address, remote.size());
    if (stats.connections_open.load() >= config.max_connections) {
      stats.connections_refused.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t suppressed = 0;
      if (refused_log.allow(suppressed)) {
        log->warn("event port: refusing {}: {} connections open already (max_connections){}", peer_text(remote),
                  config.max_connections, suppressed ? fmt::format("; {} more refused", suppressed) : std::string());
      }
      ::close(fd);
      continue;
    }
    stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    stats.connections_open.fetch_add(1, std::memory_order_relaxed);
    // On the stack: a connection finished here costs no Reader allocation.
    Reader reader(*this, remote, origin_resolver ? origin_resolver(fd, remote) : std::string());

    bool open = true;
    for (int turn = 0; turn < kAcceptReads; ++turn) {
      const ssize_t n = ::read(fd, buffer, kReadBytes);
      if (n > 0) {
        reader.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      open = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      break;
    }
    appended |= reader.take_appended();
    if (!open) {
      reader.finish();
      appended |= reader.take_appended();
      ::close(fd);
      stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    // Still open (a long-lived client, or a line still on its way): the
    // connection gets its own coroutine, woken by epoll.
    boost::system::error_code ec;
    tcp::socket socket(asio::make_strand(io));
    socket.assign(remote.protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      reader.finish();
      appended |= reader.take_appended();
      stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    auto connection = std::make_shared<Connection>(std::move(socket));
    std::uint64_t serial = 0;
    {
      std::lock_guard lock(mutex);
      serial = ++next_serial;
      live.emplace(serial, connection);
    }
    auto executor = connection->socket.get_executor();
    asio::co_spawn(executor, serve(connection, std::make_unique<Reader>(std::move(reader))),
                   [self = shared_from_this(), serial](const std::exception_ptr& e) {
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
  // One wake-up of the link (and outputs) per batch of connections.
  if (appended && on_appended) {
    on_appended();
  }
  return true;
}

asio::awaitable<void> EventPort::Impl::accept_loop() {
  auto self = shared_from_this();
  boost::system::error_code ec;
  acceptor.non_blocking(true, ec);
  for (;;) {
    auto [wait_ec] = co_await acceptor.async_wait(tcp::acceptor::wait_read, asio::as_tuple(asio::use_awaitable));
    if (wait_ec || stopping) {
      co_return;
    }
    if (!accept_ready()) {
      // EMFILE and friends: back off instead of spinning.
      asio::steady_timer t(io, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
}

EventPort::EventPort(asio::io_context& io, const NodeConfig& config, spool::Spool& spool,
                     std::function<void()> on_appended)
    : impl_(std::make_shared<Impl>(io, config, spool, std::move(on_appended))) {}

EventPort::~EventPort() {
  stop();
}

void EventPort::resolve_origin(OriginResolver resolver) {
  impl_->origin_resolver = std::move(resolver);
}

void EventPort::count_pot_events(std::function<void(std::string_view, std::uint64_t)> counter) {
  impl_->pot_counter = std::move(counter);
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
