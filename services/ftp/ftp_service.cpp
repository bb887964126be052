// ftp: a vsftpd look-alike. Records every login attempt, lets some in (see
// LoginPolicy), answers the usual commands over a small fake tree, serves
// passive data connections (one per transfer, only to the client's own
// address), and keeps every upload in the quarantine (SHA-256 in the event,
// size-capped, mode 0400, never run). Active mode (PORT/EPRT) is recorded
// but never connects out: a honeypot must not be a bounce for attackers.
#include "ftp_protocol.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/deadline_io.hpp"
#include "honeypot/install.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/quarantine.hpp"
#include "honeypot/tcp_server.hpp"
#include "honeypot/telnet.hpp"

#include <honeycomb/service.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
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
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t kReadChunk = 16384;
static_assert(kReadChunk <= honeypot::read_buffer_size);

struct Settings {
  std::string address;
  std::uint16_t port = 21;
  std::string banner;
  bool anonymous = false;
  std::int64_t max_attempts = 3;
  std::string quarantine;
  std::uint64_t quarantine_max = std::uint64_t{256} << 20;
  std::uint64_t max_upload = std::uint64_t{10} << 20;
  std::size_t max_line = 1024;
  std::chrono::seconds data_timeout{15};
  honeypot::SessionLimits limits;
};

using ftp::FakeTree;
using ftp::resolve;
using ftp::upper;

class FtpService final : public honeypot::TcpHoneypot {
 public:
  void on_server_start() override {
    const auto& args = service_args();
    const auto seed = honeypot::install_seed(service_name());
    settings_.address = args.get("address", "0.0.0.0");
    settings_.port = static_cast<std::uint16_t>(honeypot::int_arg(args, "port", 21, 0, 65535));
    settings_.banner = args.get("banner", "");
    if (settings_.banner.empty()) {
      settings_.banner = honeypot::default_banner(21, seed);
      settings_.banner.resize(settings_.banner.size() - 2);  // without its CR LF
    }
    settings_.anonymous = args.get("anonymous", false);
    settings_.max_attempts = honeypot::int_arg(args, "max_attempts", 3, 1, 100);
    settings_.quarantine = args.get("quarantine", "ftp-quarantine");
    settings_.quarantine_max = static_cast<std::uint64_t>(honeypot::int_arg(args, "quarantine_max_mb", 256, 1, 1 << 20))
                               << 20;
    settings_.max_upload = static_cast<std::uint64_t>(honeypot::int_arg(args, "max_upload_mb", 10, 1, 1 << 14)) << 20;
    settings_.max_line = static_cast<std::size_t>(honeypot::int_arg(args, "max_line", 1024, 64, 65536));
    settings_.data_timeout = std::chrono::seconds(honeypot::int_arg(args, "data_timeout", 15, 1, 3600));
    settings_.limits = honeypot::read_session_limits(args, {.idle_timeout = std::chrono::seconds(120),
                                                            .session_timeout = std::chrono::seconds(900),
                                                            .gate = {.max_connections = 1000, .max_per_source = 16}});
    policy_ = honeypot::LoginPolicy::from_args(args);
    tree_.readme = "Welcome to the " + honeypot::fake_hostname(seed) + " FTP archive.\nUploads go to /upload.\n";
    quarantine_ = std::make_unique<honeypot::Quarantine>(settings_.quarantine, settings_.quarantine_max);
    if (const auto account = run_as()) {
      quarantine_->hand_to(account->uid, account->gid);  // it writes there once root is dropped
    }
    auto handler = [this](tcp::socket socket, Peer peer, ConnectionGate::Ticket ticket) {
      return session(std::move(socket), std::move(peer), std::move(ticket));
    };
    serve_port(settings_.address, settings_.port, std::move(handler), settings_.limits.gate, "FTP");
  }

  std::optional<std::vector<std::string>> test() override {
    honeypot::converse_once(static_cast<std::uint16_t>(service_args().get<std::int64_t>("port", 21)),
                            "USER honeycomb-test\r\nPASS honeycomb-test\r\nQUIT\r\n");
    return std::vector<std::string>{"ftp.connect", "ftp.login", "ftp.disconnect"};
  }

 private:
  /// What one control connection knows.
  struct Conversation {
    Peer peer;
    std::string user;
    bool have_user = false;
    bool logged_in = false;
    std::int64_t attempts = 0;
    std::int64_t commands = 0;
    std::int64_t uploads = 0;
    std::string cwd = "/";
    std::optional<tcp::acceptor> passive;  ///< the data listener of the next transfer
    bool active_requested = false;         ///< PORT/EPRT: answered, never connected
    std::string rename_from;
    const char* reason = nullptr;  ///< set when the connection is over
  };

  /// Waits for the client's data connection on the PASV listener; only
  /// from the control connection's address.
  asio::awaitable<bool> data_connection(Conversation& c, tcp::socket& socket) {
    if (!c.passive) {
      co_return false;
    }
    asio::steady_timer timer(io(), settings_.data_timeout);
    const auto winner = co_await (c.passive->async_accept(socket, asio::as_tuple(asio::use_awaitable)) ||
                                  timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    const bool accepted = winner.index() == 0 && !std::get<0>(std::get<0>(winner));
    boost::system::error_code ec;
    c.passive->close(ec);
    c.passive.reset();
    if (!accepted) {
      co_return false;
    }
    const auto remote = socket.remote_endpoint(ec);
    if (ec || remote.address() != c.peer.src_address) {
      socket.close(ec);
      co_return false;
    }
    co_return true;
  }

  asio::awaitable<void> send_data(Conversation& c, tcp::socket& control, std::string_view opening,
                                  std::string_view payload, std::string& out) {
    if (c.active_requested && !c.passive) {
      c.active_requested = false;
      out += "425 Failed to establish connection.\r\n";
      co_return;
    }
    if (!c.passive) {
      out += "425 Use PORT or PASV first.\r\n";
      co_return;
    }
    out += opening;
    co_await honeypot::write_all(control, asio::buffer(out), settings_.limits.idle_timeout);
    out.clear();
    tcp::socket data(io());
    if (!co_await data_connection(c, data)) {
      out += "425 Failed to establish connection.\r\n";
      co_return;
    }
    const bool sent = co_await honeypot::write_all(data, asio::buffer(payload), settings_.data_timeout);
    boost::system::error_code ec;
    data.shutdown(tcp::socket::shutdown_send, ec);
    data.close(ec);
    out += sent ? "226 Transfer complete.\r\n" : "426 Failure writing network stream.\r\n";
  }

  asio::awaitable<void> receive_upload(Conversation& c, tcp::socket& control, const std::string& name,
                                       std::string& out) {
    if (!c.passive) {
      out += c.active_requested ? "425 Failed to establish connection.\r\n" : "425 Use PORT or PASV first.\r\n";
      c.active_requested = false;
      co_return;
    }
    out += "150 Ok to send data.\r\n";
    co_await honeypot::write_all(control, asio::buffer(out), settings_.limits.idle_timeout);
    out.clear();
    tcp::socket data(io());
    if (!co_await data_connection(c, data)) {
      out += "425 Failed to establish connection.\r\n";
      co_return;
    }
    boost::system::error_code ec;
    data.non_blocking(true, ec);
    auto upload = quarantine_->begin(c.peer.session);
    bool truncated = false;
    for (;;) {
      if (!co_await honeypot::wait_readable(data, settings_.data_timeout)) {
        break;
      }
      // The thread's buffer, fetched after the wait: the coroutine may resume
      // on another thread of the io_context. Used up before the next await.
      const std::span<char> chunk = honeypot::thread_read_buffer().first(kReadChunk);
      const std::size_t n = data.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
      if (ec == asio::error::would_block) {
        continue;
      }
      if (ec || n == 0) {
        break;
      }
      const auto room = settings_.max_upload - upload.size();
      upload.write(std::string_view(chunk.data(), std::min<std::uint64_t>(n, room)));
      if (n > room) {
        truncated = true;
        break;
      }
    }
    data.close(ec);
    const auto stored = quarantine_->finish(upload);
    ++c.uploads;
    Alert alert;
    alert.set("filename", resolve(c.cwd, name))
        .set("size", static_cast<std::int64_t>(stored.size))
        .set("sha256", stored.sha256)
        .set("stored", stored.path)
        .set("truncated", Value{truncated})
        .set("username", c.user);
    if (!stored.reason.empty()) {
      alert.set("not_stored", stored.reason);
    }
    emit("ftp.upload", c.peer, std::move(alert));
    if (truncated) {
      Alert anomaly;
      anomaly.set("reason", "upload too large").set("bytes_in", static_cast<std::int64_t>(stored.size));
      emit("ftp.anomaly", c.peer, std::move(anomaly));
      out += "552 Exceeded storage allocation.\r\n";
    } else {
      out += "226 Transfer complete.\r\n";
    }
  }

  /// Opens the passive listener of the next transfer on the control
  /// connection's local address; its port for the reply.
  std::optional<std::uint16_t> open_passive(Conversation& c, const tcp::socket& control) {
    boost::system::error_code ec;
    if (c.passive) {
      c.passive->close(ec);
    }
    const auto local = control.local_endpoint(ec);
    if (ec) {
      return std::nullopt;
    }
    c.passive.emplace(io());
    c.passive->open(local.protocol(), ec);
    if (!ec) {
      c.passive->bind(tcp::endpoint(local.address(), 0), ec);
    }
    if (!ec) {
      c.passive->listen(1, ec);
    }
    if (ec) {
      c.passive.reset();
      return std::nullopt;
    }
    c.active_requested = false;
    return c.passive->local_endpoint().port();
  }

  // One command line; replies appended to `out`.
  asio::awaitable<void> command(Conversation& c, tcp::socket& control, const std::string& line, std::string& out) {
    const ftp::CommandLine parsed = ftp::parse_command(line);
    const std::string& verb = parsed.verb;
    const std::string& arg = parsed.arg;
    if (verb != "PASS" && !line.empty()) {
      ++c.commands;
      Alert alert;
      alert.set("cmd", line).set("username", c.user).set("logged_in", Value{c.logged_in});
      emit("ftp.command", c.peer, std::move(alert));
    }
    if (verb == "USER") {
      c.user = arg;
      c.have_user = true;
      c.logged_in = false;
      out += "331 Please specify the password.\r\n";
      co_return;
    }
    if (verb == "PASS") {
      if (!c.have_user) {
        out += "503 Login with USER first.\r\n";
        co_return;
      }
      ++c.attempts;
      const auto lower_user = [&] {
        std::string u = c.user;
        std::transform(u.begin(), u.end(), u.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        return u;
      }();
      const bool anonymous = settings_.anonymous && (lower_user == "anonymous" || lower_user == "ftp");
      const bool accepted = anonymous || policy_->attempt(honeypot::source_key(c.peer.src_address), c.user, arg);
      Alert alert;
      alert.set("username", c.user)
          .set("password", arg)
          .set("outcome", accepted ? "success" : "failure")
          .set("attempt", c.attempts);
      emit("ftp.login", c.peer, std::move(alert));
      c.have_user = false;
      if (accepted) {
        c.logged_in = true;
        out += "230 Login successful.\r\n";
      } else {
        out += "530 Login incorrect.\r\n";
        if (c.attempts >= settings_.max_attempts) {
          c.reason = "too many login attempts";
        }
      }
      co_return;
    }
    if (verb == "QUIT") {
      out += "221 Goodbye.\r\n";
      c.reason = "quit";
      co_return;
    }
    if (verb == "FEAT") {
      out +=
          "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n";
      co_return;
    }
    if (verb == "NOOP") {
      out += "200 NOOP ok.\r\n";
      co_return;
    }
    if (!c.logged_in) {
      out += "530 Please login with USER and PASS.\r\n";
      co_return;
    }
    if (verb == "SYST") {
      out += "215 UNIX Type: L8\r\n";
    } else if (verb == "PWD" || verb == "XPWD") {
      out += "257 \"" + c.cwd + "\" is the current directory\r\n";
    } else if (verb == "CWD" || verb == "XCWD" || verb == "CDUP" || verb == "XCUP") {
      const auto target = resolve(c.cwd, verb == "CDUP" || verb == "XCUP" ? ".." : arg);
      if (FakeTree::is_dir(target)) {
        c.cwd = target;
        out += "250 Directory successfully changed.\r\n";
      } else {
        out += "550 Failed to change directory.\r\n";
      }
    } else if (verb == "TYPE") {
      out += upper(arg).rfind('A', 0) == 0 ? "200 Switching to ASCII mode.\r\n" : "200 Switching to Binary mode.\r\n";
    } else if (verb == "OPTS") {
      out += upper(arg) == "UTF8 ON" ? "200 Always in UTF8 mode.\r\n" : "501 Option not understood.\r\n";
    } else if (verb == "PASV") {
      const auto port = open_passive(c, control);
      boost::system::error_code ec;
      const auto local = control.local_endpoint(ec);
      if (!port || !local.address().is_v4()) {
        out += "425 Use EPSV for IPv6.\r\n";
      } else {
        auto ip = local.address().to_v4().to_string();
        std::replace(ip.begin(), ip.end(), '.', ',');
        out += "227 Entering Passive Mode (" + ip + "," + std::to_string(*port / 256) + "," +
               std::to_string(*port % 256) + ").\r\n";
      }
    } else if (verb == "EPSV") {
      const auto port = open_passive(c, control);
      out += port ? "229 Entering Extended Passive Mode (|||" + std::to_string(*port) + "|)\r\n"
                  : std::string("425 Could not open a data port.\r\n");
    } else if (verb == "PORT" || verb == "EPRT") {
      // Recorded (ftp.command) and answered as vsftpd does; never connected.
      boost::system::error_code ec;
      if (c.passive) {
        c.passive->close(ec);
        c.passive.reset();
      }
      c.active_requested = true;
      out += verb == "PORT" ? "200 PORT command successful. Consider using PASV.\r\n"
                            : "200 EPRT command successful. Consider using EPSV.\r\n";
    } else if (verb == "LIST" || verb == "NLST" || verb == "MLSD") {
      std::string dir = c.cwd;
      if (!arg.empty() && arg.front() != '-') {
        dir = resolve(c.cwd, arg);
      }
      std::string listing = tree_.listing(dir);
      if (verb == "NLST" && dir == "/") {
        listing = "pub\r\nREADME\r\nupload\r\n";
      }
      co_await send_data(c, control, "150 Here comes the directory listing.\r\n", listing, out);
    } else if (verb == "RETR") {
      const auto path = resolve(c.cwd, arg);
      Alert alert;
      alert.set("filename", path).set("username", c.user);
      emit("ftp.download", c.peer, std::move(alert));
      const auto* content = tree_.file(path);
      if (content == nullptr) {
        if (c.passive) {
          boost::system::error_code ec;
          c.passive->close(ec);
          c.passive.reset();
        }
        out += "550 Failed to open file.\r\n";
      } else {
        const std::string opening = "150 Opening BINARY mode data connection for " + arg + " (" +
                                    std::to_string(content->size()) + " bytes).\r\n";
        co_await send_data(c, control, opening, *content, out);
      }
    } else if (verb == "STOR" || verb == "APPE" || verb == "STOU") {
      // Named, not a temporary in the co_await: GCC 12 frees such
      // temporaries wrongly across the suspension.
      const std::string name = arg.empty() ? std::string("upload.bin") : arg;
      co_await receive_upload(c, control, name, out);
    } else if (verb == "SIZE") {
      const auto* content = tree_.file(resolve(c.cwd, arg));
      out += content != nullptr ? "213 " + std::to_string(content->size()) + "\r\n"
                                : std::string("550 Could not get file size.\r\n");
    } else if (verb == "MDTM") {
      out += tree_.file(resolve(c.cwd, arg)) != nullptr ? "213 20241114091200\r\n"
                                                        : "550 Could not get file modification time.\r\n";
    } else if (verb == "MKD" || verb == "XMKD") {
      out += "257 \"" + resolve(c.cwd, arg) + "\" created\r\n";
    } else if (verb == "DELE" || verb == "RMD" || verb == "XRMD") {
      out += verb == "DELE" ? "250 Delete operation successful.\r\n" : "250 Remove directory operation successful.\r\n";
    } else if (verb == "RNFR") {
      c.rename_from = arg;
      out += "350 Ready for RNTO.\r\n";
    } else if (verb == "RNTO") {
      out += c.rename_from.empty() ? "503 RNFR required first.\r\n" : "250 Rename successful.\r\n";
      c.rename_from.clear();
    } else if (verb == "REST") {
      out += "350 Restart position accepted (" + arg.substr(0, 20) + ").\r\n";
    } else if (verb == "ABOR") {
      out += "225 No transfer to ABOR.\r\n";
    } else if (verb == "STAT") {
      out += "211-FTP server status:\r\n     Connected to " + c.peer.src_ip + "\r\n     Logged in as " + c.user +
             "\r\n211 End of status\r\n";
    } else if (verb == "HELP") {
      out +=
          "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP "
          "LIST MDTM MKD\r\n MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR\r\n RNTO SITE "
          "SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD\r\n XPWD XRMD\r\n214 Help OK.\r\n";
    } else if (verb == "SITE") {
      out += "500 Unknown SITE command.\r\n";
    } else {
      out += "500 Unknown command.\r\n";
    }
  }

  asio::awaitable<void> session(tcp::socket socket, Peer peer,
                                [[maybe_unused]] ConnectionGate::Ticket ticket /* holds the slot till the end */) {
    emit("ftp.connect", peer, {});
    const auto started = Clock::now();
    const auto deadline = started + settings_.limits.session_timeout;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    Conversation c;
    c.peer = std::move(peer);
    honeypot::telnet::LineReader reader(settings_.max_line);
    std::uint64_t bytes_in = 0;
    bool reported_cut = false;
    std::string out = settings_.banner + "\r\n";
    std::string ignored_echo;
    std::vector<std::string> lines;
    while (c.reason == nullptr) {
      if (!out.empty()) {
        if (!co_await honeypot::write_all(socket, asio::buffer(out), settings_.limits.idle_timeout)) {
          c.reason = "closed by client";
          break;
        }
        out.clear();
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        c.reason = "session timeout";
        break;
      }
      if (!co_await honeypot::wait_readable(socket,
                                            std::min<Clock::duration>(settings_.limits.idle_timeout, deadline - now))) {
        c.reason = Clock::now() >= deadline ? "session timeout" : "idle timeout";
        out += "421 Timeout.\r\n";
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
        c.reason = "closed by client";
        break;
      }
      bytes_in += n;
      if (bytes_in > settings_.limits.max_bytes) {
        Alert alert;
        alert.set("reason", "byte cap").set("bytes_in", static_cast<std::int64_t>(bytes_in));
        emit("ftp.anomaly", c.peer, std::move(alert));
        c.reason = "byte cap";
        break;
      }
      lines.clear();
      reader.feed(std::string_view(chunk.data(), n), lines, false, ignored_echo);
      if (reader.cut_lines() > 0 && !reported_cut) {
        reported_cut = true;
        Alert alert;
        alert.set("reason", "line too long").set("bytes_in", static_cast<std::int64_t>(bytes_in));
        emit("ftp.anomaly", c.peer, std::move(alert));
      }
      for (const auto& line : lines) {
        if (line.empty()) {
          continue;
        }
        co_await command(c, socket, line, out);
        if (c.reason != nullptr) {
          break;
        }
      }
    }
    if (!out.empty() && c.reason != nullptr && std::string_view(c.reason) != "closed by client") {
      co_await honeypot::write_all(socket, asio::buffer(out), std::chrono::seconds(1));
    }
    if (c.passive) {
      c.passive->close(ec);
    }
    socket.close(ec);
    Alert alert;
    alert.set("reason", c.reason)
        .set("bytes_in", static_cast<std::int64_t>(bytes_in))
        .set("login_attempts", c.attempts)
        .set("commands", c.commands)
        .set("uploads", c.uploads)
        .set("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    emit("ftp.disconnect", c.peer, std::move(alert));
  }

  Settings settings_;
  FakeTree tree_;
  std::optional<honeypot::LoginPolicy> policy_;
  std::unique_ptr<honeypot::Quarantine> quarantine_;
};

}  // namespace
}  // namespace honeycomb::services

HONEYCOMB_SERVICE(honeycomb::services::FtpService, "ftp")
