// banner: the catch-all for scanners. Listens on one or more TCP ports, sends
// each a banner (configured, or the one the port's usual server sends, varied
// per install), and records who connected and the first bytes they sent, in
// hex and printable form. One coroutine per connection on one I/O thread;
// every connection is capped in count (in all and per source address), in
// idle and total time, and in bytes.
#include "common/log.hpp"
#include "honeypot/bytes.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/deadline_io.hpp"
#include "honeypot/install.hpp"
#include "honeypot/tcp_server.hpp"

#include <honeycomb/service.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace honeycomb::services {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using honeypot::ConnectionGate;
using honeypot::Peer;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxPorts = 64;
constexpr std::size_t kReadChunk = 4096;
static_assert(kReadChunk <= honeypot::read_buffer_size);
/// Once a client has sent something, this much silence ends its first
/// message: scanners send a probe and wait for an answer.
constexpr std::chrono::milliseconds kQuietEndsData{500};

struct Settings {
  std::string address;
  std::vector<std::uint16_t> ports;
  std::optional<std::string> banner;  ///< nullopt: the port's usual banner
  std::size_t read_bytes = 1024;
  honeypot::SessionLimits limits;
};

Settings read_settings(const ServiceArgs& args) {
  Settings s;
  s.address = args.get("address", "0.0.0.0");
  std::string error;
  auto ports = honeypot::parse_port_list(args.get("ports", ""), kMaxPorts, error);
  if (!ports) {
    throw std::invalid_argument("ports: " + error);
  }
  s.ports = std::move(*ports);
  if (const auto text = args.get("banner", ""); !text.empty()) {
    s.banner = honeypot::unescape(text, error);
    if (!s.banner) {
      throw std::invalid_argument("banner: " + error);
    }
  }
  s.read_bytes = static_cast<std::size_t>(honeypot::int_arg(args, "read_bytes", 1024, 1, 65536));
  s.limits = honeypot::read_session_limits(args, {.idle_timeout = std::chrono::seconds(30),
                                                  .session_timeout = std::chrono::seconds(300),
                                                  .gate = {.max_connections = 1000, .max_per_source = 32}});
  return s;
}

class BannerService final : public honeypot::TcpHoneypot {
 public:
  void on_server_start() override {
    settings_ = read_settings(service_args());
    const auto seed = honeypot::install_seed(service_name());
    std::vector<Listener> listeners;
    std::string port_list;
    for (const auto port : settings_.ports) {
      auto banner = std::make_shared<const std::string>(settings_.banner ? *settings_.banner
                                                                         : honeypot::default_banner(port, seed));
      auto handler = [this, banner](tcp::socket socket, Peer peer, ConnectionGate::Ticket ticket) {
        return session(std::move(socket), std::move(peer), banner, std::move(ticket));
      };
      listeners.emplace_back(honeypot::listen_on(io(), settings_.address, port), std::move(handler));
      port_list += (port_list.empty() ? "" : ", ") + std::to_string(port);
    }
    serve(std::move(listeners), settings_.limits.gate, "Starting Banner service on ports: " + port_list,
          "Banner service stopped");
  }

  std::optional<std::vector<std::string>> test() override {
    const auto settings = read_settings(service_args());
    honeypot::converse_once(settings.ports.front(), "honeycomb-test\r\n");
    return std::vector<std::string>{"banner.connect", "banner.data", "banner.disconnect"};
  }

 private:
  void emit_data(const Peer& peer, std::string& first) {
    Alert alert;
    alert.set("data", honeypot::to_printable(first))
        .set("data_hex", honeypot::to_hex(first))
        .set("data_bytes", static_cast<std::int64_t>(first.size()));
    emit("banner.data", peer, std::move(alert));
    first.clear();
  }

  // The connection's story: connect, banner out, the first bytes in (one
  // data event), then reading on only to notice the end, the idle timeout,
  // the session deadline or the byte cap.
  asio::awaitable<void> session(tcp::socket socket, Peer peer, std::shared_ptr<const std::string> banner,
                                [[maybe_unused]] ConnectionGate::Ticket ticket /* holds the slot till the end */) {
    boost::system::error_code ec;
    emit("banner.connect", peer, {});

    const auto started = Clock::now();
    const auto deadline = started + settings_.limits.session_timeout;
    const char* reason = nullptr;  // set when the connection is over
    std::uint64_t bytes_in = 0;
    socket.non_blocking(true, ec);
    if (!banner->empty() &&
        !co_await honeypot::write_all(socket, asio::buffer(*banner), settings_.limits.idle_timeout)) {
      reason = "closed by client";  // or it would not read: either way it is gone
    }
    std::string first;
    bool collecting = true;
    while (reason == nullptr) {
      const auto now = Clock::now();
      if (now >= deadline) {
        reason = "session timeout";
        break;
      }
      Clock::duration wait = settings_.limits.idle_timeout;
      if (collecting && !first.empty()) {
        wait = std::min<Clock::duration>(wait, kQuietEndsData);
      }
      if (!co_await honeypot::wait_readable(socket, std::min(wait, deadline - now))) {
        if (collecting && !first.empty()) {
          emit_data(peer, first);  // the client went quiet: its first message is complete
          collecting = false;
          continue;
        }
        reason = Clock::now() >= deadline ? "session timeout" : "idle timeout";
        break;
      }
      // The thread's buffer, fetched after the wait: the coroutine may resume
      // on another thread of the io_context. Used up before the next await.
      const std::span<char> chunk = honeypot::thread_read_buffer().first(kReadChunk);
      const std::size_t n = socket.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
      if (ec == asio::error::would_block) {
        continue;
      }
      if (ec || n == 0) {
        reason = "closed by client";  // EOF or reset
        break;
      }
      bytes_in += n;
      if (collecting) {
        first.append(chunk.data(), std::min(n, settings_.read_bytes - first.size()));
        if (first.size() >= settings_.read_bytes) {
          emit_data(peer, first);
          collecting = false;
        }
      }
      if (bytes_in > settings_.limits.max_bytes) {
        Alert alert;
        alert.set("reason", "byte cap").set("bytes_in", static_cast<std::int64_t>(bytes_in));
        emit("banner.anomaly", peer, std::move(alert));
        reason = "byte cap";
      }
    }
    if (collecting && !first.empty()) {
      emit_data(peer, first);
    }
    socket.close(ec);
    Alert alert;
    alert.set("reason", reason)
        .set("bytes_in", static_cast<std::int64_t>(bytes_in))
        .set("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    emit("banner.disconnect", peer, std::move(alert));
  }

  Settings settings_;
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::BannerService, "banner")
