#include "syslog_format.hpp"

#include "common/json_text.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <vector>

namespace honeycomb::integrations::syslog {
namespace {

// RFC 5424 section 6.2.1 / RFC 3164 facility names, by code.
constexpr std::array<std::string_view, 24> facility_names = {
    "kern",     "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",     "cron",   "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
    "local0",   "local1", "local2", "local3", "local4", "local5", "local6", "local7"};

// Names the host stamps itself; fields of the same name are not the alert's
// data (make_record() skips them in the JSON too).
bool is_stamp(std::string_view name) {
  return name == "id" || name == "timestamp" || name == "event_type" || name == "event_description" ||
         name == "status" || name == "service";
}

enum class Kind { text, integer, ip };

// Alert fields with a natural CEF key (see README.md for why each one).
struct CefKey {
  std::string_view field;
  std::string_view key;
  Kind kind;
  std::string_view ipv6_key;  // for Kind::ip: where an IPv6 address goes
};

constexpr std::array<CefKey, 13> cef_keys = {{
    {"originating_ip", "src", Kind::ip, "c6a2"},
    {"originating_port", "spt", Kind::integer, {}},
    {"originating_hostname", "shost", Kind::text, {}},
    {"originating_mac_address", "smac", Kind::text, {}},
    {"dest_ip", "dst", Kind::ip, "c6a3"},
    {"dest_port", "dpt", Kind::integer, {}},
    {"transport_protocol", "proto", Kind::text, {}},
    {"username", "suser", Kind::text, {}},
    {"request", "request", Kind::text, {}},
    {"file_accessed", "fname", Kind::text, {}},
    {"pid", "dpid", Kind::integer, {}},
    {"uid", "duid", Kind::text, {}},
    {"cmd", "cs1", Kind::text, {}},
}};

// Custom string slots for fields without a CEF key; cs1 is always `cmd`.
constexpr std::array<std::string_view, 5> custom_string_slots = {"cs2", "cs3", "cs4", "cs5", "cs6"};
constexpr std::array<std::string_view, 3> custom_number_slots = {"cn1", "cn2", "cn3"};

std::string value_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    return std::to_string(*i);
  }
  if (const auto* b = std::get_if<bool>(&v)) {
    return *b ? "true" : "false";
  }
  // Doubles: the JSON rendering is the shortest exact text.
  std::string out;
  json_text::append_value(out, v);
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The value as CEF integer text, or nullopt when it is not an integer (the
// field then goes to a custom string slot rather than breaking a typed key).
std::optional<std::string> integer_text(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    return std::to_string(*i);
  }
  if (const auto* s = std::get_if<std::string>(&v); s != nullptr && all_digits(*s)) {
    return *s;
  }
  return std::nullopt;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

const CefKey* find_cef_key(std::string_view field) {
  for (const auto& k : cef_keys) {
    if (k.field == field) {
      return &k;
    }
  }
  return nullptr;
}

class Extension {
 public:
  void add(std::string_view key, std::string_view value) {
    if (!text_.empty()) {
      text_.push_back(' ');
    }
    text_ += key;
    text_.push_back('=');
    text_ += escape_cef_value(value);
    used_.emplace_back(key);
  }
  [[nodiscard]] bool used(std::string_view key) const {
    return std::find(used_.begin(), used_.end(), key) != used_.end();
  }
  std::string& text() { return text_; }

 private:
  std::string text_;
  std::vector<std::string> used_;
};

}  // namespace

int syslog_severity(plugin::Policy policy) {
  switch (policy) {
    case plugin::Policy::alert: return 4;
    case plugin::Policy::mute: return 5;
    case plugin::Policy::ignore: return 6;
  }
  return 4;
}

int cef_severity(plugin::Policy policy) {
  switch (policy) {
    case plugin::Policy::alert: return 7;
    case plugin::Policy::mute: return 3;
    case plugin::Policy::ignore: return 1;
  }
  return 7;
}

std::optional<int> facility_code(std::string_view name) {
  for (std::size_t i = 0; i < facility_names.size(); ++i) {
    if (facility_names[i] == name) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

std::string header_field(std::string_view s, std::size_t max_len) {
  std::string out;
  out.reserve(std::min(s.size(), max_len));
  for (const char c : s.substr(0, std::min(s.size(), max_len))) {
    // PRINTUSASCII is %d33-126: anything else would split or corrupt the header.
    out.push_back(c >= 33 && c <= 126 ? c : '_');
  }
  return out.empty() ? std::string("-") : out;
}

std::string escape_sd_value(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    if (c == '"' || c == '\\' || c == ']') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::string escape_cef_header(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    if (c == '\\' || c == '|') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\r' || c == '\n') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escape_cef_value(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '=': out += "\\="; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c); break;
    }
  }
  return out;
}

std::optional<std::int64_t> epoch_millis(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    if (pos + len > s.size()) {
      return std::nullopt;
    }
    auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, v);
    if (ec != std::errc() || end != s.data() + pos + len) {
      return std::nullopt;
    }
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  const auto hour = number(11, 2);
  const auto minute = number(14, 2);
  const auto second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (s[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 3; ++digits) {
      millis *= 10;
    }
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const std::time_t t = ::timegm(&tm);
  return static_cast<std::int64_t>(t) * 1000 + millis;
}

std::string format_cef(const pipeline::AlertRecord& r, std::string_view product_version) {
  std::string out;
  out.reserve(r.json.size() + 128);
  out += "CEF:0|Honeycomb|";
  out += escape_cef_header(r.service);
  out.push_back('|');
  out += escape_cef_header(product_version);
  out.push_back('|');
  out += escape_cef_header(r.event_type);
  out.push_back('|');
  out += escape_cef_header(r.event_description);
  out.push_back('|');
  out += std::to_string(cef_severity(r.policy));
  out.push_back('|');

  Extension ext;
  if (const auto ms = epoch_millis(r.timestamp)) {
    ext.add("rt", std::to_string(*ms));
  }
  ext.add("externalId", r.id);
  ext.add("cat", plugin::to_string(r.policy));

  std::size_t next_string = 0;
  std::size_t next_number = 0;
  std::string overflow;  // JSON members of fields that found no key
  for (const auto& [name, value] : r.fields) {
    if (is_stamp(name) || std::holds_alternative<std::nullptr_t>(value)) {
      continue;
    }
    if (const CefKey* k = find_cef_key(name)) {
      std::optional<std::string> text;
      std::string_view key = k->key;
      switch (k->kind) {
        case Kind::text: text = value_text(value); break;
        case Kind::integer: text = integer_text(value); break;
        case Kind::ip: {
          std::string t = value_text(value);
          if (is_ipv4(t)) {
            text = std::move(t);
          } else if (is_ipv6(t)) {
            key = k->ipv6_key;
            text = std::move(t);
          }
          break;
        }
      }
      // A field set twice, or of the wrong shape, falls through to the
      // custom slots so that no data is lost and typed keys stay valid.
      if (text && !ext.used(key)) {
        ext.add(key, *text);
        if (key == "cs1" || key == "c6a2" || key == "c6a3") {
          ext.add(std::string(key) + "Label", name);
        }
        continue;
      }
    }
    if (std::holds_alternative<std::int64_t>(value) && next_number < custom_number_slots.size()) {
      const auto slot = custom_number_slots[next_number++];
      ext.add(slot, value_text(value));
      ext.add(std::string(slot) + "Label", name);
      continue;
    }
    if (next_string < custom_string_slots.size()) {
      const auto slot = custom_string_slots[next_string++];
      ext.add(slot, value_text(value));
      ext.add(std::string(slot) + "Label", name);
      continue;
    }
    overflow += overflow.empty() ? "{" : ",";
    json_text::append_string(overflow, name);
    overflow.push_back(':');
    json_text::append_value(overflow, value);
  }
  if (!overflow.empty()) {
    overflow.push_back('}');
    ext.add("msg", overflow);
  }
  out += ext.text();
  return out;
}

std::string format_rfc5424(const pipeline::AlertRecord& r, const FormatOptions& o) {
  std::string msg = o.cef ? format_cef(r, o.product_version) : std::string();
  const std::string_view body = o.cef ? std::string_view(msg) : std::string_view(r.json);

  std::string out;
  out.reserve(body.size() + 256);
  out.push_back('<');
  out += std::to_string(std::clamp(o.facility, 0, 23) * 8 + syslog_severity(r.policy));
  out += ">1 ";
  out += header_field(r.timestamp, 64);
  out.push_back(' ');
  out += header_field(o.hostname, max_hostname);
  out.push_back(' ');
  out += header_field(o.app_name, max_app_name);
  out.push_back(' ');
  out += header_field(o.procid, max_procid);
  out.push_back(' ');
  out += header_field(r.event_type, max_msgid);
  out += " [";
  out += sd_id;
  out += " id=\"";
  out += escape_sd_value(r.id);
  out += "\" service=\"";
  out += escape_sd_value(r.service);
  out += "\" event_type=\"";
  out += escape_sd_value(r.event_type);
  out += "\" status=\"";
  out += plugin::to_string(r.policy);
  out += "\"] ";
  out += body;
  return out;
}

void append_octet_counted(std::string& out, std::string_view message) {
  out += std::to_string(message.size());
  out.push_back(' ');
  out += message;
}

std::string_view truncate_utf8(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) {
    return s;
  }
  std::size_t n = max_bytes;
  // s[n] is the first byte left out: while it continues a sequence, the cut
  // is inside a character, so leave that character out entirely.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) {
    --n;
  }
  return s.substr(0, n);
}

}  // namespace honeycomb::integrations::syslog
