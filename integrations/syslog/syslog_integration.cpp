// syslog: every alert as one RFC 5424 message (MSG = the alert JSON or a CEF
// line) over UDP (one datagram each), TCP (RFC 6587 octet counting, batched
// writes) or TLS over TCP. Formatting lives in syslog_format.cpp; this file
// is the transport: bounded-time connects and writes, lazy reconnects.
#include "pipeline/integration.hpp"
#include "syslog_format.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#ifndef HONEYCOMB_VERSION
#define HONEYCOMB_VERSION "0"
#endif

namespace honeycomb::integrations {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using pipeline::AlertRecordPtr;
using pipeline::SendResult;
using pipeline::TestResult;
using Clock = std::chrono::steady_clock;

// Caps one TCP write so that a large backlog neither doubles memory nor
// turns one failure into a resend of everything.
constexpr std::size_t max_tcp_write = 1024 * 1024;
// How long a close waits for the server's side of the goodbye (TLS
// close_notify, TCP FIN): closing with unread data in the receive buffer
// (e.g. TLS 1.3 session tickets) sends a reset that can discard the last
// messages at the server.
constexpr std::chrono::milliseconds close_timeout{1000};
// How long a UDP test waits for an ICMP "port unreachable".
constexpr std::chrono::milliseconds udp_probe_timeout{500};

enum class Transport { udp, tcp, tls };

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::udp: return "UDP";
    case Transport::tcp: return "TCP";
    case Transport::tls: return "TLS";
  }
  return "?";
}

std::string local_hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) {
    return "-";
  }
  return syslog::header_field(buf.data(), syslog::max_hostname);
}

struct Settings {
  Transport transport = Transport::udp;
  std::string address;
  std::string port;
  std::chrono::milliseconds timeout{5000};
  bool tls_verify = false;

  [[nodiscard]] std::string endpoint() const {
    const bool ipv6 = address.find(':') != std::string::npos;
    return (ipv6 ? "[" + address + "]" : address) + ":" + port;
  }
};

// One connection to the server. Every blocking step is bounded by the
// configured timeout: operations are asynchronous and the io_context runs
// only until they finish or the deadline passes (then the socket is closed,
// which aborts them).
class Connection {
 public:
  Connection(const Settings& settings, ssl::context* tls_context)
      : settings_(settings), tls_context_(tls_context) {}
  ~Connection() { close(false); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] bool is_open() const { return udp_.has_value() || tcp_.has_value() || tls_.has_value(); }
  [[nodiscard]] const std::string& description() const { return description_; }

  /// Resolves, connects (and handshakes); an error text or empty.
  std::string open() {
    close(false);
    return settings_.transport == Transport::udp ? open_udp() : open_tcp();
  }

  /// Sends `data`: TCP/TLS as a stream, UDP as one datagram. An error text
  /// or empty; after an error the connection must be closed.
  std::string write(std::string_view data) {
    error_code ec;
    if (udp_) {
      udp_->send(asio::buffer(data.data(), data.size()), 0, ec);
      if (ec) {
        return "cannot send to " + settings_.endpoint() + " over UDP: " + ec.message();
      }
      return {};
    }
    std::optional<error_code> done;
    auto handler = [&done](const error_code& e, std::size_t /*bytes*/) { done = e; };
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(data.data(), data.size()), handler);
    } else if (tcp_) {
      asio::async_write(*tcp_, asio::buffer(data.data(), data.size()), handler);
    } else {
      return "not connected";
    }
    ec = wait(done, settings_.timeout);
    if (ec) {
      return "cannot write to " + settings_.endpoint() + " over " + std::string(transport_name(settings_.transport)) +
             ": " + ec.message();
    }
    return {};
  }

  /// True when a TCP/TLS peer has closed or reset the connection. A syslog
  /// server never sends application data, so anything readable is either
  /// the end of the stream or TLS housekeeping (session tickets). Checking
  /// before a write avoids losing a whole batch into a dead connection
  /// (the first write after a server restart would "succeed").
  bool peer_closed() {
    if (!tcp_ && !tls_) {
      return false;
    }
    auto& socket = lowest();
    pollfd p{socket.native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) {
      return false;
    }
    if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) {
      return true;
    }
    if ((p.revents & POLLIN) == 0) {
      return false;
    }
    error_code ec;
    std::array<char, 512> sink{};
    socket.non_blocking(true, ec);
    std::size_t n = 0;
    if (tls_) {
      n = tls_->read_some(asio::buffer(sink), ec);
    } else {
      n = socket.read_some(asio::buffer(sink), ec);
    }
    const bool alive = (!ec && n > 0) || ec == asio::error::would_block || ec == asio::error::try_again;
    error_code ignored;
    socket.non_blocking(false, ignored);
    return !alive;
  }

  /// UDP only: waits briefly for an ICMP "port unreachable" for the
  /// datagram just sent (reported on a connected socket as ECONNREFUSED).
  std::string probe_udp(std::chrono::milliseconds timeout) {
    if (!udp_) {
      return {};
    }
    std::array<char, 64> sink{};
    std::optional<error_code> done;
    udp_->async_receive(asio::buffer(sink), [&done](const error_code& e, std::size_t /*bytes*/) { done = e; });
    const error_code ec = wait(done, timeout);
    if (ec == asio::error::connection_refused) {
      return "no syslog server is listening on " + settings_.endpoint() + "/udp (" + ec.message() + ")";
    }
    return {};
  }

  /// Closes; `graceful` first says goodbye and waits (briefly) for the
  /// server to acknowledge, so that nothing already written is lost.
  void close(bool graceful) {
    if (graceful && tls_) {
      std::optional<error_code> done;
      tls_->async_shutdown([&done](const error_code& e) { done = e; });
      wait(done, std::min(settings_.timeout, close_timeout));
    } else if (graceful && tcp_) {
      error_code ec;
      tcp_->shutdown(tcp::socket::shutdown_send, ec);
      const auto deadline = Clock::now() + std::min(settings_.timeout, close_timeout);
      std::array<char, 512> sink{};
      while (!ec && tcp_->is_open()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
          break;
        }
        std::optional<error_code> done;
        tcp_->async_read_some(asio::buffer(sink), [&done](const error_code& e, std::size_t /*bytes*/) { done = e; });
        ec = wait(done, left);
      }
    }
    close_socket();
    udp_.reset();
    tcp_.reset();
    tls_.reset();
  }

 private:
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : *tcp_; }

  void close_socket() {
    error_code ignored;
    if (udp_) {
      udp_->close(ignored);
    }
    if (tcp_) {
      tcp_->close(ignored);
    }
    if (tls_) {
      tls_->next_layer().close(ignored);
    }
  }

  // Runs the io_context until `done` is set or `timeout` passes; on timeout
  // closes the socket, which makes the pending operation complete (aborted)
  // before this returns, so no handler outlives its caller's stack.
  error_code wait(const std::optional<error_code>& done, std::chrono::milliseconds timeout) {
    io_.restart();
    io_.run_for(timeout);
    if (done) {
      return *done;
    }
    close_socket();
    io_.restart();
    io_.run();
    return asio::error::timed_out;
  }

  std::string open_udp() {
    error_code ec;
    udp::resolver resolver(io_);
    // Resolution is synchronous: getaddrinfo() has its own timeouts
    // (resolv.conf), and an IP address resolves without any I/O.
    const auto results = resolver.resolve(settings_.address, settings_.port, ec);
    if (ec) {
      return "cannot resolve " + settings_.address + ": " + ec.message();
    }
    for (const auto& entry : results) {
      udp_.emplace(io_);
      udp_->open(entry.endpoint().protocol(), ec);
      if (!ec) {
        // Connected UDP: ICMP errors come back as send/receive errors.
        udp_->connect(entry.endpoint(), ec);
      }
      if (!ec) {
        description_ = settings_.endpoint() + " over UDP";
        return {};
      }
      udp_.reset();
    }
    return "cannot reach " + settings_.endpoint() + " over UDP: " + ec.message();
  }

  std::string open_tcp() {
    error_code ec;
    tcp::resolver resolver(io_);
    const auto results = resolver.resolve(settings_.address, settings_.port, ec);
    if (ec) {
      return "cannot resolve " + settings_.address + ": " + ec.message();
    }
    const bool tls = settings_.transport == Transport::tls;
    tcp::socket& socket = tls ? tls_.emplace(io_, *tls_context_).next_layer() : tcp_.emplace(io_);
    std::optional<error_code> done;
    asio::async_connect(socket, results, [&done](const error_code& e, const tcp::endpoint& /*ep*/) { done = e; });
    ec = wait(done, settings_.timeout);
    if (ec) {
      close(false);
      return "cannot connect to " + settings_.endpoint() + " over TCP: " + ec.message() +
             (ec == asio::error::connection_refused ? " (is the syslog server running?)" : "");
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    if (!tls) {
      description_ = settings_.endpoint() + " over TCP";
      return {};
    }

    SSL* native = tls_->native_handle();
    boost::system::error_code addr_ec;
    asio::ip::make_address(settings_.address, addr_ec);
    if (addr_ec) {
      // SNI takes host names only.
      SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(settings_.address.c_str()));
    }
    if (settings_.tls_verify) {
      tls_->set_verify_mode(ssl::verify_peer, ignored);
      tls_->set_verify_callback(ssl::host_name_verification(settings_.address), ignored);
    } else {
      tls_->set_verify_mode(ssl::verify_none, ignored);
    }
    done.reset();
    tls_->async_handshake(ssl::stream_base::client, [&done](const error_code& e) { done = e; });
    ec = wait(done, settings_.timeout);
    if (ec) {
      std::string why = ec.message();
      const long verify = SSL_get_verify_result(native);
      if (settings_.tls_verify && verify != X509_V_OK) {
        why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      close(false);
      return "TLS handshake with " + settings_.endpoint() + " failed: " + why;
    }
    description_ = settings_.endpoint() + " over TLS (" + SSL_get_version(native) + ", " +
                   SSL_CIPHER_get_name(SSL_get_current_cipher(native)) +
                   (settings_.tls_verify ? ", server certificate verified)" : ", server certificate NOT verified)");
    return {};
  }

  const Settings& settings_;
  ssl::context* tls_context_;
  asio::io_context io_;
  std::optional<udp::socket> udp_;
  std::optional<tcp::socket> tcp_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::string description_;
};

class SyslogIntegration final : public pipeline::Integration {
 public:
  explicit SyslogIntegration(const pipeline::IntegrationContext& c) : logger_(c.logger) {
    const std::string protocol = c.args.get("protocol", "udp");
    const bool tls = c.args.get<bool>("syslog_ssl_enabled", false);
    if (protocol == "udp") {
      if (tls) {
        // Silently sending in clear what the user asked to encrypt is worse than refusing.
        throw std::invalid_argument("syslog_ssl_enabled=true needs protocol=tcp (TLS over UDP is not supported)");
      }
      settings_.transport = Transport::udp;
    } else if (protocol == "tcp") {
      settings_.transport = tls ? Transport::tls : Transport::tcp;
    } else {
      throw std::invalid_argument("protocol must be tcp or udp (got '" + protocol + "')");
    }
    settings_.address = c.args.get("address", "");
    if (settings_.address.empty()) {
      throw std::invalid_argument("address is empty");
    }
    settings_.port = std::to_string(c.args.get<std::int64_t>("port", 514));
    settings_.timeout = std::chrono::seconds(std::clamp<std::int64_t>(c.args.get<std::int64_t>("timeout", 5), 1, 300));
    settings_.tls_verify = c.args.get<bool>("tls_verify", false);

    const std::string facility = c.args.get("facility", "user");
    const auto code = syslog::facility_code(facility);
    if (!code) {
      throw std::invalid_argument("unknown facility '" + facility + "'");
    }
    options_.facility = *code;
    options_.hostname = local_hostname();
    options_.app_name = syslog::header_field(c.args.get("app_name", "honeycomb"), syslog::max_app_name);
    options_.procid = std::to_string(::getpid());
    options_.cef = c.args.get<bool>("cef_output_format", false);
    options_.product_version = HONEYCOMB_VERSION;

    if (settings_.transport == Transport::tls) {
      tls_context_.emplace(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_context_->native_handle(), TLS1_2_VERSION);
      const std::string ca_file = c.args.get("tls_ca_file", "");
      error_code ec;
      if (!ca_file.empty()) {
        tls_context_->load_verify_file(ca_file, ec);
        if (ec) {
          throw std::runtime_error("cannot load tls_ca_file " + ca_file + ": " + ec.message());
        }
      } else if (settings_.tls_verify) {
        tls_context_->set_default_verify_paths(ec);
      }
      if (!settings_.tls_verify) {
        logger_->warn("tls_verify is false: the server's certificate is not checked");
      }
    }
    connection_.emplace(settings_, tls_context_ ? &*tls_context_ : nullptr);
  }

  ~SyslogIntegration() override {
    // Flushed on shutdown: say goodbye so the server keeps the last messages.
    connection_->close(true);
  }
  SyslogIntegration(const SyslogIntegration&) = delete;
  SyslogIntegration& operator=(const SyslogIntegration&) = delete;

  SendResult send(std::span<const AlertRecordPtr> batch) override {
    if (auto error = ensure_connected(); !error.empty()) {
      return {0, error};
    }
    if (settings_.transport == Transport::udp) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const std::string message = syslog::format_rfc5424(*batch[i], options_);
        const auto datagram = syslog::truncate_utf8(message, syslog::max_udp_message);
        if (datagram.size() < message.size() && !warned_truncation_) {
          warned_truncation_ = true;
          logger_->warn("a {}-byte alert was cut to {} bytes to fit a UDP datagram (use protocol=tcp)",
                        message.size(), datagram.size());
        }
        if (auto error = connection_->write(datagram); !error.empty()) {
          connection_->close(false);
          return {i, error};
        }
      }
      return {batch.size(), {}};
    }
    // TCP/TLS: frame many messages into one buffer, one write per buffer.
    std::size_t done = 0;
    while (done < batch.size()) {
      buffer_.clear();
      std::size_t end = done;
      while (end < batch.size() && buffer_.size() < max_tcp_write) {
        syslog::append_octet_counted(buffer_, syslog::format_rfc5424(*batch[end], options_));
        ++end;
      }
      if (auto error = connection_->write(buffer_); !error.empty()) {
        // What part of the buffer the server got is unknown: resend it all
        // (at least once) on a new connection.
        connection_->close(false);
        return {done, error};
      }
      done = end;
    }
    if (buffer_.capacity() > 2 * max_tcp_write) {
      std::string().swap(buffer_);
    }
    return {done, {}};
  }

  TestResult test_connection() override {
    Connection c(settings_, tls_context_ ? &*tls_context_ : nullptr);
    if (auto error = c.open(); !error.empty()) {
      return {false, error};
    }
    plugin::EventTypeSpec event{"integration_test", "Honeycomb syslog integration test", {}, plugin::Policy::alert};
    const auto record = pipeline::make_record(Alert("integration_test"), event, "honeycomb");
    const std::string message = syslog::format_rfc5424(*record, options_);
    std::string error;
    if (settings_.transport == Transport::udp) {
      error = c.write(syslog::truncate_utf8(message, syslog::max_udp_message));
      if (error.empty()) {
        error = c.probe_udp(udp_probe_timeout);
      }
    } else {
      std::string framed;
      syslog::append_octet_counted(framed, message);
      error = c.write(framed);
    }
    if (!error.empty()) {
      return {false, error};
    }
    const std::string where = c.description();
    c.close(true);
    return {true, "sent a test message (id " + record->id + ") to " + where +
                      (settings_.transport == Transport::udp ? "; UDP delivery is not acknowledged" : "")};
  }

 private:
  std::string ensure_connected() {
    if (connection_->is_open() && connection_->peer_closed()) {
      logger_->info("{} closed the connection; reconnecting", settings_.endpoint());
      connection_->close(false);
    }
    if (connection_->is_open()) {
      return {};
    }
    std::string error = connection_->open();
    if (error.empty()) {
      logger_->info("connected to {}", connection_->description());
    }
    return error;
  }

  std::shared_ptr<spdlog::logger> logger_;
  Settings settings_;
  syslog::FormatOptions options_;
  std::optional<ssl::context> tls_context_;  // before connection_, which points to it
  std::optional<Connection> connection_;
  std::string buffer_;
  bool warned_truncation_ = false;
};

}  // namespace
}  // namespace honeycomb::integrations

HONEYCOMB_INTEGRATION(honeycomb::integrations::SyslogIntegration, "syslog")
