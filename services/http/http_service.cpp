// http: web pages with a login form (a WordPress site, an admin panel)
// behind a configurable Server header. Every request is recorded, every
// login attempt with its credentials and outcome (LoginPolicy decides).
// Boost.Beast over Asio coroutines on one I/O thread: one coroutine per
// connection, bounded headers and bodies, requests per connection, idle and
// total time, connections in all and per source address.
#include "honeypot/bytes.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/install.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/tcp_server.hpp"
#include "honeypot/web_site.hpp"

#include <honeycomb/service.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace honeycomb::services {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using honeypot::ConnectionGate;
using honeypot::Peer;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderLimit = std::size_t{8} * 1024;
/// The part of a request body kept in an http.request event.
constexpr std::size_t kBodyRecorded = 1024;

struct Settings {
  std::string address;
  std::uint16_t port = 0;
  std::uint64_t max_body = std::uint64_t{64} * 1024;
  std::int64_t max_requests = 100;
  honeypot::SessionLimits limits;
};

/// The Server header: the parameter, else a common one drawn per install.
std::string server_header(const std::string& configured, std::uint64_t seed) {
  if (!configured.empty()) {
    if (configured.size() > 200 || configured.find_first_of("\r\n") != std::string::npos) {
      throw std::invalid_argument("server must be one line of at most 200 characters");
    }
    return configured;
  }
  static constexpr std::array<std::string_view, 4> kServers{"nginx/1.22.1", "Apache/2.4.62 (Debian)", "nginx",
                                                            "Apache/2.4.57 (Debian)"};
  return std::string(kServers[honeypot::seeded_draw(seed, 30) % kServers.size()]);
}

/// A WordPress site's name, drawn per install.
std::string site_title(const std::string& configured, std::uint64_t seed) {
  if (!configured.empty()) {
    return configured;
  }
  static constexpr std::array<std::string_view, 6> kTitles{"My Blog",  "Company News", "Notes",
                                                           "Dev Blog", "Shop",         "Photography"};
  return std::string(kTitles[honeypot::seeded_draw(seed, 31) % kTitles.size()]);
}

std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::array<char, 64> text{};
  const auto n = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {text.data(), n};
}

class HttpService final : public honeypot::TcpHoneypot {
 public:
  void on_server_start() override {
    const auto& args = service_args();
    const auto seed = honeypot::install_seed(service_name());
    settings_.address = args.get("address", "0.0.0.0");
    settings_.port = static_cast<std::uint16_t>(honeypot::int_arg(args, "port", 80, 0, 65535));
    settings_.max_body =
        static_cast<std::uint64_t>(honeypot::int_arg(args, "max_body", 65536, 0, std::int64_t{16} << 20));
    settings_.max_requests = honeypot::int_arg(args, "max_requests", 100, 1, 100000);
    settings_.limits = honeypot::read_session_limits(args, {.idle_timeout = std::chrono::seconds(30),
                                                            .session_timeout = std::chrono::seconds(300),
                                                            .gate = {.max_connections = 1000, .max_per_source = 32}});
    std::string error;
    site_ = honeypot::WebSite::make(args.get("pages", "wordpress,admin"), server_header(args.get("server", ""), seed),
                                    site_title(args.get("title", ""), seed), error);
    if (!site_) {
      throw std::invalid_argument(error);
    }
    policy_.emplace(honeypot::LoginPolicy::from_args(args));
    auto handler = [this](tcp::socket socket, Peer peer, ConnectionGate::Ticket ticket) {
      return session(std::move(socket), std::move(peer), std::move(ticket));
    };
    serve_port(settings_.address, settings_.port, std::move(handler), settings_.limits.gate, "HTTP");
  }

  std::optional<std::vector<std::string>> test() override {
    honeypot::converse_once(static_cast<std::uint16_t>(service_args().get<std::int64_t>("port", 80)),
                            "GET /wp-login.php HTTP/1.0\r\nUser-Agent: honeycomb-test\r\n\r\n");
    return std::vector<std::string>{"http.request"};
  }

 private:
  void emit_anomaly(const Peer& peer, const char* reason) {
    Alert alert;
    alert.set("reason", reason);
    emit("http.anomaly", peer, std::move(alert));
  }

  asio::awaitable<void> session(tcp::socket socket, Peer peer,
                                [[maybe_unused]] ConnectionGate::Ticket ticket /* holds the slot till the end */) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(kHeaderLimit);
    const auto source = honeypot::source_key(peer.src_address);
    const auto deadline = Clock::now() + settings_.limits.session_timeout;
    for (std::int64_t served = 0; served < settings_.max_requests; ++served) {
      const auto now = Clock::now();
      if (now >= deadline) {
        break;
      }
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(settings_.max_body);
      stream.expires_after(std::min<Clock::duration>(settings_.limits.idle_timeout, deadline - now));
      auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (read_ec) {
        co_await refuse(stream, peer, read_ec);
        break;
      }
      const auto& request = parser.get();
      const honeypot::WebRequest web{request.method_string(), request.target(), request.body(),
                                     request[http::field::content_type], request[http::field::cookie]};
      std::vector<honeypot::WebLogin> logins;
      auto answer = site_->answer(
          web,
          [&](std::string_view user, std::string_view password) { return policy_->attempt(source, user, password); },
          logins);
      record(peer, request, answer.status, logins);

      http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
      response.set(http::field::server, site_->server());
      response.set(http::field::date, http_date());
      response.set(http::field::content_type, answer.content_type);
      if (!answer.location.empty()) {
        response.set(http::field::location, answer.location);
      }
      if (!answer.set_cookie.empty()) {
        response.set(http::field::set_cookie, answer.set_cookie);
      }
      response.keep_alive(request.keep_alive() && served + 1 < settings_.max_requests);
      response.body() = std::move(answer.body);
      response.prepare_payload();
      if (request.method() == http::verb::head) {
        response.body().clear();  // Content-Length stays that of the page, as servers send it
      }
      const bool keep_alive = response.keep_alive();
      stream.expires_after(settings_.limits.idle_timeout);
      auto [write_ec, written] = co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      if (write_ec || !keep_alive) {
        break;
      }
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  /// Answers a request the parser refused (and records why); nothing for
  /// a connection that closed or timed out.
  asio::awaitable<void> refuse(beast::tcp_stream& stream, const Peer& peer, const beast::error_code& error) {
    const char* reason = nullptr;
    auto status = http::status::bad_request;
    if (error == http::error::header_limit) {
      reason = "header too large";
      status = http::status::request_header_fields_too_large;
    } else if (error == http::error::body_limit) {
      reason = "body too large";
      status = http::status::payload_too_large;
    } else if (error == http::error::bad_method || error == http::error::bad_target ||
               error == http::error::bad_version || error == http::error::bad_field ||
               error == http::error::bad_value || error == http::error::bad_line_ending ||
               error == http::error::bad_content_length || error == http::error::bad_chunk ||
               error == http::error::bad_transfer_encoding) {
      reason = "bad request";
    }
    if (reason == nullptr) {
      co_return;
    }
    emit_anomaly(peer, reason);
    http::response<http::string_body> response{status, 11};
    response.set(http::field::server, site_->server());
    response.set(http::field::date, http_date());
    response.set(http::field::content_type, "text/html");
    response.keep_alive(false);
    response.prepare_payload();
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
  }

  void record(const Peer& peer, const http::request<http::string_body>& request, int status,
              const std::vector<honeypot::WebLogin>& logins) {
    const auto user_agent = honeypot::to_printable(request[http::field::user_agent]);
    Alert alert;
    alert.set("method", honeypot::to_printable(request.method_string()))
        .set("path", honeypot::to_printable(request.target()))
        .set("user_agent", user_agent)
        .set("host", honeypot::to_printable(request[http::field::host]))
        .set("http_status", static_cast<std::int64_t>(status));
    if (!request.body().empty() && logins.empty()) {
      alert.set("body", honeypot::to_printable(std::string_view(request.body()).substr(0, kBodyRecorded)));
    }
    emit("http.request", peer, std::move(alert));
    for (const auto& login : logins) {
      Alert attempt;
      attempt.set("username", login.username)
          .set("password", login.password)
          .set("page", login.page)
          .set("path", honeypot::to_printable(request.target()))
          .set("outcome", login.accepted ? "success" : "failure")
          .set("user_agent", user_agent);
      emit("http.login", peer, std::move(attempt));
    }
  }

  Settings settings_;
  std::optional<honeypot::WebSite> site_;
  std::optional<honeypot::LoginPolicy> policy_;
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::HttpService, "http")
