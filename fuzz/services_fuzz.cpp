// The built-in services' protocol handlers on one hostile connection's
// bytes, read in pieces as a socket delivers them. The first byte picks the
// service (and the read size); the rest is what the attacker sends:
//   0 ftp:         control lines (telnet::LineReader, the service's line
//                  limit), each cut into verb and argument (ftp::parse_command),
//                  logins decided by a LoginPolicy, the working folder and
//                  every path argument resolved in the fake tree.
//   1 http:        pipelined requests through Beast's request_parser with the
//                  service's limits and buffer, each answered by WebSite and
//                  its response built as the service builds it; the response
//                  must parse back as one response with the same status (no
//                  header injection through Location or Set-Cookie).
//   2 simple_http: the same parser and limits; the request line it records.
//   3 banner:      the first bytes it records, as hex and printable text.
// (telnet's decoder and line reader and the fake shell are in honeypot_fuzz,
// ssh's hello in ssh_hello_fuzz, WebSite's forms and XML-RPC in web_site_fuzz.)
// Everything recorded must render as valid JSON; nothing may crash, leak or
// grow without bound.
#include "common/json_text.hpp"
#include "honeypot/bytes.hpp"
#include "honeypot/connection_gate.hpp"
#include "honeypot/login_policy.hpp"
#include "honeypot/tcp_server.hpp"
#include "honeypot/telnet.hpp"
#include "honeypot/web_site.hpp"
#include "memory_stream.hpp"
#include "services/ftp/ftp_protocol.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;
using namespace honeycomb;  // NOLINT(google-build-using-namespace)

constexpr std::size_t kMaxRequests = 16;  ///< per input (the services allow 100 and more)

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

/// A text a service puts in an alert: its JSON rendering must parse.
void check_recorded(std::string_view text) {
  std::string out;
  json_text::append_string(out, text);
  boost::system::error_code ec;
  const auto v = boost::json::parse(out, ec);
  require(!ec && v.is_string());
}

honeypot::LoginPolicy& policy() {
  static auto p = [] {
    std::string error;
    auto made = honeypot::LoginPolicy::make(3, "root:toor,admin:*", error);
    require(made.has_value());
    return std::move(*made);
  }();
  return p;
}

honeypot::ConnectionGate::SourceKey source(std::uint8_t n) {
  return honeypot::source_key(boost::asio::ip::make_address("192.0.2." + std::to_string(n)));
}

// ---- ftp (services/ftp) ----

void check_path(const std::string& path) {
  require(!path.empty() && path.front() == '/');
  require(path == "/" || path.back() != '/');
  require(path.find("//") == std::string::npos);
  require(path.find("/./") == std::string::npos && path.find("/../") == std::string::npos);
  require(!path.ends_with("/.") && !path.ends_with("/.."));
  require(services::ftp::resolve("/", path) == path);  // resolved once is resolved
}

void ftp(std::string_view input, std::size_t chunk, std::uint8_t peer) {
  constexpr std::size_t kMaxLine = 1024;  // the service's default max_line
  namespace ftp = services::ftp;
  const ftp::FakeTree tree{"Welcome to the fuzz FTP archive.\nUploads go to /upload.\n"};
  honeypot::telnet::LineReader reader(kMaxLine);
  std::string ignored_echo;
  std::vector<std::string> lines;
  std::string cwd = "/";
  std::string user;
  bool have_user = false;
  bool logged_in = false;
  while (!input.empty()) {
    const auto piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    lines.clear();
    reader.feed(piece, lines, false, ignored_echo);
    require(ignored_echo.empty());
    require(reader.pending() <= kMaxLine);
    for (const auto& line : lines) {
      require(line.size() <= kMaxLine);
      if (line.empty()) {
        continue;
      }
      check_recorded(line);  // ftp.command's cmd
      const auto command = ftp::parse_command(line);
      require(command.verb.size() + command.arg.size() <= line.size());
      require(command.verb.find(' ') == std::string::npos);
      require(ftp::upper(command.verb) == command.verb);
      const auto& verb = command.verb;
      const auto& arg = command.arg;
      if (verb == "USER") {
        user = arg;
        have_user = true;
        logged_in = false;
      } else if (verb == "PASS" && have_user) {
        logged_in = policy().attempt(source(peer), user, arg);
        have_user = false;
        check_recorded(user);
        check_recorded(arg);
      } else if (verb == "CWD" || verb == "XCWD" || verb == "CDUP" || verb == "XCUP") {
        const auto target = ftp::resolve(cwd, verb == "CDUP" || verb == "XCUP" ? ".." : arg);
        check_path(target);
        if (logged_in && ftp::FakeTree::is_dir(target)) {
          cwd = target;
        }
      } else if (verb == "LIST" || verb == "NLST" || verb == "MLSD") {
        const auto dir = !arg.empty() && arg.front() != '-' ? ftp::resolve(cwd, arg) : cwd;
        check_path(dir);
        const auto listing = tree.listing(dir);
        require(dir == "/" || listing.empty());
      } else if (verb == "RETR" || verb == "SIZE" || verb == "MDTM" || verb == "MKD" || verb == "XMKD") {
        const auto path = ftp::resolve(cwd, arg);
        check_path(path);
        check_recorded(path);  // ftp.download's filename
        (void)tree.file(path);
      } else if (verb == "REST") {
        check_recorded("350 Restart position accepted (" + arg.substr(0, 20) + ").\r\n");
      } else if (verb == "TYPE" || verb == "OPTS") {
        (void)ftp::upper(arg);
      }
      check_path(cwd);
    }
  }
}

// ---- http and simple_http (services/http, services/simple_http) ----

constexpr std::size_t kHeaderLimit = 8 * 1024;   ///< both services
constexpr std::uint64_t kBodyLimit = 64 * 1024;  ///< both services' default

/// The response the http service builds for `answer`, written and parsed
/// back: one response, the same status and headers.
void check_response(const http::request<http::string_body>& request, honeypot::WebResponse answer,
                    const std::string& server) {
  http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
  response.set(http::field::server, server);
  response.set(http::field::date, "Tue, 14 Nov 2023 22:13:20 GMT");
  response.set(http::field::content_type, answer.content_type);
  if (!answer.location.empty()) {
    response.set(http::field::location, answer.location);
  }
  if (!answer.set_cookie.empty()) {
    response.set(http::field::set_cookie, answer.set_cookie);
  }
  response.keep_alive(request.keep_alive());
  response.body() = std::move(answer.body);
  response.prepare_payload();
  std::ostringstream written;
  written << response;
  const std::string text = written.str();

  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(1U << 20);
  boost::system::error_code ec;
  const auto used = parser.put(boost::asio::buffer(text), ec);
  require(!ec && parser.is_header_done());
  if (!parser.is_done()) {
    parser.put_eof(ec);
  }
  require(!ec && parser.is_done());
  require(used == text.size());
  const auto& back = parser.get();
  require(back.result_int() == static_cast<unsigned>(answer.status));
  require(back[http::field::location] == response[http::field::location]);
  require(back[http::field::set_cookie] == response[http::field::set_cookie]);
  require(std::distance(back.begin(), back.end()) == std::distance(response.begin(), response.end()));
}

void web(std::string_view input, std::size_t chunk, bool simple) {
  static const auto site = [] {
    std::string error;
    auto made = honeypot::WebSite::make("wordpress,admin", "nginx/1.22.1", "Fuzz", error);
    require(made.has_value());
    return std::move(*made);
  }();
  fuzz::MemoryStream stream(input, chunk);
  boost::beast::flat_buffer buffer(kHeaderLimit);  // as the services: at most this much read ahead
  for (std::size_t served = 0; served < kMaxRequests; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) {
      return;  // answered 400/413/431 and closed, or the connection ended
    }
    const auto& request = parser.get();
    require(request.body().size() <= kBodyLimit);
    if (simple) {
      std::string request_line;
      request_line.append(request.method_string());
      request_line.push_back(' ');
      request_line.append(request.target());
      request_line.append(request.version() == 10 ? " HTTP/1.0" : " HTTP/1.1");
      check_recorded(request_line);
    } else {
      const honeypot::WebRequest web{request.method_string(), request.target(), request.body(),
                                     request[http::field::content_type], request[http::field::cookie]};
      std::vector<honeypot::WebLogin> logins;
      auto answer = site.answer(
          web,
          [](std::string_view user, std::string_view password) { return policy().attempt(source(1), user, password); },
          logins);
      require(logins.size() <= honeypot::WebSite::kMaxXmlRpcLogins);
      // What http.request and http.login record.
      check_recorded(honeypot::to_printable(request.method_string()));
      check_recorded(honeypot::to_printable(request.target()));
      check_recorded(honeypot::to_printable(request[http::field::user_agent]));
      check_recorded(honeypot::to_printable(std::string_view(request.body()).substr(0, 1024)));
      for (const auto& login : logins) {
        check_recorded(login.username);
        check_recorded(login.password);
      }
      check_response(request, std::move(answer), site.server());
    }
    if (!request.keep_alive()) {
      return;
    }
  }
}

// ---- banner (services/banner) ----

void banner(std::string_view input, std::size_t chunk) {
  constexpr std::size_t kReadBytes = 1024;  // the service's default read_bytes
  std::string first;
  while (!input.empty() && first.size() < kReadBytes) {
    const auto piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    first.append(piece.data(), std::min(piece.size(), kReadBytes - first.size()));
  }
  require(first.size() <= kReadBytes);
  const auto hex = honeypot::to_hex(first);
  require(hex.size() == first.size() * 2);
  check_recorded(hex);
  check_recorded(honeypot::to_printable(first));
}

}  // namespace

namespace honeycomb::honeypot {
// LoginPolicy::from_args reads its parameters with int_arg, which lives in
// tcp_server.cpp with the accept loops; the fuzzer builds its policy with
// LoginPolicy::make and never reads parameters.
std::int64_t int_arg(const ServiceArgs& /*args*/, const char* /*name*/, std::int64_t /*fallback*/, std::int64_t /*min*/,
                     std::int64_t /*max*/) {
  std::abort();
}
}  // namespace honeycomb::honeypot

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT
  const std::size_t chunk = 1 + (data[0] >> 2) * 67 % 4096;
  switch (data[0] % 4) {
    case 0:
      ftp(input, chunk, data[0]);
      break;
    case 1:
      web(input, chunk, false);
      break;
    case 2:
      web(input, chunk, true);
      break;
    default:
      banner(input, chunk);
      break;
  }
  return 0;
}
