// ssh: an OpenSSH look-alike on libssh. Records every login attempt
// (password, keyboard-interactive, public key) with the client's version
// and HASSH, lets some in (LoginPolicy) and gives them the fake shell, which
// records every command, exec request and download attempt.
//
// Two threads. The I/O thread accepts (caps in count, per source address,
// in idle and total time, in bytes) and joins each attacker to one end of a
// socket pair, reading the cleartext hello on the way (HASSH). The engine
// thread (ssh_engine.cpp) runs libssh on the other ends.
#include "honeypot/bytes.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/deadline_io.hpp"
#include "honeypot/install.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/ssh_hello.hpp"
#include "honeypot/tcp_server.hpp"
#include "ssh_engine.hpp"

#include <honeycomb/service.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <array>
#include <chrono>
#include <libssh/libssh.h>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::services {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using PairSocket = asio::local::stream_protocol::socket;
using honeypot::ConnectionGate;
using honeypot::Peer;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16384;
static_assert(kReadChunk <= honeypot::read_buffer_size);
/// How long the engine side waits in one go (it has no timeout of its own:
/// the client side's idle and session limits end a connection).
constexpr std::chrono::hours kEngineWait{24};

struct Settings {
  std::string address;
  std::uint16_t port = 0;
  honeypot::SessionLimits limits;
  ssh::EngineSettings engine;
};

/// "publickey,password,keyboard-interactive" as SSH_AUTH_METHOD_* bits.
int parse_auth_methods(std::string_view text) {
  int methods = 0;
  for (const auto name : honeypot::split_list(text)) {
    if (name == "publickey") {
      methods |= SSH_AUTH_METHOD_PUBLICKEY;
    } else if (name == "password") {
      methods |= SSH_AUTH_METHOD_PASSWORD;
    } else if (name == "keyboard-interactive") {
      methods |= SSH_AUTH_METHOD_INTERACTIVE;
    } else {
      throw std::invalid_argument("auth_methods: unknown method '" + std::string(name) +
                                  "' (use publickey, password, keyboard-interactive)");
    }
  }
  if ((methods & (SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_INTERACTIVE)) == 0) {
    throw std::invalid_argument("auth_methods must include password or keyboard-interactive");
  }
  return methods;
}

/// The software version after "SSH-2.0-": the parameter, else an OpenSSH
/// release drawn per install.
std::string software_version(const std::string& configured, std::uint64_t seed) {
  if (!configured.empty()) {
    // It goes on the identification line: a line break would end it.
    if (configured.size() > 200 || configured.front() == ' ' || configured.find_first_of("\r\n") != std::string::npos) {
      throw std::invalid_argument("version must be one line of at most 200 characters, not starting with a space");
    }
    return configured;
  }
  auto banner = honeypot::default_banner(22, seed);  // "SSH-2.0-OpenSSH_...\r\n"
  constexpr std::string_view kPrefix = "SSH-2.0-";
  banner.erase(0, kPrefix.size());
  while (!banner.empty() && (banner.back() == '\n' || banner.back() == '\r')) {
    banner.pop_back();
  }
  return banner;
}

/// Per-connection proxy state; lives in the session coroutine's frame.
struct Proxy {
  Clock::time_point last_input = Clock::now();
  Clock::time_point deadline;
  std::uint64_t bytes_in = 0;
  std::optional<honeypot::SshHelloReader> hello = honeypot::SshHelloReader();
  bool have_version = false;
  const char* reason = nullptr;  ///< set when the client side is over
};

/// Writes `bytes` to `to`: at once if the socket takes them, else from a
/// copy (the read buffer is shared by every connection of the thread).
template <typename Socket>
asio::awaitable<bool> forward(Socket& to, std::string_view bytes) {
  boost::system::error_code ec;
  const auto written = to.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec && ec != asio::error::would_block) {
    co_return false;
  }
  const std::size_t done = ec ? 0 : written;
  if (done == bytes.size()) {
    co_return true;
  }
  const std::string rest(bytes.substr(done));
  auto [write_ec, n] = co_await asio::async_write(to, asio::buffer(rest), asio::as_tuple(asio::use_awaitable));
  co_return !write_ec && n == rest.size();
}

/// Engine -> attacker, less libssh's identification line (sent already).
asio::awaitable<const char*> from_engine(PairSocket& engine, tcp::socket& client, std::string_view banner) {
  std::size_t banner_left = banner.size();
  for (;;) {
    if (!co_await honeypot::wait_readable(engine, kEngineWait)) {
      continue;  // the client side ends the connection on its timeouts
    }
    boost::system::error_code ec;
    // The thread's buffer, fetched after the wait: the coroutine may resume
    // on another thread of the io_context. Used up before the next await.
    const std::span<char> chunk = honeypot::thread_read_buffer().first(kReadChunk);
    const std::size_t n = engine.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
    if (ec == asio::error::would_block) {
      continue;
    }
    if (ec || n == 0) {
      co_return "closed by server";
    }
    std::string_view bytes(chunk.data(), n);
    if (banner_left > 0) {
      const auto expected = banner.substr(banner.size() - banner_left);
      const auto take = std::min(bytes.size(), expected.size());
      if (bytes.substr(0, take) == expected.substr(0, take)) {
        bytes.remove_prefix(take);
        banner_left -= take;
      } else {
        banner_left = 0;  // not our banner after all: forward everything
      }
      if (bytes.empty()) {
        continue;
      }
    }
    if (!co_await forward(client, bytes)) {
      co_return "closed by client";
    }
  }
}

class SshService final : public honeypot::TcpHoneypot {
 public:
  void on_server_start() override {
    const auto& args = service_args();
    const auto seed = honeypot::install_seed(service_name());
    settings_.address = args.get("address", "0.0.0.0");
    settings_.port = static_cast<std::uint16_t>(honeypot::int_arg(args, "port", 22, 0, 65535));
    settings_.limits = honeypot::read_session_limits(args, {.idle_timeout = std::chrono::seconds(120),
                                                            .session_timeout = std::chrono::seconds(900),
                                                            .gate = {.max_connections = 1000, .max_per_source = 16}});
    auto& engine = settings_.engine;
    engine.version = software_version(args.get("version", ""), seed);
    engine.hostname = args.get("hostname", "");
    if (engine.hostname.empty()) {
      engine.hostname = honeypot::fake_hostname(seed);
    }
    engine.seed = seed;
    engine.max_attempts = honeypot::int_arg(args, "max_attempts", 6, 1, 100);
    engine.auth_methods = parse_auth_methods(args.get("auth_methods", "publickey,password,keyboard-interactive"));
    engine.max_line = static_cast<std::size_t>(honeypot::int_arg(args, "max_line", 4096, 64, 65536));
    engine.host_keys = ssh::ensure_host_keys(args.get("host_keys", "ssh_host_keys"), logger());
    policy_.emplace(honeypot::LoginPolicy::from_args(args));

    engine_ = std::make_unique<ssh::Engine>(
        engine, *policy_,
        [this](const char* type, const Peer& peer, Alert&& alert) { emit(type, peer, std::move(alert)); },
        [this](const std::shared_ptr<ssh::Connection>& connection) { release(connection); });
    engine_->start();
    banner_ = "SSH-2.0-" + engine.version + "\r\n";
    // Three descriptors a connection once identified: the attacker's and the socket pair.
    honeypot::make_room_for(settings_.limits.gate.max_connections * 3, logger());
    auto handler = [this](tcp::socket socket, Peer peer, ConnectionGate::Ticket ticket) {
      return session(std::move(socket), std::move(peer), std::move(ticket));
    };
    try {
      serve_port(settings_.address, settings_.port, std::move(handler), settings_.limits.gate, "SSH");
    } catch (...) {
      engine_->stop();
      throw;
    }
    engine_->stop();
  }

  std::optional<std::vector<std::string>> test() override {
    honeypot::converse_once(static_cast<std::uint16_t>(service_args().get<std::int64_t>("port", 22)),
                            "SSH-2.0-honeycomb-test\r\n");
    return std::vector<std::string>{"ssh.connect", "ssh.disconnect"};
  }

 private:
  void emit_anomaly(const Peer& peer, const char* reason, std::uint64_t bytes_in, std::string_view data = {}) {
    Alert alert;
    alert.set("reason", reason).set("bytes_in", static_cast<std::int64_t>(bytes_in));
    if (!data.empty()) {
      alert.set("data", honeypot::to_printable(data)).set("data_hex", honeypot::to_hex(data));
    }
    emit("ssh.anomaly", peer, std::move(alert));
  }

  /// The proxy and the engine each let go once; the second reports.
  void release(const std::shared_ptr<ssh::Connection>& connection) {
    if (connection->holders.fetch_sub(1) != 1) {
      return;
    }
    Alert alert;
    {
      std::lock_guard lock(connection->mutex);
      alert.set("reason", connection->engine_reason.empty() ? connection->proxy_reason : connection->engine_reason)
          .set("bytes_in", static_cast<std::int64_t>(connection->bytes_in))
          .set("client_version", connection->hello.version)
          .set("hassh", connection->hello.hassh)
          .set("hassh_algorithms", connection->hello.hassh_algorithms);
    }
    alert.set("login_attempts", connection->login_attempts.load())
        .set("commands", connection->commands.load())
        .set("duration_ms",
             std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - connection->started).count());
    emit("ssh.disconnect", connection->peer, std::move(alert));
  }

  /// The attacker's next bytes, read into the thread's buffer (valid until
  /// the next await), with the limits applied and the hello read on the
  /// way; empty, with proxy.reason set, when the connection is over.
  asio::awaitable<std::string_view> next_from_client(tcp::socket& client, Proxy& proxy, ssh::Connection& connection) {
    for (;;) {
      const auto now = Clock::now();
      if (now >= proxy.deadline) {
        proxy.reason = "session timeout";
        co_return std::string_view();
      }
      const auto idle_end = proxy.last_input + settings_.limits.idle_timeout;
      if (now >= idle_end) {
        proxy.reason = "idle timeout";
        co_return std::string_view();
      }
      if (!co_await honeypot::wait_readable(client, std::min(idle_end, proxy.deadline) - now)) {
        continue;  // the checks above say which limit passed
      }
      boost::system::error_code ec;
      // The thread's buffer, fetched after the wait: the coroutine may resume
      // on another thread of the io_context. Used up before the next await.
      const std::span<char> chunk = honeypot::thread_read_buffer().first(kReadChunk);
      const std::size_t n = client.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
      if (ec == asio::error::would_block) {
        continue;
      }
      if (ec || n == 0) {
        proxy.reason = "closed by client";
        co_return std::string_view();
      }
      proxy.last_input = Clock::now();
      proxy.bytes_in += n;
      const std::string_view bytes(chunk.data(), n);
      if (proxy.bytes_in > settings_.limits.max_bytes) {
        emit_anomaly(connection.peer, "byte cap", proxy.bytes_in);
        proxy.reason = "byte cap";
        co_return std::string_view();
      }
      if (proxy.hello) {
        read_hello(bytes, proxy, connection);
      }
      if (proxy.reason != nullptr) {
        co_return std::string_view();
      }
      co_return bytes;
    }
  }

  void read_hello(std::string_view bytes, Proxy& proxy, ssh::Connection& connection) {
    using State = honeypot::SshHelloReader::State;
    const auto state = proxy.hello->feed(bytes);
    if (state == State::not_ssh) {
      emit_anomaly(connection.peer, "not ssh", proxy.bytes_in, proxy.hello->first_bytes());
      proxy.reason = "not ssh";
      return;
    }
    if (state != State::reading || (!proxy.have_version && !proxy.hello->hello().version.empty())) {
      proxy.have_version = true;
      std::lock_guard lock(connection.mutex);
      connection.hello = proxy.hello->hello();
    }
    if (state == State::malformed) {
      emit_anomaly(connection.peer, "malformed key exchange", proxy.bytes_in);
    }
    if (state != State::reading) {
      proxy.hello.reset();
    }
  }

  /// Attacker -> engine, once the engine has the connection.
  asio::awaitable<const char*> from_client(tcp::socket& client, PairSocket& engine, Proxy& proxy,
                                           ssh::Connection& connection) {
    for (;;) {
      const auto bytes = co_await next_from_client(client, proxy, connection);
      if (proxy.reason != nullptr) {
        co_return proxy.reason;
      }
      if (!co_await forward(engine, bytes)) {
        co_return "closed by server";
      }
    }
  }

  /// Ends a connection the engine never had.
  void end_alone(tcp::socket& socket, const std::shared_ptr<ssh::Connection>& connection, const char* reason,
                 std::uint64_t bytes_in) {
    boost::system::error_code ec;
    socket.close(ec);
    connection->holders.store(1);
    {
      std::lock_guard lock(connection->mutex);
      connection->proxy_reason = reason;
      connection->bytes_in = bytes_in;
    }
    release(connection);
  }

  asio::awaitable<void> session(tcp::socket socket, Peer peer,
                                [[maybe_unused]] ConnectionGate::Ticket ticket /* holds the slot till the end */) {
    emit("ssh.connect", peer, {});
    auto connection = std::make_shared<ssh::Connection>();
    connection->peer = std::move(peer);
    connection->source = honeypot::source_key(connection->peer.src_address);
    Proxy proxy;
    proxy.deadline = connection->started + settings_.limits.session_timeout;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);

    // Our identification goes out at once, as sshd's does (libssh's copy of
    // it is dropped on the way back: from_engine). Until the client has
    // identified itself the connection stays here: a scanner that reads the
    // banner and waits, or sends anything else, costs no socket pair and
    // no libssh session.
    if (!co_await forward(socket, banner_)) {
      end_alone(socket, connection, "closed by client", 0);
      co_return;
    }
    std::string early;  // the identification line and what came with it
    while (!proxy.have_version) {
      const auto bytes = co_await next_from_client(socket, proxy, *connection);
      if (proxy.reason != nullptr) {
        end_alone(socket, connection, proxy.reason, proxy.bytes_in);
        co_return;
      }
      early.append(bytes);
    }

    PairSocket inner(io());
    PairSocket outer(io());
    asio::local::connect_pair(inner, outer, ec);
    if (ec) {
      end_alone(socket, connection, "out of descriptors", proxy.bytes_in);
      co_return;
    }
    inner.non_blocking(true, ec);
    engine_->adopt(outer.release(), connection);
    const char* reason = "closed by server";
    if (co_await forward(inner, early)) {
      early = std::string();
      auto client_side = from_client(socket, inner, proxy, *connection);
      auto engine_side = from_engine(inner, socket, banner_);
      const auto ended = co_await (std::move(client_side) || std::move(engine_side));
      reason = std::visit([](const char* r) { return r; }, ended);
    }
    inner.close(ec);  // EOF on the engine's end: libssh lets go
    socket.close(ec);
    {
      std::lock_guard lock(connection->mutex);
      connection->proxy_reason = reason;
      connection->bytes_in = proxy.bytes_in;
    }
    release(connection);
  }

  Settings settings_;
  std::string banner_;  ///< our identification line
  std::optional<honeypot::LoginPolicy> policy_;
  std::unique_ptr<ssh::Engine> engine_;
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::SshService, "ssh")
