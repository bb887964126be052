// simple_http: serves the stock nginx welcome page and raises one alert per
// request. Boost.Beast over Asio coroutines: one coroutine per connection,
// bounded header/body sizes, idle timeout, a cap on concurrent connections.
#include <honeycomb/service.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace honeycomb::services {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t header_limit = 8 * 1024;
constexpr std::uint64_t body_limit = 64 * 1024;

constexpr std::string_view welcome_page =
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\n"
    "html { color-scheme: light dark; }\nbody { width: 35em; margin: 0 auto;\n"
    "font-family: Tahoma, Verdana, Arial, sans-serif; }\n</style>\n</head>\n<body>\n"
    "<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\n"
    "working. Further configuration is required.</p>\n\n<p>For online documentation and support please refer to\n"
    "<a href=\"http://nginx.org/\">nginx.org</a>.<br/>\nCommercial support is available at\n"
    "<a href=\"http://nginx.com/\">nginx.com</a>.</p>\n\n<p><em>Thank you for using nginx.</em></p>\n"
    "</body>\n</html>\n";

// The HTTP Date header, formatted at most once a second per thread.
std::string http_date() {
  thread_local std::time_t cached = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text = buf;
    cached = now;
  }
  return text;
}

class SimpleHttpService final : public Service {
 public:
  void on_server_start() override {
    const auto port = service_args().get<int>("port", 8888);
    const auto address = service_args().get("address", "0.0.0.0");
    server_header_ = service_args().get("version", "nginx");
    max_connections_ = service_args().get<std::int64_t>("max_connections", 10000);
    idle_timeout_ = std::chrono::seconds(service_args().get<std::int64_t>("idle_timeout", 60));
    const bool threading = service_args().get("threading", false);
    const unsigned threads = threading ? std::max(1U, std::thread::hardware_concurrency()) : 1U;

    tcp::acceptor acceptor(io_);
    const tcp::endpoint endpoint(asio::ip::make_address(address), static_cast<unsigned short>(port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    const auto bound_port = acceptor.local_endpoint().port();

    asio::co_spawn(io_, accept_loop(std::move(acceptor)), [this](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          logger().error(std::string("accept loop ended: ") + ex.what());
        }
      }
    });
    signal_ready();
    logger().info(std::string("Starting ") + (threading ? "Threading " : "") +
                  "Simple HTTP service on port: " + std::to_string(bound_port));

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) {
      pool.emplace_back([this] { io_.run(); });
    }
    io_.run();
    for (auto& t : pool) {
      t.join();
    }
    logger().info("Simple HTTP service stopped");
  }

  void on_server_shutdown() override { io_.stop(); }

  std::optional<std::vector<std::string>> test() override {
    const auto port = service_args().get<int>("port", 8888);
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)));
    http::request<http::empty_body> req{http::verb::get, "/", 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::user_agent, "honeycomb-test");
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return std::vector<std::string>{"simple_http"};
  }

 private:
  asio::awaitable<void> accept_loop(tcp::acceptor acceptor) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) {
          co_return;
        }
        continue;  // e.g. EMFILE: keep accepting once descriptors free up
      }
      if (connections_.load(std::memory_order_relaxed) >= max_connections_) {
        ++refused_;
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++connections_;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))), [this](const std::exception_ptr&) {
        // Errors of one attacker's connection are expected; they end it.
        --connections_;
      });
    }
  }

  asio::awaitable<void> session(beast::tcp_stream stream) {
    beast::error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    if (ec) {
      co_return;
    }
    const std::string ip = remote.address().to_string();
    const auto port = static_cast<std::int64_t>(remote.port());
    beast::flat_buffer buffer(header_limit);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit);
      parser.body_limit(body_limit);
      stream.expires_after(idle_timeout_);
      auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (read_ec) {
        if (read_ec == http::error::header_limit || read_ec == http::error::body_limit ||
            read_ec == http::error::bad_method || read_ec == http::error::bad_target ||
            read_ec == http::error::bad_version || read_ec == http::error::bad_field) {
          http::response<http::empty_body> res{
              read_ec == http::error::body_limit ? http::status::payload_too_large : http::status::bad_request, 11};
          res.set(http::field::server, server_header_);
          res.keep_alive(false);
          co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        }
        break;  // eof, timeout, reset: the connection is over
      }
      const auto& req = parser.get();
      std::string request_line;
      request_line.reserve(req.method_string().size() + req.target().size() + 10);
      request_line.append(req.method_string());
      request_line.push_back(' ');
      request_line.append(req.target());
      request_line.append(req.version() == 10 ? " HTTP/1.0" : " HTTP/1.1");
      add_alert_to_queue(Alert("simple_http")
                             .set("originating_ip", ip)
                             .set("originating_port", Value{port})
                             .set("request", std::move(request_line)));

      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::server, server_header_);
      res.set(http::field::date, http_date());
      res.set(http::field::content_type, "text/html");
      res.keep_alive(req.keep_alive());
      if (req.method() != http::verb::head) {
        res.body() = welcome_page;
      }
      res.content_length(welcome_page.size());
      auto [write_ec, written] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (write_ec || !req.keep_alive()) {
        break;
      }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::io_context io_;
  std::string server_header_;
  std::int64_t max_connections_ = 10000;
  std::chrono::seconds idle_timeout_{60};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::SimpleHttpService, "simple_http")
