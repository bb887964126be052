// simple_http: serves the stock nginx welcome page and raises one alert per
// request. Boost.Beast over Asio coroutines: one coroutine per connection,
// bounded header/body sizes, idle timeout, a cap on concurrent connections.
#include <honeycomb/service.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace honeycomb::services {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t header_limit = std::size_t{8} * 1024;
constexpr std::uint64_t body_limit = std::uint64_t{64} * 1024;

constexpr std::string_view welcome_page =
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\n"
    "html { color-scheme: light dark; }\nbody { width: 35em; margin: 0 auto;\n"
    "font-family: Tahoma, Verdana, Arial, sans-serif; }\n</style>\n</head>\n<body>\n"
    "<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\n"
    "working. Further configuration is required.</p>\n\n<p>For online documentation and support please refer to\n"
    "<a href=\"http://nginx.org/\">nginx.org</a>.<br/>\nCommercial support is available at\n"
    "<a href=\"http://nginx.com/\">nginx.com</a>.</p>\n\n<p><em>Thank you for using nginx.</em></p>\n"
    "</body>\n</html>\n";

// The status line and headers of the 200 response, byte for byte what
// Beast's serializer wrote for the response this service used to build
// (Server, Date, Content-Type, [Connection], Content-Length), rendered once a
// second per thread and variant instead of once per request: serializing a
// Beast message cost several allocations and a good part of a request's CPU.
// Beast's parser only accepts HTTP/1.0 and HTTP/1.1, the two versions here.
class ResponseHeads {
 public:
  // The head for this request; valid until the next call on this thread.
  const std::string& get(std::string_view server, bool http10, bool keep_alive) {
    const std::time_t now = std::time(nullptr);
    if (now != second_) {
      second_ = now;
      std::tm tm{};
      ::gmtime_r(&now, &tm);
      char buf[64];
      const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      date_.assign(buf, n);
      for (auto& h : heads_) {
        h.clear();
      }
    }
    std::string& head = heads_[(http10 ? 2U : 0U) + (keep_alive ? 1U : 0U)];
    if (head.empty()) {
      head.reserve(160 + server.size());
      head += http10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
      head += "Server: ";
      head += server;
      head += "\r\nDate: ";
      head += date_;
      head += "\r\nContent-Type: text/html\r\n";
      // Beast's keep_alive(): HTTP/1.1 is persistent unless "close",
      // HTTP/1.0 is not unless "keep-alive"; only the exception is sent.
      if (http10 && keep_alive) {
        head += "Connection: keep-alive\r\n";
      } else if (!http10 && !keep_alive) {
        head += "Connection: close\r\n";
      }
      head += "Content-Length: ";
      head += std::to_string(welcome_page.size());
      head += "\r\n\r\n";
    }
    return head;
  }

 private:
  std::time_t second_ = -1;
  std::string date_;
  std::array<std::string, 4> heads_;
};

class SimpleHttpService final : public Service {
 public:
  void on_server_start() override {
    const auto port = service_args().get<std::int64_t>("port", 8888);
    const auto address = service_args().get("address", "0.0.0.0");
    server_header_ = service_args().get("version", "nginx");
    max_connections_ = service_args().get<std::int64_t>("max_connections", 10000);
    idle_timeout_ = std::chrono::seconds(service_args().get<std::int64_t>("idle_timeout", 60));
    const bool threading = service_args().get("threading", false);
    const unsigned threads = threading ? std::max(1U, std::thread::hardware_concurrency()) : 1U;

    // One io_context per thread, each run by its thread alone, rather than
    // one io_context shared by all: a shared one serializes every socket
    // event on its scheduler lock and wakes idle threads with a futex per
    // event. Connections are dealt round-robin; a connection stays on its
    // thread, so its coroutine never needs a strand.
    {
      std::lock_guard lock(contexts_mutex_);
      for (unsigned i = 1; i < threads; ++i) {
        extra_contexts_.push_back(std::make_unique<asio::io_context>(1));
        if (stopped_) {
          extra_contexts_.back()->stop();
        }
      }
    }

    // config.json cannot declare a range for a service parameter, so check
    // here rather than let the value wrap to 16 bits.
    if (port < 0 || port > 65535) {
      throw std::invalid_argument("port must be from 0 to 65535 (got " + std::to_string(port) + ")");
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) {
      throw std::invalid_argument("address '" + address + "' is not an IP address");
    }
    const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
    tcp::acceptor acceptor(io_);
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
      throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
    }
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
    for (auto& context : extra_contexts_) {
      pool.emplace_back([&context] {
        // Keep the thread's loop alive while it has no connection yet.
        auto guard = asio::make_work_guard(*context);
        context->run();
      });
    }
    io_.run();
    for (auto& t : pool) {
      t.join();
    }
    logger().info("Simple HTTP service stopped");
  }

  void on_server_shutdown() override {
    std::lock_guard lock(contexts_mutex_);
    stopped_ = true;
    io_.stop();
    for (auto& context : extra_contexts_) {
      context->stop();
    }
  }

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
  // The io_context of the next connection, round-robin over all threads.
  asio::io_context& next_context() {
    const std::size_t n = extra_contexts_.size() + 1;
    const std::size_t i = next_++ % n;
    return i == 0 ? io_ : *extra_contexts_[i - 1];
  }

  asio::awaitable<void> accept_loop(tcp::acceptor acceptor) {
    for (;;) {
      asio::io_context& target = next_context();
      auto [ec, socket] = co_await acceptor.async_accept(target, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) {
          co_return;
        }
        // EMFILE and the like: the connection stays queued and the listener
        // readable, so retrying at once would spin; pause instead.
        asio::steady_timer pause(io_, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      if (connections_.load(std::memory_order_relaxed) >= max_connections_) {
        ++refused_;
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++connections_;
      asio::co_spawn(target, session(beast::tcp_stream(std::move(socket))), [this](const std::exception_ptr&) {
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
    // This connection's copy of the response head: the per-thread cache may
    // be rebuilt (next second) by another connection while a write of ours
    // is still in flight.
    std::string head;
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
      const bool keep_alive = req.keep_alive();
      const bool head_only = req.method() == http::verb::head;
      const bool http10 = req.version() == 10;
      std::string request_line;
      request_line.reserve(req.method_string().size() + req.target().size() + 10);
      request_line.append(req.method_string());
      request_line.push_back(' ');
      request_line.append(req.target());
      request_line.append(http10 ? " HTTP/1.0" : " HTTP/1.1");
      Alert alert("simple_http");
      alert.fields.reserve(3);
      alert.set("originating_ip", ip).set("originating_port", Value{port}).set("request", std::move(request_line));
      add_alert_to_queue(std::move(alert));

      head = heads_.get(server_header_, http10, keep_alive);
      std::array<asio::const_buffer, 2> response{asio::buffer(head), asio::buffer(welcome_page)};
      auto [write_ec, written] = co_await asio::async_write(stream, std::span(response.data(), head_only ? 1U : 2U),
                                                            asio::as_tuple(asio::use_awaitable));
      if (write_ec || !keep_alive) {
        break;
      }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // Per thread: each io_context runs on exactly one thread.
  static thread_local ResponseHeads heads_;

  asio::io_context io_{1};
  std::mutex contexts_mutex_;
  std::vector<std::unique_ptr<asio::io_context>> extra_contexts_;
  bool stopped_ = false;
  std::size_t next_ = 0;  // only the accept loop (on io_'s thread) uses it
  std::string server_header_;
  std::int64_t max_connections_ = 10000;
  std::chrono::seconds idle_timeout_{60};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
};

thread_local ResponseHeads SimpleHttpService::heads_;

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::SimpleHttpService, "simple_http")
