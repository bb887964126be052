// WebSocket stream server. One strand per connection; on it, one coroutine
// reads the upgrade request, authenticates, accepts the WebSocket and then
// reads the client's messages, and a second coroutine writes the client's
// queue (one write in flight). Publishers only touch the ClientQueue and
// post a wake-up to the strand when the writer sleeps, so a slow client
// costs nobody else anything: its queue drops and it is told how many.
#include "core/ws/ws_server.hpp"

#include "common/log.hpp"
#include "core/auth.hpp"
#include "core/metrics.hpp"
#include "core/stream_hub.hpp"
#include "core/ws/client_queue.hpp"
#include "core/ws/stream_filter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace honeycomb::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using ws::ClientQueue;
using ws::ItemPtr;
using ws::StreamFilter;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kServerName = "honeycomb";
/// Version of the stream's message format (sent in "hello").
constexpr std::string_view kStreamVersion = "1";
/// Accept failures other than cancellation (EMFILE...) are retried after this.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
/// Retry-After of a 503 when every client slot is taken.
constexpr std::string_view kRetryAfterSeconds = "5";

ItemPtr make_reply(std::string text) {
  auto item = std::make_shared<StreamItem>();
  item->json = std::move(text);
  return item;
}

std::string hello_json(const StreamFilter& filter) {
  json::object o;
  o["type"] = "hello";
  o["version"] = kStreamVersion;
  o["filter"] = filter.to_json();
  return json::serialize(o);
}

std::string filter_json(const StreamFilter& filter) {
  json::object o;
  o["type"] = "filter";
  o["filter"] = filter.to_json();
  return json::serialize(o);
}

std::string error_json(std::string_view message) {
  json::object o;
  o["type"] = "error";
  o["message"] = message;
  return json::serialize(o);
}

std::string missed_json(std::uint64_t count) {
  return "{\"type\":\"missed\",\"count\":" + std::to_string(count) + "}";
}

/// Outcomes of a connection that are not worth more than a debug line.
bool expected_end(const beast::error_code& ec) {
  return ec == websocket::error::closed || ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == beast::error::timeout || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor || ec == ssl::error::stream_truncated ||
         ec == http::error::partial_message;
}

/// Request target without the query ("/api/v1/stream?x" -> "/api/v1/stream").
std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

asio::awaitable<bool> check_on_pool(Auth* auth, std::string authorization) {
  co_return auth->check_header(authorization);
}

/// A session as stop() sees it, whatever its stream type.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  /// Any thread: closes the connection (close frame "going away" once
  /// upgraded).
  virtual void shutdown() = 0;

  std::uint64_t subscription = 0;  ///< StreamHub id, 0: none; guarded by Impl::mutex
};

}  // namespace

struct WsServer::Impl : std::enable_shared_from_this<WsServer::Impl> {
  Impl(asio::io_context& io_context, WsContext context, std::shared_ptr<ssl::context> tls_context)
      : io(io_context),
        ctx(context),
        tls(std::move(tls_context)),
        log(log::get("core.ws")),
        acceptor_strand(asio::make_strand(io_context)) {}

  asio::io_context& io;
  WsContext ctx;
  std::shared_ptr<ssl::context> tls;
  WsLimits limits;
  std::shared_ptr<spdlog::logger> log;
  asio::strand<asio::io_context::executor_type> acceptor_strand;
  std::optional<tcp::acceptor> acceptor;  ///< used on acceptor_strand once started
  std::atomic<std::uint16_t> port{0};
  std::atomic<std::size_t> slots{0};      ///< clients upgrading or upgraded (capped at ws_max_clients)
  std::atomic<std::size_t> pending{0};    ///< connections not authenticated yet
  std::atomic<std::size_t> streaming{0};  ///< authenticated clients

  std::mutex mutex;
  bool started = false;
  bool stopping = false;
  std::uint64_t next_session = 0;
  std::map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;

  bool reserve_slot() {
    const std::size_t max = ctx.config.ws_max_clients;
    std::size_t n = slots.load();
    do {
      if (n >= max) {
        return false;
      }
    } while (!slots.compare_exchange_weak(n, n + 1));
    return true;
  }

  /// Registers a session for stop(); false when stopping.
  bool add_session(std::uint64_t& id, const std::shared_ptr<SessionBase>& session) {
    std::lock_guard lock(mutex);
    if (stopping) {
      return false;
    }
    id = ++next_session;
    sessions.emplace(id, session);
    return true;
  }
  void remove_session(std::uint64_t id) {
    std::lock_guard lock(mutex);
    sessions.erase(id);
  }
  /// Subscribes under the lock stop() takes, so no subscription survives stop().
  bool subscribe(SessionBase& session, StreamHub::Subscriber subscriber) {
    std::lock_guard lock(mutex);
    if (stopping) {
      return false;
    }
    session.subscription = ctx.hub.subscribe(std::move(subscriber));
    return true;
  }
  void unsubscribe(SessionBase& session) {
    std::lock_guard lock(mutex);
    if (session.subscription != 0) {
      ctx.hub.unsubscribe(session.subscription);
      session.subscription = 0;
    }
  }

  void on_accept(tcp::socket socket);
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
};

namespace {

/// Undoes a session's registrations and counts when its coroutine ends
/// (also when the io_context is destroyed with the coroutine suspended).
struct SessionCleanup {
  std::shared_ptr<WsServer::Impl> server;
  SessionBase* session = nullptr;
  std::uint64_t id = 0;
  bool pending = true;
  bool slot = false;
  bool streaming = false;

  SessionCleanup() = default;
  SessionCleanup(const SessionCleanup&) = delete;
  SessionCleanup& operator=(const SessionCleanup&) = delete;

  void authenticated() {
    if (pending) {
      pending = false;
      server->pending.fetch_sub(1);
    }
  }
  ~SessionCleanup() {
    server->unsubscribe(*session);
    server->remove_session(id);
    if (pending) {
      server->pending.fetch_sub(1);
    }
    if (slot) {
      server->slots.fetch_sub(1);
    }
    if (streaming) {
      server->streaming.fetch_sub(1);
      server->ctx.metrics.ws_clients.fetch_sub(1, std::memory_order_relaxed);
    }
  }
};

/// One client connection; NextLayer is beast::tcp_stream or
/// beast::ssl_stream<beast::tcp_stream>. Everything but offer() runs on the
/// connection's strand.
template <class NextLayer>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<NextLayer>> {
 public:
  static constexpr bool kTls = !std::is_same_v<NextLayer, beast::tcp_stream>;

  template <class... Args>
  Session(std::shared_ptr<WsServer::Impl> server, std::string peer, Args&&... args)
      : server_(std::move(server)),
        limits_(server_->limits),
        peer_(std::move(peer)),
        ws_(std::forward<Args>(args)...),
        queue_(server_->ctx.config.ws_client_queue, server_->ctx.metrics),
        wake_(ws_.get_executor()),
        reply_room_(ws_.get_executor()),
        auth_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()),
        watchdog_(ws_.get_executor()) {}

  asio::any_io_executor executor() { return ws_.get_executor(); }

  void shutdown() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->on_shutdown(); });
  }

  static asio::awaitable<void> run(std::shared_ptr<Session> self, std::uint64_t id) {
    SessionCleanup cleanup;
    cleanup.server = self->server_;
    cleanup.session = self.get();
    cleanup.id = id;
    try {
      co_await self->serve(&cleanup);
    } catch (const std::exception& e) {
      self->server_->log->error("WebSocket client {}: {}", self->peer_, e.what());
    }
    self->finish();
  }

 private:
  asio::awaitable<void> serve(SessionCleanup* cleanup) {
    auto& server = *server_;
    auto& layer = beast::get_lowest_layer(ws_);
    layer.expires_after(limits_.handshake_timeout);
    if constexpr (kTls) {
      auto [ec] = co_await ws_.next_layer().async_handshake(ssl::stream_base::server, kUseTuple);
      if (ec) {
        server.log->debug("WebSocket client {}: TLS handshake: {}", peer_, ec.message());
        co_return;
      }
    }

    auto& buffer = buffer_;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    parser.body_limit(0);
    {
      auto [ec, n] = co_await http::async_read(ws_.next_layer(), buffer, parser, kUseTuple);
      if (ec) {
        if (!expected_end(ec) && !stopped_) {
          co_await reject(http::status::bad_request, "malformed upgrade request: " + ec.message(), 11);
        }
        co_return;
      }
    }
    auto request = parser.release();
    const unsigned version = request.version();
    if (!websocket::is_upgrade(request)) {
      co_await reject(http::status::upgrade_required,
                      "this port serves the WebSocket event stream; connect with a WebSocket client to "
                      "/api/v1/stream",
                      version);
      co_return;
    }
    const auto path = target_path(request.target());
    if (path != "/" && path != "/api/v1/stream") {
      co_await reject(http::status::not_found, "no such stream; use /api/v1/stream", version);
      co_return;
    }

    bool authenticated = false;
    if (const auto header = request[http::field::authorization]; !header.empty()) {
      const auto ok = co_await check(std::string(header));
      if (!ok || !*ok) {
        co_await reject(ok.has_value() ? http::status::unauthorized : http::status::internal_server_error,
                        ok.has_value() ? "unauthorized" : "cannot check the token now", version);
        co_return;
      }
      authenticated = true;
    }
    if (!server.reserve_slot()) {
      co_await reject(http::status::service_unavailable, "too many WebSocket clients", version);
      co_return;
    }
    cleanup->slot = true;
    if (stopped_) {
      co_return;
    }

    layer.expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = limits_.handshake_timeout;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, kServerName); }));
    ws_.read_message_max(limits_.max_message_bytes);
    ws_.auto_fragment(false);
    accepting_ = true;
    {
      auto [ec] = co_await ws_.async_accept(request, kUseTuple);
      if (ec) {
        server.log->debug("WebSocket client {}: handshake: {}", peer_, ec.message());
        co_return;
      }
    }
    upgraded_ = true;
    if (stopped_) {
      close_client({websocket::close_code::going_away, "server stopping"});
      co_await drain();
      co_return;
    }

    StreamFilter initial;
    if (!authenticated) {
      auto first = co_await read_token_message();
      if (!first) {
        if (!close_started_) {
          close_client({websocket::close_code::policy_error, "unauthorized"});
        }
        co_await drain();
        co_return;
      }
      initial = std::move(*first);
    }

    cleanup->authenticated();
    cleanup->streaming = true;
    server.streaming.fetch_add(1);
    server.ctx.metrics.ws_clients.fetch_add(1, std::memory_order_relaxed);
    queue_.set_filter(initial);
    queue_.push_reply(make_reply(hello_json(initial)));
    auto self = this->shared_from_this();
    const bool subscribed = server.subscribe(*this, [self](const ItemPtr& item) {
      if (self->queue_.offer(item)) {
        self->wake_writer();
      }
    });
    if (!subscribed) {
      close_client({websocket::close_code::going_away, "server stopping"});
    }
    server.log->debug("WebSocket client {} connected", peer_);
    asio::co_spawn(ws_.get_executor(), write_loop(self), [log = server.log, peer = peer_](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log->error("WebSocket client {}: writer: {}", peer, ex.what());
        }
      }
    });
    arm_watchdog();

    for (;;) {
      buffer.clear();
      auto [ec, n] = co_await ws_.async_read(buffer, kUseTuple);
      if (ec) {
        if (!expected_end(ec)) {
          server.log->debug("WebSocket client {}: {}", peer_, ec.message());
        }
        break;
      }
      if (close_started_) {
        continue;  // reading on until the close handshake ends
      }
      on_message(ws_.got_text(), buffer);
      while (!close_started_ && !writer_failed_ && queue_.pending_replies() >= limits_.max_pending_replies) {
        // The client does not read its replies: stop reading its messages
        // until they are written, for at most the stall timeout.
        waiting_for_room_ = true;
        reply_room_.expires_after(limits_.write_stall_timeout);
        auto [wait_ec] = co_await reply_room_.async_wait(kUseTuple);
        waiting_for_room_ = false;
        if (!wait_ec) {
          server.log->warn("WebSocket client {} does not read its replies; disconnecting", peer_);
          close_client({websocket::close_code::policy_error, "replies not read"});
        }
      }
    }
    server.log->debug("WebSocket client {} disconnected", peer_);
  }

  /// Waits for {"token":"...", "filter":{...}?} within the auth timeout.
  /// The filter on success; nullopt when the client is to be refused.
  asio::awaitable<std::optional<StreamFilter>> read_token_message() {
    auto& buffer = buffer_;
    auth_timer_.expires_after(limits_.auth_timeout);
    auth_timer_.async_wait([weak = this->weak_from_this()](const beast::error_code& ec) {
      if (auto s = weak.lock(); s && !ec) {
        s->close_client({websocket::close_code::policy_error, "unauthorized"});
      }
    });
    buffer.clear();
    auto [ec, n] = co_await ws_.async_read(buffer, kUseTuple);
    auth_timer_.cancel();
    if (ec || close_started_ || !ws_.got_text()) {
      co_return std::nullopt;
    }
    boost::system::error_code parse_ec;
    const auto value = json::parse(buffer_view(buffer), parse_ec);
    const auto* object = value.if_object();
    if (parse_ec || object == nullptr) {
      co_return std::nullopt;
    }
    const auto* token = object->if_contains("token");
    if (token == nullptr || !token->is_string()) {
      co_return std::nullopt;
    }
    StreamFilter filter;
    for (const auto& [key, v] : *object) {
      if (key == "filter") {
        auto parsed = ws::parse_filter(v);
        if (!parsed) {
          co_return std::nullopt;
        }
        filter = std::move(*parsed);
      } else if (key != "token") {
        co_return std::nullopt;
      }
    }
    const auto ok = co_await check("Bearer " + std::string(token->get_string()));
    if (!ok || !*ok || close_started_) {
      co_return std::nullopt;
    }
    co_return filter;
  }

  /// Checks an Authorization value: from the cache, else on the database
  /// pool. nullopt when the check failed (storage error).
  /// An address with too many failed logins (on this port or the API's)
  /// is refused without a lookup.
  asio::awaitable<std::optional<bool>> check(std::string authorization) {
    auto& ctx = server_->ctx;
    auto& failed_logins = ctx.auth.failed_logins();
    const std::string address = peer_.substr(0, peer_.rfind(':'));
    if (failed_logins.blocked_for(address) != 0) {
      co_return false;
    }
    std::optional<bool> ok;
    if (const auto cached = ctx.auth.check_header_cached(authorization)) {
      ok = *cached;
    } else {
      try {
        ok = co_await asio::co_spawn(ctx.db_pool, check_on_pool(&ctx.auth, std::move(authorization)),
                                     asio::use_awaitable);
      } catch (const std::exception& e) {
        server_->log->error("WebSocket client {}: token check failed: {}", peer_, e.what());
      }
    }
    if (ok && !*ok && failed_logins.failed(address)) {
      server_->log->warn("WebSocket: too many failed logins from {} within a minute; refusing it for the rest of it",
                         address);
    }
    co_return ok;
  }

  /// Answers the upgrade request with an error and closes the connection.
  asio::awaitable<void> reject(http::status status, std::string message, unsigned version) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, kServerName);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (status == http::status::unauthorized) {
      res.set(http::field::www_authenticate, "Bearer");
    } else if (status == http::status::service_unavailable) {
      res.set(http::field::retry_after, kRetryAfterSeconds);
    } else if (status == http::status::upgrade_required) {
      res.set(http::field::upgrade, "websocket");
    }
    json::object body;
    body["error"] = message;
    res.body() = json::serialize(body);
    res.keep_alive(false);
    res.prepare_payload();
    auto& layer = beast::get_lowest_layer(ws_);
    layer.expires_after(limits_.handshake_timeout);
    co_await http::async_write(ws_.next_layer(), res, kUseTuple);
    beast::error_code ignored;
    layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
    layer.close();
  }

  /// Reads (discarding) until the connection ends, so a close frame sent
  /// gets its answer; bounded by close_timeout.
  asio::awaitable<void> drain() {
    for (;;) {
      buffer_.clear();
      auto [ec, n] = co_await ws_.async_read(buffer_, kUseTuple);
      if (ec) {
        co_return;
      }
    }
  }

  static std::string_view buffer_view(const beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
  }

  void on_message(bool text, const beast::flat_buffer& buffer) {
    if (!text) {
      invalid("binary messages are not understood; send JSON text");
      return;
    }
    boost::system::error_code ec;
    const auto value = json::parse(buffer_view(buffer), ec);
    const auto* object = value.if_object();
    if (ec || object == nullptr) {
      invalid("messages must be JSON objects, e.g. {\"filter\":{\"pot_type\":\"cowrie\"}}");
      return;
    }
    const json::value* filter_value = nullptr;
    for (const auto& [key, v] : *object) {
      if (key == "filter") {
        filter_value = &v;
      } else if (key != "token") {
        invalid("unknown key '" + std::string(ws::error_quote(key)) + "' (known: filter)");
        return;
      }
    }
    if (filter_value == nullptr) {
      invalid("already authenticated; send {\"filter\":{...}}");
      return;
    }
    auto parsed = ws::parse_filter(*filter_value);
    if (!parsed) {
      invalid(parsed.error());
      return;
    }
    invalid_in_a_row_ = 0;
    queue_.set_filter(*parsed);
    reply(filter_json(*parsed));
  }

  void invalid(std::string message) {
    reply(error_json(message));
    if (++invalid_in_a_row_ >= limits_.max_invalid_messages) {
      server_->log->warn("WebSocket client {}: {} invalid messages in a row; disconnecting", peer_, invalid_in_a_row_);
      close_client({websocket::close_code::policy_error, "too many invalid messages"});
    }
  }

  void reply(std::string text) {
    if (queue_.push_reply(make_reply(std::move(text)))) {
      wake_.cancel();  // on the strand already
    }
  }

  /// Publisher threads: the writer sleeps on wake_; cancel it on the strand.
  void wake_writer() {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->wake_.cancel(); });
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<Session> self) {
    self->ws_.text(true);
    std::array<ItemPtr, 2> out;
    while (!self->finished_) {
      auto next = self->queue_.next();
      if (!next) {
        self->wake_.expires_at(asio::steady_timer::time_point::max());
        co_await self->wake_.async_wait(kUseTuple);
        continue;
      }
      out[0] = next->missed > 0 ? make_reply(missed_json(next->missed)) : nullptr;
      out[1] = std::move(next->item);
      for (auto& message : out) {
        if (!message || self->finished_) {
          continue;
        }
        self->writing_ = true;
        self->write_started_ = std::chrono::steady_clock::now();
        auto [ec, n] = co_await self->ws_.async_write(asio::buffer(message->json), kUseTuple);
        self->writing_ = false;
        message.reset();
        if (ec) {
          // A dead connection: end the reader too (unless a close
          // handshake is under way, which ends it anyway).
          self->writer_failed_ = true;
          self->reply_room_.cancel();
          if (!self->close_started_) {
            beast::get_lowest_layer(self->ws_).close();
          }
          co_return;
        }
      }
      if (next->reply && self->waiting_for_room_) {
        self->reply_room_.cancel();
      }
    }
  }

  void arm_watchdog() {
    watchdog_.expires_after(limits_.write_stall_timeout / 4);
    watchdog_.async_wait([weak = this->weak_from_this()](const beast::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || s->finished_) {
        return;
      }
      if (s->writing_ && std::chrono::steady_clock::now() - s->write_started_ >= s->limits_.write_stall_timeout) {
        s->server_->log->warn("WebSocket client {} has not read for {} ms; disconnecting", s->peer_,
                              s->limits_.write_stall_timeout.count());
        beast::get_lowest_layer(s->ws_).close();
        return;
      }
      s->arm_watchdog();
    });
  }

  /// Starts the close handshake (once); the connection is cut if it has
  /// not finished within close_timeout.
  void close_client(const websocket::close_reason& reason) {
    if (close_started_ || finished_) {
      return;
    }
    close_started_ = true;
    reply_room_.cancel();
    ws_.async_close(reason, [self = this->shared_from_this()](const beast::error_code&) {});
    close_timer_.expires_after(limits_.close_timeout);
    close_timer_.async_wait([weak = this->weak_from_this()](const beast::error_code& ec) {
      if (auto s = weak.lock(); s && !ec) {
        beast::get_lowest_layer(s->ws_).close();
      }
    });
  }

  void on_shutdown() {
    stopped_ = true;
    if (upgraded_) {
      close_client({websocket::close_code::going_away, "server stopping"});
    } else if (!accepting_) {
      beast::get_lowest_layer(ws_).close();
    }
    // During the WebSocket handshake the stream is left alone: the session
    // sends the close frame as soon as the handshake is done.
  }

  /// The reading side is done: stop the writer and the timers, cut the
  /// connection (the close handshake, if any, is over).
  void finish() {
    finished_ = true;
    queue_.close();
    server_->unsubscribe(*this);
    wake_.cancel();
    reply_room_.cancel();
    auth_timer_.cancel();
    close_timer_.cancel();
    watchdog_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  std::shared_ptr<WsServer::Impl> server_;
  const WsLimits limits_;
  const std::string peer_;
  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;  ///< the reader's
  ClientQueue queue_;
  asio::steady_timer wake_;        ///< the writer sleeps on it while the queue is empty
  asio::steady_timer reply_room_;  ///< the reader sleeps on it while replies pile up
  asio::steady_timer auth_timer_;
  asio::steady_timer close_timer_;
  asio::steady_timer watchdog_;
  // Strand-only state.
  bool accepting_ = false;
  bool upgraded_ = false;
  bool stopped_ = false;
  bool close_started_ = false;
  bool finished_ = false;
  bool waiting_for_room_ = false;
  bool writing_ = false;
  bool writer_failed_ = false;
  std::chrono::steady_clock::time_point write_started_;
  unsigned invalid_in_a_row_ = 0;
};

template <class NextLayer, class... Args>
void start_session(std::shared_ptr<WsServer::Impl> server, std::string peer, Args&&... args) {
  auto session = std::make_shared<Session<NextLayer>>(server, std::move(peer), std::forward<Args>(args)...);
  std::uint64_t id = 0;
  if (!server->add_session(id, session)) {
    server->pending.fetch_sub(1);
    return;
  }
  auto executor = session->executor();
  asio::co_spawn(executor, Session<NextLayer>::run(std::move(session), id), [log = server->log](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log->error("WebSocket session ended: {}", ex.what());
      }
    }
  });
}

}  // namespace

void WsServer::Impl::on_accept(tcp::socket socket) {
  if (pending.load() >= limits.max_pending_connections) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  pending.fetch_add(1);
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
  if (tls) {
    start_session<beast::ssl_stream<beast::tcp_stream>>(shared_from_this(), std::move(peer), std::move(socket), *tls);
  } else {
    start_session<beast::tcp_stream>(shared_from_this(), std::move(peer), std::move(socket));
  }
}

asio::awaitable<void> WsServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  asio::steady_timer retry(self->acceptor_strand);
  for (;;) {
    auto [ec, socket] =
        co_await self->acceptor->async_accept(asio::any_io_executor(asio::make_strand(self->io)), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor->is_open()) {
        co_return;
      }
      self->log->warn("WebSocket accept: {}", ec.message());
      retry.expires_after(kAcceptRetryDelay);
      co_await retry.async_wait(kUseTuple);
      continue;
    }
    self->on_accept(std::move(socket));
  }
}

WsServer::WsServer(asio::io_context& io, WsContext context, std::shared_ptr<ssl::context> tls)
    : impl_(std::make_shared<Impl>(io, context, std::move(tls))) {}

WsServer::~WsServer() {
  stop();
}

void WsServer::set_limits(const WsLimits& limits) {
  impl_->limits = limits;
}

std::string WsServer::start() {
  auto& s = *impl_;
  const auto& listen = s.ctx.config.ws_listen;
  const std::string where = "cannot listen on " + listen.text() + " (WebSocket): ";
  {
    std::lock_guard lock(s.mutex);
    if (s.started || s.stopping) {
      return where + "already started";
    }
    s.started = true;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.address, ec);
  if (ec) {
    return where + "'" + listen.address + "' is not an IP address";
  }
  const tcp::endpoint endpoint(address, listen.port);
  tcp::acceptor acceptor(s.acceptor_strand);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return where + ec.message();
  }
  s.port = acceptor.local_endpoint().port();
  s.acceptor.emplace(std::move(acceptor));
  asio::co_spawn(s.acceptor_strand, Impl::accept_loop(impl_), [log = s.log](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log->error("WebSocket accept loop ended: {}", ex.what());
      }
    }
  });
  return {};
}

void WsServer::stop() {
  auto& s = *impl_;
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping) {
      return;
    }
    s.stopping = true;
    for (auto& [id, weak] : s.sessions) {
      if (auto session = weak.lock()) {
        if (session->subscription != 0) {
          s.ctx.hub.unsubscribe(session->subscription);
          session->subscription = 0;
        }
        sessions.push_back(std::move(session));
      }
    }
  }
  asio::post(s.acceptor_strand, [impl = impl_] {
    if (impl->acceptor && impl->acceptor->is_open()) {
      beast::error_code ignored;
      impl->acceptor->close(ignored);
    }
  });
  for (auto& session : sessions) {
    session->shutdown();
  }
}

std::uint16_t WsServer::port() const {
  return impl_->port.load();
}

std::size_t WsServer::clients() const {
  return impl_->streaming.load();
}

std::size_t WsServer::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}

}  // namespace honeycomb::core
