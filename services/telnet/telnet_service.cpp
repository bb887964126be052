// telnet: a Linux telnetd look-alike. Negotiates the options telnetd does,
// asks for a login and a password, records every attempt, lets some in (see
// LoginPolicy) and gives them the fake shell, whose every command line and
// download attempt is recorded. One coroutine per connection on one I/O
// thread; connections are capped in count (in all and per source address),
// in idle and total time, in bytes and in line length.
#include "honeypot/bytes.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/deadline_io.hpp"
#include "honeypot/fake_shell.hpp"
#include "honeypot/install.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/tcp_server.hpp"
#include "honeypot/telnet.hpp"

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

constexpr std::size_t kReadChunk = 4096;
static_assert(kReadChunk <= honeypot::read_buffer_size);
/// How long the login prompt waits for the client's answer to our options.
constexpr std::chrono::milliseconds kNegotiationWait{500};

struct Settings {
  std::string address;
  std::uint16_t port = 0;
  std::string hostname;
  std::string banner;
  std::int64_t max_attempts = 3;
  std::size_t max_line = 4096;
  honeypot::SessionLimits limits;
};

class TelnetService final : public honeypot::TcpHoneypot {
 public:
  void on_server_start() override {
    const auto& args = service_args();
    const auto seed = honeypot::install_seed(service_name());
    settings_.address = args.get("address", "0.0.0.0");
    settings_.port = static_cast<std::uint16_t>(honeypot::int_arg(args, "port", 23, 0, 65535));
    settings_.hostname = args.get("hostname", "");
    if (settings_.hostname.empty()) {
      settings_.hostname = honeypot::fake_hostname(seed);
    }
    settings_.banner = args.get("banner", "Debian GNU/Linux 12");
    settings_.max_attempts = honeypot::int_arg(args, "max_attempts", 3, 1, 100);
    settings_.max_line = static_cast<std::size_t>(honeypot::int_arg(args, "max_line", 4096, 64, 65536));
    settings_.limits = honeypot::read_session_limits(args, {.idle_timeout = std::chrono::seconds(120),
                                                            .session_timeout = std::chrono::seconds(900),
                                                            .gate = {.max_connections = 1000, .max_per_source = 16}});
    policy_ = honeypot::LoginPolicy::from_args(args);
    seed_ = seed;
    auto handler = [this](tcp::socket socket, Peer peer, ConnectionGate::Ticket ticket) {
      return session(std::move(socket), std::move(peer), std::move(ticket));
    };
    serve_port(settings_.address, settings_.port, std::move(handler), settings_.limits.gate, "Telnet");
  }

  std::optional<std::vector<std::string>> test() override {
    honeypot::converse_once(static_cast<std::uint16_t>(service_args().get<std::int64_t>("port", 23)),
                            "honeycomb-test\r\nhoneycomb-test\r\n");
    return std::vector<std::string>{"telnet.connect", "telnet.login", "telnet.disconnect"};
  }

 private:
  void emit_anomaly(const Peer& peer, const char* reason, std::uint64_t bytes_in) {
    Alert alert;
    alert.set("reason", reason).set("bytes_in", static_cast<std::int64_t>(bytes_in));
    emit("telnet.anomaly", peer, std::move(alert));
  }

  [[nodiscard]] std::string login_prompt() const { return settings_.hostname + " login: "; }

  asio::awaitable<void> session(tcp::socket socket, Peer peer,
                                [[maybe_unused]] ConnectionGate::Ticket ticket /* holds the slot till the end */) {
    emit("telnet.connect", peer, {});
    const auto started = Clock::now();
    const auto deadline = started + settings_.limits.session_timeout;
    boost::system::error_code ec;
    const auto source = honeypot::source_key(peer.src_address);
    socket.non_blocking(true, ec);

    enum class Stage { username, password, shell };
    Stage stage = Stage::username;
    honeypot::telnet::Decoder decoder;
    honeypot::telnet::LineReader reader(settings_.max_line);
    std::optional<honeypot::FakeShell> shell;
    std::string username;
    std::int64_t attempts = 0;
    std::int64_t commands = 0;
    std::uint64_t bytes_in = 0;
    bool reported_cut = false;
    const char* reason = nullptr;  // set when the connection is over

    // Like telnetd, negotiate first and let login speak once the client has
    // answered (or kept silent for a moment): clients that negotiate read
    // the prompt together with our answers.
    std::string out(honeypot::telnet::server_greeting());
    bool prompted = false;
    const auto prompt_once = [&] {
      if (!prompted) {
        prompted = true;
        out += honeypot::telnet::server_login_options();
        out += "\r\n" + settings_.banner + "\r\n\r\n" + login_prompt();
      }
    };
    std::string data;
    std::vector<std::string> lines;
    while (reason == nullptr) {
      if (!out.empty()) {
        if (!co_await honeypot::write_all(socket, asio::buffer(out), settings_.limits.idle_timeout)) {
          reason = "closed by client";
          break;
        }
        out.clear();
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        reason = "session timeout";
        break;
      }
      const Clock::duration wait = prompted ? Clock::duration(settings_.limits.idle_timeout) : kNegotiationWait;
      if (!co_await honeypot::wait_readable(socket, std::min<Clock::duration>(wait, deadline - now))) {
        if (!prompted) {
          prompt_once();
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
        reason = "closed by client";
        break;
      }
      bytes_in += n;
      if (bytes_in > settings_.limits.max_bytes) {
        emit_anomaly(peer, "byte cap", bytes_in);
        reason = "byte cap";
        break;
      }
      data.clear();
      decoder.feed(std::string_view(chunk.data(), n), data, out);
      prompt_once();

      // Line by line: the stage (and so the echo) may change at each line end.
      std::string_view rest = data;
      while (!rest.empty() && reason == nullptr) {
        const auto end = rest.find_first_of("\r\n");
        const auto piece = rest.substr(0, end == std::string_view::npos ? rest.size() : end + 1);
        rest.remove_prefix(piece.size());
        lines.clear();
        reader.feed(piece, lines, stage != Stage::password && !decoder.client_echoes(), out);
        if (reader.cut_lines() > 0 && !reported_cut) {
          reported_cut = true;
          emit_anomaly(peer, "line too long", bytes_in);
        }
        for (auto& line : lines) {
          if (stage == Stage::username) {
            if (line.empty()) {
              out += login_prompt();
              continue;
            }
            username = std::move(line);
            stage = Stage::password;
            out += "Password: ";
          } else if (stage == Stage::password) {
            out += "\r\n";
            ++attempts;
            const bool accepted = policy_->attempt(source, username, line);
            Alert alert;
            alert.set("username", username)
                .set("password", line)
                .set("outcome", accepted ? "success" : "failure")
                .set("attempt", attempts);
            emit("telnet.login", peer, std::move(alert));
            if (accepted) {
              shell.emplace(honeypot::ShellIdentity{username, settings_.hostname, seed_});
              out += honeypot::to_crlf(shell->motd()) + shell->prompt();
              stage = Stage::shell;
            } else if (attempts >= settings_.max_attempts) {
              out += "\r\nLogin incorrect\r\n";
              reason = "too many login attempts";
              break;
            } else {
              out += "\r\nLogin incorrect\r\n" + login_prompt();
              stage = Stage::username;
            }
          } else {
            if (line.find_first_not_of(" \t") != std::string::npos) {
              ++commands;
              Alert alert;
              alert.set("cmd", line).set("cwd", shell->cwd()).set("username", username);
              emit("telnet.command", peer, std::move(alert));
            }
            auto result = shell->run(line);
            for (auto& url : result.downloads) {
              Alert alert;
              alert.set("url", std::move(url)).set("cmd", line).set("username", username);
              emit("telnet.download", peer, std::move(alert));
            }
            out += honeypot::to_crlf(result.output);
            if (result.exit) {
              out += "logout\r\n";
              reason = "logout";
              break;
            }
            out += shell->prompt();
          }
        }
      }
    }
    if (!out.empty() &&
        (std::string_view(reason) == "logout" || std::string_view(reason) == "too many login attempts")) {
      co_await honeypot::write_all(socket, asio::buffer(out), std::chrono::seconds(1));
    }
    socket.close(ec);
    Alert alert;
    alert.set("reason", reason)
        .set("bytes_in", static_cast<std::int64_t>(bytes_in))
        .set("login_attempts", attempts)
        .set("commands", commands)
        .set("terminal_type", decoder.terminal_type())
        .set("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    emit("telnet.disconnect", peer, std::move(alert));
  }

  Settings settings_;
  std::uint64_t seed_ = 0;
  std::optional<honeypot::LoginPolicy> policy_;
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::TelnetService, "telnet")
