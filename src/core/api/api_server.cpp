// Accept loop and connections of the REST API. One coroutine per
// connection on its own strand (the core runs the io_context on several
// threads), HTTP/1.1 keep-alive, bounded headers and body, idle timeout, a
// cap on connections; plain TCP or TLS (the session is a template on the
// stream type). Requests are handled in routes.cpp.
#include "core/api/api_server.hpp"

#include "common/log.hpp"
#include "core/api/routes.hpp"
#include "core/api/state.hpp"
#include "core/metrics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <exception>

namespace honeycomb::core {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using api::Reply;
using api::State;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kServer = "honeycomb";
/// After an error response, unread request bytes are drained for at most
/// this long / this much before closing, so the client reads the error
/// rather than a connection reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;

bool expected_end(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::connection_reset || ec == http::error::partial_message ||
         ec == asio::error::bad_descriptor || ec == ssl::error::stream_truncated;
}

void set_common_headers(http::fields& f, std::string_view content_type) {
  f.set(http::field::server, kServer);
  f.set(http::field::content_type, content_type);
  f.set(http::field::cache_control, "no-store");
  f.set("X-Content-Type-Options", "nosniff");
}

/// The reply's own headers, over the common ones.
void set_reply_headers(http::fields& f, const Reply& reply) {
  for (const auto& [field, value] : reply.headers) {
    f.set(field, value);
  }
  for (const auto& [name, value] : reply.named_headers) {
    f.set(name, value);
  }
}

/// Closes a connection: drains what the client is still sending (bounded),
/// then closes the socket.
template <class Stream>
asio::awaitable<void> linger_close(std::shared_ptr<Stream> stream) {
  auto& layer = beast::get_lowest_layer(*stream);
  beast::error_code ec;
  layer.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 8192> scratch{};
  std::size_t drained = 0;
  layer.expires_after(kLingerTime);
  while (!ec && drained < kLingerBytes) {
    auto [read_ec, n] = co_await layer.async_read_some(asio::buffer(scratch), kUseTuple);
    ec = read_ec;
    drained += n;
  }
  layer.close();
}

template <class Stream, class Body>
asio::awaitable<bool> write_message(std::shared_ptr<Stream> stream, http::response<Body> res,
                                    std::chrono::seconds timeout) {
  beast::get_lowest_layer(*stream).expires_after(timeout);
  auto [ec, n] = co_await http::async_write(*stream, res, kUseTuple);
  co_return !ec;
}

/// Streams an export: header, then one chunk per block from the database
/// pool, then the last chunk. Returns whether the connection may be reused.
template <class Stream>
asio::awaitable<bool> write_export(std::shared_ptr<State> state, std::shared_ptr<Stream> stream, Reply reply,
                                   unsigned version, bool keep_alive) {
  auto& layer = beast::get_lowest_layer(*stream);
  const auto timeout = state->limits.idle_timeout;
  const bool chunked = version >= 11;  // HTTP/1.0: plain body ended by closing
  http::response<http::empty_body> res{http::status::ok, version};
  set_common_headers(res, reply.content_type);
  set_reply_headers(res, reply);
  res.keep_alive(chunked && keep_alive);
  if (chunked) {
    res.chunked(true);
  }
  http::response_serializer<http::empty_body> serializer{res};
  layer.expires_after(timeout);
  if (auto [ec, n] = co_await http::async_write_header(*stream, serializer, kUseTuple); ec) {
    co_return false;
  }
  for (;;) {
    std::string block;
    try {
      block = co_await reply.exporter->next();
    } catch (const std::exception& e) {
      if (state->log) {
        state->log->error("API export cut short after {} rows: {}", reply.exporter->rows(), e.what());
      }
      co_return false;  // no last chunk: the client sees an incomplete body
    }
    if (block.empty()) {
      break;
    }
    layer.expires_after(timeout);
    beast::error_code ec;
    if (chunked) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*stream, http::make_chunk(asio::buffer(block)), kUseTuple);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(*stream, asio::buffer(block), kUseTuple);
    }
    if (ec) {
      co_return false;
    }
  }
  if (!chunked) {
    co_return false;
  }
  layer.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(*stream, http::make_chunk_last(), kUseTuple);
  co_return !ec && keep_alive;
}

/// Whether a read error is the client's malformed request (answered 400).
bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message && ec != http::error::body_limit &&
         ec != http::error::header_limit;
}

/// Registers the connection for stop() and counts it; undone on destruction.
class SessionGuard {
 public:
  SessionGuard(std::shared_ptr<State> state, std::function<void()> closer) : state_(std::move(state)) {
    std::lock_guard lock(state_->sessions_mutex);
    id_ = ++state_->next_session;
    if (state_->stopping) {
      closer();
    }
    state_->sessions.emplace(id_, std::move(closer));
  }
  ~SessionGuard() {
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->sessions.erase(id_);
    }
    --state_->connections_open;
  }
  SessionGuard(const SessionGuard&) = delete;
  SessionGuard& operator=(const SessionGuard&) = delete;

 private:
  std::shared_ptr<State> state_;
  std::uint64_t id_ = 0;
};

template <class Stream>
std::function<void()> make_closer(const std::shared_ptr<Stream>& stream) {
  return [weak = std::weak_ptr<Stream>(stream), executor = stream->get_executor()] {
    asio::post(executor, [weak] {
      if (auto s = weak.lock()) {
        beast::get_lowest_layer(*s).close();
      }
    });
  };
}

template <class Stream>
asio::awaitable<void> serve(std::shared_ptr<State> state, std::shared_ptr<Stream> stream, std::string client) {
  const auto& config = state->context.config;
  const auto timeout = state->limits.idle_timeout;
  auto& layer = beast::get_lowest_layer(*stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state->limits.header_bytes));
    parser.body_limit(config.api_max_body_bytes);
    layer.expires_after(timeout);
    auto [ec, n] = co_await http::async_read(*stream, buffer, parser, kUseTuple);
    if (ec) {
      std::optional<Reply> error;
      if (ec == http::error::body_limit) {
        error =
            api::error_reply(http::status::payload_too_large,
                             "the request body is larger than " + std::to_string(config.api_max_body_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        error = api::error_reply(http::status::request_header_fields_too_large, "the request header is too large");
      } else if (is_parse_error(ec)) {
        error = api::error_reply(http::status::bad_request, "malformed HTTP request");
      }
      if (error) {
        ++state->context.metrics.api_requests_total;
        ++state->context.metrics.api_rejected_total;
        http::response<http::string_body> res{error->status, 11};
        set_common_headers(res, error->content_type);
        res.keep_alive(false);
        res.body() = std::move(error->body);
        res.prepare_payload();
        if (co_await write_message(stream, std::move(res), timeout)) {
          co_await linger_close(stream);
        }
      } else if (!expected_end(ec) && state->log) {
        state->log->debug("API connection from {}: {}", client, ec.message());
      }
      co_return;
    }
    api::Request request = parser.release();
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive();
    Reply reply = co_await api::handle(state, std::move(request), client);
    if (reply.exporter) {
      if (!co_await write_export(state, stream, std::move(reply), version, keep_alive)) {
        break;
      }
      continue;
    }
    if (reply.shared_body || reply.head) {
      // A dashboard file, written from memory as it is, or any reply to a
      // HEAD request: its length without its body.
      const std::string_view body = reply.shared_body ? std::string_view(*reply.shared_body) : reply.body;
      http::response<http::span_body<const char>> res{reply.status, version};
      set_common_headers(res, reply.content_type);
      set_reply_headers(res, reply);
      res.keep_alive(keep_alive);
      res.content_length(body.size());
      if (!reply.head) {
        res.body() = {body.data(), body.size()};
      }
      if (!co_await write_message(stream, std::move(res), timeout) || !keep_alive) {
        break;
      }
      continue;
    }
    http::response<http::string_body> res{reply.status, version};
    set_common_headers(res, reply.content_type);
    set_reply_headers(res, reply);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    if (!co_await write_message(stream, std::move(res), timeout) || !keep_alive) {
      break;
    }
  }
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    beast::error_code ignored;
    layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
  } else {
    layer.expires_after(state->limits.tls_handshake_timeout);
    co_await stream->async_shutdown(kUseTuple);
  }
}

asio::awaitable<void> session_plain(std::shared_ptr<State> state, tcp::socket socket, std::string client) {
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  SessionGuard guard(state, make_closer(stream));
  co_await serve(state, stream, std::move(client));
}

asio::awaitable<void> session_tls(std::shared_ptr<State> state, std::shared_ptr<ssl::context> tls, tcp::socket socket,
                                  std::string client) {
  auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), *tls);
  SessionGuard guard(state, make_closer(stream));
  beast::get_lowest_layer(*stream).expires_after(state->limits.tls_handshake_timeout);
  auto [ec] = co_await stream->async_handshake(ssl::stream_base::server, kUseTuple);
  if (ec) {
    co_return;
  }
  co_await serve(state, stream, std::move(client));
}

/// Over the connection limit: a 503 and close (plain HTTP only; a TLS client
/// is closed at once).
asio::awaitable<void> refuse(std::shared_ptr<State> state, tcp::socket socket) {
  struct Done {
    State& state;
    ~Done() { --state.refusing; }
  } done{*state};
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  http::response<http::string_body> res{http::status::service_unavailable, 11};
  set_common_headers(res, "application/json");
  res.set(http::field::retry_after, "1");
  res.keep_alive(false);
  res.body() = api::error_reply(http::status::service_unavailable, "too many connections").body;
  res.prepare_payload();
  if (co_await write_message(stream, std::move(res), std::chrono::seconds(5))) {
    co_await linger_close(stream);
  }
}

void log_failure(const std::shared_ptr<State>& state, std::string_view what, const std::exception_ptr& e) {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    if (state->log) {
      state->log->error("API {}: {}", what, ex.what());
    }
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> state, std::shared_ptr<tcp::acceptor> acceptor,
                                  std::shared_ptr<ssl::context> tls, asio::io_context::executor_type io) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(io), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
        co_return;
      }
      // EMFILE and the like: back off a little rather than spin.
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await timer.async_wait(kUseTuple);
      continue;
    }
    beast::error_code endpoint_ec;
    const auto remote = socket.remote_endpoint(endpoint_ec);
    if (endpoint_ec) {
      continue;  // already gone
    }
    if (state->connections_open.load() >= state->context.config.api_max_connections) {
      ++state->connections_refused;
      ++state->context.metrics.api_rejected_total;
      if (!tls && state->refusing.load() < state->limits.refusing_connections) {
        ++state->refusing;
        auto executor = socket.get_executor();
        asio::co_spawn(executor, refuse(state, std::move(socket)),
                       [state](const std::exception_ptr& e) { log_failure(state, "refusing a connection", e); });
      }
      continue;  // a socket not handed on closes here
    }
    ++state->connections_open;
    auto executor = socket.get_executor();
    auto done = [state](const std::exception_ptr& e) { log_failure(state, "connection", e); };
    std::string client = remote.address().to_string();
    if (tls) {
      asio::co_spawn(executor, session_tls(state, tls, std::move(socket), std::move(client)), std::move(done));
    } else {
      asio::co_spawn(executor, session_plain(state, std::move(socket), std::move(client)), std::move(done));
    }
  }
}

}  // namespace

struct ApiServer::Impl {
  asio::io_context& io;
  std::shared_ptr<State> state;
  std::shared_ptr<ssl::context> tls;
  std::shared_ptr<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
};

ApiServer::ApiServer(asio::io_context& io, ApiContext context, std::shared_ptr<ssl::context> tls)
    : impl_(std::make_unique<Impl>(Impl{io, std::make_shared<State>(context), std::move(tls), nullptr, 0})) {
  impl_->state->log = log::get("core.api");
}

ApiServer::~ApiServer() {
  stop();
}

std::string ApiServer::start() {
  const auto& listen = impl_->state->context.config.api_listen;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.address, ec);
  if (ec) {
    return "cannot listen on " + listen.text() + ": '" + listen.address + "' is not an IP address";
  }
  const tcp::endpoint endpoint(address, listen.port);
  auto acceptor = std::make_shared<tcp::acceptor>(asio::make_strand(impl_->io));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return "cannot listen on " + listen.text() + ": " + ec.message();
  }
  impl_->port = acceptor->local_endpoint().port();
  impl_->acceptor = acceptor;
  {
    std::lock_guard lock(impl_->state->sessions_mutex);
    impl_->state->stopping = false;
  }
  auto state = impl_->state;
  asio::co_spawn(acceptor->get_executor(), accept_loop(state, acceptor, impl_->tls, impl_->io.get_executor()),
                 [state](const std::exception_ptr& e) { log_failure(state, "accept loop ended", e); });
  return {};
}

void ApiServer::stop() {
  if (impl_->acceptor) {
    auto acceptor = std::move(impl_->acceptor);
    asio::post(acceptor->get_executor(), [acceptor] {
      beast::error_code ignored;
      acceptor->close(ignored);
    });
  }
  std::vector<std::function<void()>> closers;
  {
    std::lock_guard lock(impl_->state->sessions_mutex);
    impl_->state->stopping = true;
    for (auto& [id, closer] : impl_->state->sessions) {
      closers.push_back(closer);
    }
  }
  for (auto& closer : closers) {
    closer();
  }
}

std::uint16_t ApiServer::port() const {
  return impl_->port;
}

void ApiServer::set_ws_port(std::uint16_t port) {
  impl_->state->ws_port = port;
}

}  // namespace honeycomb::core
