#include "honeypot/bytes.hpp"

#include <algorithm>
#include <charconv>

namespace honeycomb::honeypot {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

std::string to_printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (b >= 0x20 && b < 0x7f) {
          out.push_back(c);
        } else {
          out += "\\x";
          out.push_back(kHexDigits[b >> 4]);
          out.push_back(kHexDigits[b & 0x0f]);
        }
    }
  }
  return out;
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (const char c : text) {
    if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view text, std::string& error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 >= text.size()) {
      error = R"(ends with a lone '\' (write '\\' for a backslash))";
      return std::nullopt;
    }
    const char e = text[++i];
    switch (e) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back('\0');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        const int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          error = "'\\x' at offset " + std::to_string(i - 1) + " needs two hex digits";
          return std::nullopt;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        error = std::string("unknown escape '\\") + e + "' at offset " + std::to_string(i - 1) +
                R"( (known: \r \n \t \0 \\ \xNN))";
        return std::nullopt;
    }
  }
  return out;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    if (const auto item = trim(text.substr(0, comma)); !item.empty()) {
      items.push_back(item);
    }
    text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
  }
  return items;
}

std::optional<std::vector<std::uint16_t>> parse_port_list(std::string_view text, std::size_t max_ports,
                                                          std::string& error) {
  std::vector<std::uint16_t> ports;
  if (trim(text).empty()) {
    error = "no port given (e.g. 21,23,8000-8003)";
    return std::nullopt;
  }
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    const auto dash = item.find('-');
    const auto first = parse_port(trim(item.substr(0, dash)));
    const auto last = dash == std::string_view::npos ? first : parse_port(trim(item.substr(dash + 1)));
    if (!first || !last || *last < *first) {
      error = "'" + std::string(item) + "' is not a port (1-65535) or a range like 8000-8003";
      return std::nullopt;
    }
    for (unsigned p = *first; p <= *last; ++p) {
      if (std::find(ports.begin(), ports.end(), p) != ports.end()) {
        error = "port " + std::to_string(p) + " is listed twice";
        return std::nullopt;
      }
      if (ports.size() == max_ports) {
        error = "more than " + std::to_string(max_ports) + " ports";
        return std::nullopt;
      }
      ports.push_back(static_cast<std::uint16_t>(p));
    }
    if (comma == std::string_view::npos) {
      return ports;
    }
    text.remove_prefix(comma + 1);
  }
}

}  // namespace honeycomb::honeypot
