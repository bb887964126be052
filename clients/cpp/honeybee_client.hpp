// honeybee_client.hpp: send honeypot events to a HoneyBee node's event port.
//
// Header-only, C++17, POSIX sockets, no dependencies. Copy it next to your
// honeypot and:
//
//   #include "honeybee_client.hpp"
//   honeybee::send_event("login", {{"username", user}, {"password", pass},
//                                  {"src_port", 51234}, {"success", false}});
//
// Each call opens a connection to 127.0.0.1:$HONEYBEE_EVENT_PORT (default
// 9100), writes one JSON line and closes it:
//
//   {"pot_id":"…","pot_type":"…","event_type":"login",
//    "timestamp":"2024-01-15T10:30:00.123456Z","data":{"username":"root",…}}
//
// pot_id and pot_type come from HONEYBEE_POT_ID and HONEYBEE_HONEYPOT_TYPE,
// read at every call (each omitted when unset: the node then attributes the
// event to the pot it started).
//
// Like every HoneyBee client it "fails silently": send_event never throws,
// never raises SIGPIPE, waits on the network at most the timeout (500 ms by
// default) and returns true when the line was written, false otherwise.
// Strings may hold anything an attacker sent: quotes, backslashes and control
// characters are escaped, invalid UTF-8 becomes U+FFFD.
#ifndef HONEYBEE_CLIENT_HPP
#define HONEYBEE_CLIENT_HPP

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <vector>

namespace honeybee {

/// One field value: text, a number, a boolean or null.
class Value {
 public:
  enum class Kind { null, boolean, signed_integer, unsigned_integer, floating, text };

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(const char* text) : kind_(text ? Kind::text : Kind::null), text_(text ? text : "") {}
  Value(std::string text) : kind_(Kind::text), text_(std::move(text)) {}
  Value(std::string_view text) : kind_(Kind::text), text_(text) {}
  Value(char character) : kind_(Kind::text), text_(1, character) {}
  Value(bool flag) noexcept : kind_(Kind::boolean), boolean_(flag) {}
  template <class T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>, int> = 0>
  Value(T number) noexcept {
    if constexpr (std::is_signed_v<T>) {
      kind_ = Kind::signed_integer;
      signed_ = static_cast<long long>(number);
    } else {
      kind_ = Kind::unsigned_integer;
      unsigned_ = static_cast<unsigned long long>(number);
    }
  }
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Value(T number) noexcept : kind_(Kind::floating), floating_(static_cast<double>(number)) {}

  Kind kind() const noexcept { return kind_; }
  bool boolean() const noexcept { return boolean_; }
  long long signed_integer() const noexcept { return signed_; }
  unsigned long long unsigned_integer() const noexcept { return unsigned_; }
  double floating() const noexcept { return floating_; }
  const std::string& text() const noexcept { return text_; }

 private:
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  long long signed_ = 0;
  unsigned long long unsigned_ = 0;
  double floating_ = 0;
  std::string text_;
};

/// A field of the event's "data" object.
using Field = std::pair<std::string, Value>;
using Fields = std::vector<Field>;

/// Where and how long: defaults are the node's environment and 500 ms.
struct Options {
  std::string host = "127.0.0.1";  ///< numeric IPv4 or IPv6 address (no resolver call)
  int port = 0;                    ///< 0: HONEYBEE_EVENT_PORT, else 9100
  int timeout_ms = 500;            ///< connect and write together
};

namespace detail {

inline void append_hex4(std::string& out, unsigned value) {
  static const char digits[] = "0123456789abcdef";
  out += "\\u";
  out += digits[(value >> 12) & 0xF];
  out += digits[(value >> 8) & 0xF];
  out += digits[(value >> 4) & 0xF];
  out += digits[value & 0xF];
}

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid; in
/// that case `bad` is the length of its maximal invalid prefix (at least 1),
/// which is replaced by one U+FFFD (the WHATWG / Unicode-recommended way).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& bad) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t need;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0)
      low = 0xA0;  // no overlongs
    if (lead == 0xED)
      high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0)
      low = 0x90;  // no overlongs
    if (lead == 0xF4)
      high = 0x8F;  // nothing above U+10FFFF
  } else {
    bad = 1;  // continuation byte, C0/C1 or F5..FF
    return 0;
  }
  std::size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= s.size())
      break;
    const unsigned char c = byte(i + k);
    const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
    if (c < lo || c > hi)
      break;
  }
  if (k == need)
    return need;
  bad = k;
  return 0;
}

}  // namespace detail

/// Appends `text` as a JSON string (with quotes): `"` `\` and control
/// characters escaped, invalid UTF-8 replaced by U+FFFD, so the result is
/// valid UTF-8 JSON on one line whatever the input.
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            detail::append_hex4(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const std::size_t length = detail::utf8_sequence(text, i, bad);
    if (length != 0) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += bad;
    }
  }
  out += '"';
}

/// `text` as a JSON string literal (see append_json_string).
inline std::string json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_string(out, text);
  return out;
}

/// Appends a value as JSON. Non-finite doubles, which JSON cannot express,
/// become the strings "nan", "inf" and "-inf".
inline void append_json_value(std::string& out, const Value& value) {
  char buffer[64];
  switch (value.kind()) {
    case Value::Kind::null:
      out += "null";
      return;
    case Value::Kind::boolean:
      out += value.boolean() ? "true" : "false";
      return;
    case Value::Kind::signed_integer: {
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, value.signed_integer());
      out.append(buffer, r.ptr);
      return;
    }
    case Value::Kind::unsigned_integer: {
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, value.unsigned_integer());
      out.append(buffer, r.ptr);
      return;
    }
    case Value::Kind::floating: {
      const double d = value.floating();
      if (std::isnan(d)) {
        out += "\"nan\"";
      } else if (std::isinf(d)) {
        out += d > 0 ? "\"inf\"" : "\"-inf\"";
      } else {
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
        const auto r = std::to_chars(buffer, buffer + sizeof buffer, d);  // shortest, locale-free
        out.append(buffer, r.ptr);
#else
        const int n = std::snprintf(buffer, sizeof buffer, "%.17g", d);
        for (int k = 0; k < n && k < static_cast<int>(sizeof buffer); ++k) {
          out += buffer[k] == ',' ? '.' : buffer[k];  // a locale's decimal comma is not JSON
        }
#endif
      }
      return;
    }
    case Value::Kind::text:
      append_json_string(out, value.text());
      return;
  }
}

/// The current time as ISO 8601 UTC with microseconds and "Z".
inline std::string utc_timestamp() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  std::tm parts{};
  ::gmtime_r(&now.tv_sec, &parts);
  char buffer[40];
  const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", parts.tm_year + 1900,
                              parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                              static_cast<long>(now.tv_nsec / 1000));
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

/// An environment variable, or "" when unset.
inline std::string env_string(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

/// The event port: HONEYBEE_EVENT_PORT when it is a valid port, else 9100.
inline int event_port() {
  const std::string raw = env_string("HONEYBEE_EVENT_PORT");
  int port = 0;
  const auto r = std::from_chars(raw.data(), raw.data() + raw.size(), port);
  if (raw.empty() || r.ec != std::errc() || r.ptr != raw.data() + raw.size() || port <= 0 || port > 65535) {
    return 9100;
  }
  return port;
}

/// The complete wire line (JSON and "\n") for an event, with pot_id and
/// pot_type from the environment (each omitted when unset).
inline std::string build_event_line(std::string_view event_type, const Fields& fields) {
  std::string line;
  line.reserve(160 + 32 * fields.size());
  line += '{';
  const std::string pot_id = env_string("HONEYBEE_POT_ID");
  const std::string pot_type = env_string("HONEYBEE_HONEYPOT_TYPE");
  if (!pot_id.empty()) {
    line += "\"pot_id\":";
    append_json_string(line, pot_id);
    line += ',';
  }
  if (!pot_type.empty()) {
    line += "\"pot_type\":";
    append_json_string(line, pot_type);
    line += ',';
  }
  line += "\"event_type\":";
  append_json_string(line, event_type);
  line += ",\"timestamp\":\"";
  line += utc_timestamp();
  line += "\",\"data\":{";
  bool first = true;
  for (const auto& [key, value] : fields) {
    if (!first)
      line += ',';
    first = false;
    append_json_string(line, key);
    line += ':';
    append_json_value(line, value);
  }
  line += "}}\n";
  return line;
}

namespace detail {

using Clock = std::chrono::steady_clock;

inline int remaining_ms(Clock::time_point deadline) noexcept {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left > 1000000 ? 1000000 : left);
}

/// Waits for `events` on `fd` until the deadline; false on timeout or error.
inline bool wait_for(int fd, short events, Clock::time_point deadline) noexcept {
  for (;;) {
    const int left = remaining_ms(deadline);
    if (left <= 0)
      return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left);
    if (n > 0)
      return (p.revents & (POLLERR | POLLNVAL)) == 0 || (p.revents & events) != 0;
    if (n == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

/// Closes the fd on scope exit (the only resource send_line owns).
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0)
      ::close(fd);
  }
};

}  // namespace detail

/// Writes one already-built line to the event port on a fresh connection.
/// Non-blocking connect and writes, bounded by options.timeout_ms in total;
/// MSG_NOSIGNAL (or SO_NOSIGPIPE) so a closed peer cannot kill the process.
inline bool send_line(std::string_view line, const Options& options = {}) noexcept {
  try {
    const auto deadline =
        detail::Clock::now() + std::chrono::milliseconds(options.timeout_ms > 0 ? options.timeout_ms : 500);
    const int port = options.port > 0 && options.port <= 65535 ? options.port : event_port();

    sockaddr_storage address{};
    socklen_t address_length = 0;
    int family = AF_INET;
    {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      if (::inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        address_length = sizeof(sockaddr_in);
      } else if (::inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        address_length = sizeof(sockaddr_in6);
      } else {
        return false;
      }
    }

    detail::FdGuard socket_fd{::socket(family, SOCK_STREAM, 0)};
    if (socket_fd.fd < 0)
      return false;
    const int fd = socket_fd.fd;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // do not leak into processes the pot spawns
    const int flags = ::fcntl(fd, F_GETFL, 0);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
      return false;
#if defined(SO_NOSIGPIPE)
    {
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif

    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), address_length) != 0) {
      if (errno != EINPROGRESS && errno != EINTR)
        return false;
      if (!detail::wait_for(fd, POLLOUT, deadline))
        return false;
      int error = 0;
      socklen_t error_length = sizeof error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) != 0 || error != 0)
        return false;
    }

#if defined(MSG_NOSIGNAL)
    constexpr int send_flags = MSG_NOSIGNAL;
#else
    constexpr int send_flags = 0;
#endif
    std::size_t offset = 0;
    while (offset < line.size()) {
      const ssize_t n = ::send(fd, line.data() + offset, line.size() - offset, send_flags);
      if (n > 0) {
        offset += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!detail::wait_for(fd, POLLOUT, deadline))
          return false;
        continue;
      }
      return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

/// Sends one event (see the top of this file). True when the line was
/// written; false when nothing listens, on timeout, or on any error.
inline bool send_event(std::string_view event_type, const Fields& fields = {}, const Options& options = {}) noexcept {
  try {
    const std::string line = build_event_line(event_type, fields);
    return send_line(line, options);
  } catch (...) {
    return false;
  }
}

}  // namespace honeybee

#endif  // HONEYBEE_CLIENT_HPP
