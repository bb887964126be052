// See query_support.hpp.
#include "store/query_support.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace honeycomb::store::query_support {

bool ip_to_bin(std::string_view text, Ip16& out) {
  if (text.empty() || text.size() > 64) {
    return false;
  }
  std::string s(text);
  if (auto pct = s.find('%'); pct != std::string::npos) {
    s.resize(pct);  // zone id
  }
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.fill(0);
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return true;
  }
  return false;
}

/// An IP or CIDR as an inclusive [lo, hi] range of 16-byte addresses.
bool parse_cidr(std::string_view text, Ip16& lo, Ip16& hi) {
  const auto slash = text.find('/');
  const auto addr = text.substr(0, slash);
  Ip16 a{};
  if (!ip_to_bin(addr, a)) {
    return false;
  }
  const bool v4 = addr.find(':') == std::string_view::npos;
  int prefix = 128;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    int n = -1;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || n < 0 || n > (v4 ? 32 : 128)) {
      return false;
    }
    prefix = v4 ? 96 + n : n;
  }
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(prefix - i * 8, 0, 8);
    const auto mask = static_cast<unsigned char>(bits == 0 ? 0 : (0xff << (8 - bits)) & 0xff);
    lo[i] = a[i] & mask;
    hi[i] = static_cast<unsigned char>(a[i] | static_cast<unsigned char>(~mask));
  }
  return true;
}

std::string make_cursor(std::int64_t event_us, std::int64_t id) {
  return "c1." + std::to_string(event_us) + "." + std::to_string(id);
}

bool parse_cursor(std::string_view c, std::int64_t& event_us, std::int64_t& id) {
  if (c.substr(0, 3) != "c1.") {
    return false;
  }
  c.remove_prefix(3);
  const auto dot = c.find('.');
  if (dot == std::string_view::npos) {
    return false;
  }
  const auto a = c.substr(0, dot);
  const auto b = c.substr(dot + 1);
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), event_us);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), id);
  return !a.empty() && !b.empty() && r1.ec == std::errc{} && r1.ptr == a.data() + a.size() && r2.ec == std::errc{} &&
         r2.ptr == b.data() + b.size();
}

std::string like_pattern(std::string_view text) {
  std::string p = "%";
  for (const char c : text) {
    if (c == '%' || c == '_' || c == '\\') {
      p.push_back('\\');
    }
    p.push_back(c);
  }
  p.push_back('%');
  return p;
}

TextMatcher::TextMatcher(std::string_view needle) : needle_(needle) {
  for (auto& c : needle_) {
    c = lower(c);
  }
}

bool TextMatcher::matches(std::string_view haystack) const {
  if (needle_.empty()) {
    return true;
  }
  if (haystack.size() < needle_.size()) {
    return false;
  }
  const char first_lower = needle_[0];
  const char first_upper = upper(first_lower);
  const std::size_t last_start = haystack.size() - needle_.size();
  for (std::size_t i = 0; i <= last_start; ++i) {
    const char c = haystack[i];
    if ((c == first_lower || c == first_upper) && rest_matches(haystack.data() + i)) {
      return true;
    }
  }
  return false;
}

bool TextMatcher::rest_matches(const char* p) const {
  for (std::size_t j = 1; j < needle_.size(); ++j) {
    if (lower(p[j]) != needle_[j]) {
      return false;
    }
  }
  return true;
}

}  // namespace honeycomb::store::query_support
