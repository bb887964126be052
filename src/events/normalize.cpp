#include "events/normalize.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <tuple>
#include <vector>

namespace honeycomb::events {
namespace {

// The field table. Priority order per field; the samples this was chosen
// from are in tests/data/event-port/ (Cowrie with the HoneyBee output and
// with socketlog, HonnyPotter) plus the Honeycomb alert shape
// (src/pipeline/alert_record.cpp) and the seed shape (`data` object).
// Cowrie's `uuid` identifies the sensor, not the event: it is NOT an event id.
constexpr FieldSource kFieldTable[] = {
    {"event_id", {"event_id", "id"}, "`id` only when it is a string of 16+ characters (Honeycomb alerts' uuid4)"},
    {"timestamp", {"timestamp", "time", "@timestamp"}, "ISO 8601 or unix seconds (number or text)"},
    {"pot_id", {"pot_id", "honeybee_honeypot_id", "sensor"}, "Cowrie socketlog has only `sensor` (hostname)"},
    {"pot_type", {"pot_type", "honeybee_honeypot_type", "honeypot_type", "service"}, "`service`: Honeycomb alerts"},
    {"event_type", {"event_type", "eventid", "event"}, "Cowrie/HonnyPotter `eventid`"},
    {"src_ip",
     {"src_ip", "originating_ip", "source_ip", "remote_ip", "peer_ip", "client_ip", "ip"},
     "`originating_ip`: Honeycomb alerts"},
    {"src_port",
     {"src_port", "originating_port", "source_port", "remote_port", "peer_port", "client_port"},
     "number or numeric text, 1..65535"},
    {"dst_ip", {"dst_ip", "dest_ip", "destination_ip", "local_ip"}, "`dest_ip`: Honeycomb alerts"},
    {"dst_port", {"dst_port", "dest_port", "destination_port", "local_port", "port"}, "number or numeric text"},
    {"username", {"username", "user", "login"}, ""},
    {"password", {"password", "passwd", "pass"}, ""},
    {"command", {"input", "command", "cmd"}, "Cowrie `input`, Honeycomb alerts `cmd`"},
    {"session", {"session", "session_id", "sessionid"}, ""},
    {"url", {"url", "uri", "request_uri", "path", "request"}, "HonnyPotter `request_uri`, Honeycomb alerts `request`"},
    {"message", {"message", "msg", "event_description"}, "lists joined by '\\n' (Cowrie sends `[]` at times)"},
};

enum FieldIndex : std::size_t {
  f_event_id,
  f_timestamp,
  f_pot_id,
  f_pot_type,
  f_event_type,
  f_src_ip,
  f_src_port,
  f_dst_ip,
  f_dst_port,
  f_username,
  f_password,
  f_command,
  f_session,
  f_url,
  f_message,
  f_count
};
static_assert(std::size(kFieldTable) == f_count);

constexpr std::size_t kMinIdLength = 16;

void append_text(std::string& out, const boost::json::value& v);

void append_number(std::string& out, double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
    out += std::to_string(static_cast<std::int64_t>(d));
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec == std::errc{}) {
    out.append(buf, end);
  }
}

void append_text(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string:
      out.append(v.get_string().data(), v.get_string().size());
      break;
    case boost::json::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case boost::json::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    case boost::json::kind::double_:
      append_number(out, v.get_double());
      break;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::null:
      break;
    case boost::json::kind::array: {
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) {
          out.push_back('\n');
        }
        first = false;
        append_text(out, e);
      }
      break;
    }
    case boost::json::kind::object:
      out += boost::json::serialize(v);
      break;
  }
}

/// Which field and priority a source key has: built once from kFieldTable,
/// so that a record is read in one pass over its keys (not one lookup per
/// table key: that was most of the normalisation time). Most of a record's
/// keys are not in the table: a bucket by length and first and last
/// character turns them away without hashing the whole key.
struct KeyInfo {
  std::uint8_t field;
  std::uint8_t priority;
};

class KeyIndex {
 public:
  KeyIndex() {
    for (std::size_t f = 0; f < std::size(kFieldTable); ++f) {
      const auto& keys = kFieldTable[f].keys;
      for (std::size_t p = 0; p < keys.size() && !keys[p].empty(); ++p) {
        buckets_[bucket(keys[p])].push_back(
            {keys[p], KeyInfo{static_cast<std::uint8_t>(f), static_cast<std::uint8_t>(p)}});
      }
    }
  }

  const KeyInfo* find(std::string_view key) const {
    if (key.empty()) {
      return nullptr;
    }
    for (const auto& e : buckets_[bucket(key)]) {
      if (e.key == key) {
        return &e.info;
      }
    }
    return nullptr;
  }

 private:
  struct Entry {
    std::string_view key;
    KeyInfo info;
  };
  static std::size_t bucket(std::string_view key) {
    const std::size_t front = static_cast<unsigned char>(key.front());
    const std::size_t back = static_cast<unsigned char>(key.back());
    return (key.size() * 131 + front * 31 + back) % kBuckets;
  }
  static constexpr std::size_t kBuckets = 251;
  std::array<std::vector<Entry>, kBuckets> buckets_;
};

const KeyIndex& key_index() {
  static const KeyIndex index;
  return index;
}

constexpr std::size_t kLayers = 3;  ///< the record, its `data`, its `metadata`
constexpr std::size_t kMaxCandidates = std::tuple_size_v<decltype(FieldSource::keys)> * kLayers;

/// The record's values for each field, best first: by key priority, then
/// layer (the record, then `data`, then `metadata`).
class Layers {
 public:
  // Trivially default-constructible: the arrays below are not zeroed.
  struct Candidate {
    std::size_t rank;
    const char* key;
    std::size_t key_size;
    const boost::json::value* value;
    std::string_view key_view() const { return {key, key_size}; }
  };

  explicit Layers(const boost::json::object& record) {
    add(record, 0);
    std::size_t layer = 1;
    for (const char* nested : {"data", "metadata"}) {
      if (const auto* v = record.if_contains(nested); v != nullptr && v->is_object()) {
        add(v->get_object(), layer);
      }
      ++layer;
    }
  }

  std::span<const Candidate> of(std::size_t field) const { return {by_field_[field].data(), count_[field]}; }

 private:
  void add(const boost::json::object& o, std::size_t layer) {
    const auto& index = key_index();
    for (const auto& kv : o) {
      const std::string_view key(kv.key().data(), kv.key().size());
      const KeyInfo* info = index.find(key);
      if (info == nullptr) {
        continue;
      }
      const std::size_t f = info->field;
      auto& list = by_field_[f];
      std::size_t i = count_[f];
      if (i == kMaxCandidates) {
        continue;  // duplicate keys in one object
      }
      const Candidate c{info->priority * kLayers + layer, key.data(), key.size(), &kv.value()};
      for (; i > 0 && list[i - 1].rank > c.rank; --i) {
        list[i] = list[i - 1];
      }
      list[i] = c;
      ++count_[f];
    }
  }

  std::array<std::array<Candidate, kMaxCandidates>, f_count> by_field_;
  std::array<std::size_t, f_count> count_{};
};

template <class Accept>
void for_each_candidate(const Layers& layers, std::size_t field, Accept&& accept) {
  for (const auto& c : layers.of(field)) {
    if (accept(c.key_view(), *c.value)) {
      return;
    }
  }
}

std::string text_field(const Layers& layers, std::size_t field) {
  std::string out;
  for_each_candidate(layers, field, [&](std::string_view, const boost::json::value& v) {
    append_text(out, v);
    return !out.empty();
  });
  return out;
}

std::int32_t port_of(const boost::json::value& v) {
  std::int64_t p = 0;
  if (v.is_int64()) {
    p = v.get_int64();
  } else if (v.is_uint64()) {
    p = v.get_uint64() > 65535 ? 0 : static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double()) {
    const double d = v.get_double();
    p = (std::isfinite(d) && d == std::floor(d) && d >= 1 && d <= 65535) ? static_cast<std::int64_t>(d) : 0;
  } else if (v.is_string()) {
    const auto& s = v.get_string();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
    if (ec != std::errc{} || ptr != s.data() + s.size()) {
      p = 0;
    }
  }
  return (p >= 1 && p <= 65535) ? static_cast<std::int32_t>(p) : 0;
}

std::int32_t port_field(const Layers& layers, std::size_t field) {
  std::int32_t out = 0;
  for_each_candidate(layers, field, [&](std::string_view, const boost::json::value& v) {
    out = port_of(v);
    return out != 0;
  });
  return out;
}

// Unix time numbers: seconds, or milliseconds/microseconds when too large to
// be seconds (some senders use JavaScript's Date.now()).
std::optional<std::int64_t> unix_number_us(double seconds_or_more) {
  if (!std::isfinite(seconds_or_more) || seconds_or_more < 0) {
    return std::nullopt;
  }
  double us = seconds_or_more * 1e6;
  if (seconds_or_more >= 1e14) {
    us = seconds_or_more;  // already microseconds
  } else if (seconds_or_more >= 1e11) {
    us = seconds_or_more * 1e3;  // milliseconds
  }
  if (us >= 9.2e18) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(std::llround(us));
}

std::optional<std::int64_t> time_of(const boost::json::value& v) {
  if (v.is_string()) {
    return parse_time_us(std::string_view(v.get_string().data(), v.get_string().size()));
  }
  if (v.is_int64()) {
    return unix_number_us(static_cast<double>(v.get_int64()));
  }
  if (v.is_uint64()) {
    return unix_number_us(static_cast<double>(v.get_uint64()));
  }
  if (v.is_double()) {
    return unix_number_us(v.get_double());
  }
  return std::nullopt;
}

// Howard Hinnant's days_from_civil / civil_from_days.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m, d;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() == c) {
      ++i_;
      return true;
    }
    return false;
  }
  /// Exactly n digits.
  bool digits(std::size_t n, unsigned& out) {
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = peek();
      if (c < '0' || c > '9') {
        return false;
      }
      out = out * 10 + static_cast<unsigned>(c - '0');
      ++i_;
    }
    return true;
  }
  /// Fraction digits after '.', as microseconds (extra digits truncated).
  std::int64_t fraction_us() {
    std::int64_t us = 0;
    std::size_t n = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (n < 6) {
        us = us * 10 + (peek() - '0');
      }
      ++n;
      ++i_;
    }
    for (; n < 6; ++n) {
      us *= 10;
    }
    return us;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::optional<std::int64_t> parse_iso(std::string_view text) {
  Scanner sc(text);
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!sc.digits(4, year) || !sc.eat('-') || !sc.digits(2, month) || !sc.eat('-') || !sc.digits(2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) {
    return std::nullopt;
  }
  std::int64_t frac = 0;
  std::int64_t offset_s = 0;
  if (!sc.done()) {
    if (!sc.eat('T') && !sc.eat('t') && !sc.eat(' ')) {
      return std::nullopt;
    }
    if (!sc.digits(2, hour) || !sc.eat(':') || !sc.digits(2, minute)) {
      return std::nullopt;
    }
    if (sc.eat(':')) {
      if (!sc.digits(2, second)) {
        return std::nullopt;
      }
      if (sc.eat('.') || sc.eat(',')) {
        frac = sc.fraction_us();
      }
    }
    if (hour > 23 || minute > 59 || second > 60) {
      return std::nullopt;
    }
    if (sc.eat(' ')) {
      // "2024-01-15 10:30:00 +0100" / "... UTC"
    }
    if (sc.eat('Z') || sc.eat('z')) {
    } else if (sc.peek() == 'U') {
      if (!(sc.eat('U') && sc.eat('T') && sc.eat('C'))) {
        return std::nullopt;
      }
    } else if (sc.peek() == '+' || sc.peek() == '-') {
      const bool negative = sc.peek() == '-';
      sc.eat(sc.peek());
      unsigned oh = 0, om = 0;
      if (!sc.digits(2, oh)) {
        return std::nullopt;
      }
      if (sc.eat(':')) {
        if (!sc.digits(2, om)) {
          return std::nullopt;
        }
      } else if (!sc.done()) {
        if (!sc.digits(2, om)) {
          return std::nullopt;
        }
      }
      if (oh > 23 || om > 59) {
        return std::nullopt;
      }
      offset_s = (negative ? -1 : 1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    }
    if (!sc.done()) {
      return std::nullopt;
    }
  }
  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return seconds * 1'000'000 + frac;
}

}  // namespace

std::span<const FieldSource> field_table() {
  return kFieldTable;
}

std::optional<std::int64_t> parse_time_us(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  if (text.size() >= 10 && text[4] == '-') {
    return parse_iso(text);
  }
  // Unix seconds: digits with an optional fraction (no exponent, no sign).
  bool dot = false;
  for (const char c : text) {
    if (c == '.' && !dot) {
      dot = true;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (text.front() == '.' || text.back() == '.') {
    return std::nullopt;
  }
  const auto point = text.find('.');
  const auto whole = text.substr(0, point);
  std::int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc{} || ptr != whole.data() + whole.size()) {
    return std::nullopt;
  }
  if (point == std::string_view::npos) {
    return unix_number_us(static_cast<double>(seconds));
  }
  if (seconds >= 100'000'000'000) {  // ms or us with a fraction: rare, precision matters less
    return unix_number_us(static_cast<double>(seconds));
  }
  Scanner sc(text.substr(point + 1));
  return seconds * 1'000'000 + sc.fraction_us();
}

std::string format_time_us(std::int64_t us) {
  std::int64_t seconds = us / 1'000'000;
  std::int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --seconds;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<long long>(c.y), c.m, c.d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(frac));
  return buf;
}

bool reads_key(std::string_view key) {
  return key_index().find(key) != nullptr;
}

Event normalize(const boost::json::object& record, const Envelope& envelope, std::int64_t received_us) {
  return normalize(record, envelope, received_us, boost::json::serialize(record));
}

Event normalize(const boost::json::object& record, const Envelope& envelope, std::int64_t received_us,
                std::string raw_json) {
  Event e;
  const Layers layers(record);
  e.received_us = received_us;
  e.node_id = envelope.node_id;

  e.event_id = envelope.event_id;
  if (e.event_id.empty()) {
    for_each_candidate(layers, f_event_id, [&](std::string_view key, const boost::json::value& v) {
      if (!v.is_string() || v.get_string().empty()) {
        return false;
      }
      if (key == "id" && v.get_string().size() < kMinIdLength) {
        return false;
      }
      e.event_id.assign(v.get_string().data(), v.get_string().size());
      return true;
    });
  }

  std::optional<std::int64_t> t;
  if (!envelope.timestamp.empty()) {
    t = parse_time_us(envelope.timestamp);
  }
  if (!t) {
    for_each_candidate(layers, f_timestamp, [&](std::string_view, const boost::json::value& v) {
      t = time_of(v);
      return t.has_value();
    });
  }
  e.event_us = t.value_or(received_us);

  e.pot_id = !envelope.pot_id.empty() ? envelope.pot_id : text_field(layers, f_pot_id);
  e.pot_type = !envelope.pot_type.empty() ? envelope.pot_type : text_field(layers, f_pot_type);
  e.event_type = !envelope.event_type.empty() ? envelope.event_type : text_field(layers, f_event_type);
  e.src_ip = text_field(layers, f_src_ip);
  e.src_port = port_field(layers, f_src_port);
  e.dst_ip = text_field(layers, f_dst_ip);
  e.dst_port = port_field(layers, f_dst_port);
  e.username = text_field(layers, f_username);
  e.password = text_field(layers, f_password);
  e.command = text_field(layers, f_command);
  e.session = text_field(layers, f_session);
  e.url = text_field(layers, f_url);
  e.message = text_field(layers, f_message);
  e.raw_json = std::move(raw_json);
  return e;
}

}  // namespace honeycomb::events
