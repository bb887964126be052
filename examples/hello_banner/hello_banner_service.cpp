// Example out-of-tree service: sends a banner to every TCP client and raises
// one alert with the first line the client sends back.
//
// The service's io_context runs on the thread the host gives
// on_server_start(); on_server_shutdown() stops it from the host's thread.
#include <honeycomb/service.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <string>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::size_t max_line = 4096;           // attacker input is bounded
constexpr std::chrono::seconds idle_timeout{30};  // and so is their time

class HelloBanner final : public honeycomb::Service {
 public:
  void on_server_start() override {
    const auto port = service_args().get<int>("port", 2222);
    banner_ = service_args().get("banner", "SSH-2.0-OpenSSH_8.4p1 Debian-5") + "\r\n";
    tcp::acceptor acceptor(io_, tcp::endpoint(tcp::v4(), static_cast<unsigned short>(port)));
    const auto bound = acceptor.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(std::move(acceptor)), asio::detached);
    signal_ready();
    logger().info("hello_banner listening on port " + std::to_string(bound));
    io_.run();
    logger().info("hello_banner stopped");
  }

  void on_server_shutdown() override { io_.stop(); }

 private:
  asio::awaitable<void> accept_loop(tcp::acceptor acceptor) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) {
      co_return;
    }
    asio::steady_timer deadline(io_, idle_timeout);
    deadline.async_wait([&socket](boost::system::error_code) {
      boost::system::error_code ignored;
      socket.close(ignored);
    });
    co_await asio::async_write(socket, asio::buffer(banner_), asio::as_tuple(asio::use_awaitable));
    std::string line;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(line, max_line), '\n',
                                    asio::as_tuple(asio::use_awaitable));
    deadline.cancel();
    if (const auto eol = line.find_first_of("\r\n"); eol != std::string::npos) {
      line.resize(eol);
    }
    add_alert_to_queue(honeycomb::Alert("banner_connection")
                           .set("originating_ip", remote.address().to_string())
                           .set("originating_port", static_cast<std::int64_t>(remote.port()))
                           .set("request", line));
  }

  asio::io_context io_;
  std::string banner_;
};

}  // namespace

HONEYCOMB_SERVICE(HelloBanner, "hello_banner")
