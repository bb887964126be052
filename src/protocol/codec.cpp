#include "protocol/codec.hpp"

#include <boost/json/serializer.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace honeycomb::protocol {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------- decoding

std::optional<std::uint64_t> as_u64(const json::value& v) {
  if (v.is_uint64()) {
    return v.get_uint64();
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    return static_cast<std::uint64_t>(v.get_int64());
  }
  return std::nullopt;
}

// An integer (int64 >= 0, or uint64 above INT64_MAX) or a decimal string;
// never a double (1.5e19 and 18446744073709551616 parse as doubles).
std::optional<std::uint64_t> as_node_id(const json::value& v) {
  if (auto n = as_u64(v)) {
    return n;
  }
  if (const auto* s = v.if_string()) {
    if (s->empty()) {
      return std::nullopt;
    }
    for (char c : *s) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
    }
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec != std::errc{} || end != s->data() + s->size()) {
      return std::nullopt;
    }
    return n;
  }
  return std::nullopt;
}

// "Name", {"Name":{}} or {"Name":null}.
std::optional<std::string_view> unit_name(const json::value& v) {
  if (const auto* s = v.if_string()) {
    return std::string_view(*s);
  }
  if (const auto* o = v.if_object(); o != nullptr && o->size() == 1) {
    const auto& member = *o->begin();
    const auto* inner = member.value().if_object();
    if (member.value().is_null() || (inner != nullptr && inner->empty())) {
      return std::string_view(member.key());
    }
  }
  return std::nullopt;
}

/// Items kept from a list field (extensions): bounds what a peer can make us hold.
constexpr std::size_t kMaxListItems = 64;

// Reads the fields of one struct variant; the first error names the variant
// and the field.
class Fields {
 public:
  Fields(std::string_view variant, const json::object& obj) : variant_(variant), obj_(obj) {}

  const json::value* get(std::string_view key) const {
    const auto* v = obj_.if_contains(key);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }

  bool fail(std::string_view field, std::string_view what) {
    if (error_.empty()) {
      error_.reserve(variant_.size() + field.size() + what.size() + 3);
      error_.append(variant_).append(": ").append(field).append(" ").append(what);
    }
    return false;
  }
  bool missing(std::string_view field) { return fail(field, "is missing"); }

  bool node_id(NodeId& out, std::string_view key = "node_id") {
    const auto* v = get(key);
    if (v == nullptr) {
      return missing(key);
    }
    const auto n = as_node_id(*v);
    if (!n) {
      return fail(key, "is not an unsigned 64-bit integer");
    }
    out = *n;
    return true;
  }

  bool string(std::string_view key, std::string& out) {
    const auto* v = get(key);
    if (v == nullptr) {
      return missing(key);
    }
    return string_value(key, *v, out);
  }

  /// Missing or null -> "".
  bool string_or_empty(std::string_view key, std::string& out) {
    const auto* v = get(key);
    if (v == nullptr) {
      out.clear();
      return true;
    }
    return string_value(key, *v, out);
  }

  /// Missing or null -> nullopt.
  bool optional_string(std::string_view key, std::optional<std::string>& out) {
    const auto* v = get(key);
    if (v == nullptr) {
      out.reset();
      return true;
    }
    return string_value(key, *v, out.emplace());
  }

  /// Missing or null -> empty; items that are not strings are skipped (a
  /// newer peer may announce more than names).
  bool string_list(std::string_view key, std::vector<std::string>& out) {
    out.clear();
    const auto* v = get(key);
    if (v == nullptr) {
      return true;
    }
    const auto* a = v->if_array();
    if (a == nullptr) {
      return fail(key, "is not a list");
    }
    for (const auto& item : *a) {
      if (const auto* s = item.if_string(); s != nullptr && out.size() < kMaxListItems) {
        out.emplace_back(s->data(), s->size());
      }
    }
    return true;
  }

  /// Missing or null -> nullopt.
  bool optional_u64(std::string_view key, std::optional<std::uint64_t>& out) {
    const auto* v = get(key);
    if (v == nullptr) {
      out.reset();
      return true;
    }
    const auto n = as_node_id(*v);
    if (!n) {
      return fail(key, "is not an unsigned 64-bit integer");
    }
    out = *n;
    return true;
  }

  bool string_value(std::string_view key, const json::value& v, std::string& out) {
    const auto* s = v.if_string();
    if (s == nullptr) {
      return fail(key, "is not a string");
    }
    out.assign(s->data(), s->size());
    return true;
  }

  bool boolean(std::string_view key, bool& out, bool required) {
    const auto* v = get(key);
    if (v == nullptr) {
      return required ? missing(key) : true;
    }
    if (!v->is_bool()) {
      return fail(key, "is not a boolean");
    }
    out = v->get_bool();
    return true;
  }

  bool port(std::string_view key, std::uint16_t& out) {
    const auto* v = get(key);
    if (v == nullptr) {
      return missing(key);
    }
    const auto n = as_u64(*v);
    if (!n || *n > 65535) {
      return fail(key, "is not a port number (0-65535)");
    }
    out = static_cast<std::uint16_t>(*n);
    return true;
  }

  std::string take_error() { return std::move(error_); }

 private:
  std::string_view variant_;
  const json::object& obj_;
  std::string error_;
};

DecodeError error(std::string_view variant, std::string_view what) {
  std::string reason;
  reason.reserve(variant.size() + what.size() + 2);
  reason.append(variant).append(": ").append(what);
  return DecodeError{std::move(reason)};
}

std::string describe_kind(const json::value& v) {
  std::string s = "got ";
  s.append(json::to_string(v.kind()));
  return s;
}

// Days since 1970-01-01 -> civil date (H. Hinnant's algorithm).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2) ? 1 : 0;
}

// Unix seconds (integer or float) -> "2024-01-15T10:30:00Z", with up to six
// fractional digits (trailing zeros dropped) when the number had a fraction.
// Years 0000-9999 only.
std::optional<std::string> unix_to_iso(const json::value& v) {
  constexpr std::int64_t kMin = -62167219200;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  std::int64_t secs = 0;
  std::int64_t micros = 0;
  if (v.is_int64()) {
    secs = v.get_int64();
  } else if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || d < static_cast<double>(kMin) || d >= static_cast<double>(kMax) + 1.0) {
      return std::nullopt;
    }
    const auto total = std::llround(d * 1e6);
    secs = total / 1'000'000;
    micros = total % 1'000'000;
    if (micros < 0) {
      micros += 1'000'000;
      secs -= 1;
    }
  } else {
    return std::nullopt;  // uint64: above INT64_MAX, far out of range
  }
  if (secs < kMin || secs > kMax) {
    return std::nullopt;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(year), month,
                        day, static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<std::size_t>(n));
  if (micros != 0) {
    n = std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    std::string_view frac(buf, static_cast<std::size_t>(n));
    while (frac.back() == '0') {
      frac.remove_suffix(1);
    }
    out.append(frac);
  }
  out.push_back('Z');
  return out;
}

// Non-finite doubles have no JSON form (Boost.JSON parses 1e400 as
// infinity, and its serializer would then write `Infinity`): they become
// null, on decode (so that decoded messages round-trip) and on encode (so
// that a hand-built message never produces invalid JSON). Iterative: data
// built by a caller may nest deeper than the parser allows.
bool non_finite(const json::value& v) {
  return v.is_double() && !std::isfinite(v.get_double());
}

template <class Object, class Visit>
void for_each_value(Object& root, Visit visit) {
  using Value = std::conditional_t<std::is_const_v<Object>, const json::value, json::value>;
  std::vector<Value*> containers;  // only nested containers: flat data allocates nothing
  const auto visit_children = [&](auto& container) {
    for (auto& child : container) {
      Value* v = nullptr;
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(child)>, json::value>) {
        v = &child;
      } else {
        v = &child.value();
      }
      if (!visit(*v)) {
        return false;
      }
      if (v->is_object() || v->is_array()) {
        containers.push_back(v);
      }
    }
    return true;
  };
  if (!visit_children(root)) {
    return;
  }
  while (!containers.empty()) {
    Value* v = containers.back();
    containers.pop_back();
    const bool go_on = v->is_object() ? visit_children(v->get_object()) : visit_children(v->get_array());
    if (!go_on) {
      return;
    }
  }
}

bool has_non_finite(const json::object& data) {
  bool found = false;
  for_each_value(data, [&](const json::value& v) {
    found = non_finite(v);
    return !found;
  });
  return found;
}

void null_non_finite(json::object& data) {
  if (!has_non_finite(data)) {
    return;
  }
  for_each_value(data, [](json::value& v) {
    if (non_finite(v)) {
      v = nullptr;
    }
    return true;
  });
}

using Result = std::variant<Message, DecodeError>;

const json::object* struct_payload(std::string_view variant, const json::value* payload, DecodeError& err) {
  if (payload == nullptr) {
    err = error(variant, "expected an object, got a bare name");
    return nullptr;
  }
  const auto* o = payload->if_object();
  if (o == nullptr) {
    err = error(variant, "expected an object, " + describe_kind(*payload));
  }
  return o;
}

Result decode_registration(const json::object& o) {
  Fields f("NodeRegistration", o);
  NodeRegistration m;
  if (f.node_id(m.node_id) && f.string("node_name", m.node_name) && f.string("address", m.address) &&
      f.port("port", m.port) && f.optional_string("totp_code", m.totp_code) &&
      f.string_list("extensions", m.extensions)) {
    const auto* t = f.get("node_type");
    if (t == nullptr) {
      f.missing("node_type");
    } else {
      const auto name = unit_name(*t);
      const auto type = name ? node_type_from(*name) : std::nullopt;
      if (!type) {
        f.fail("node_type", R"(is not "Full" or "Agent")");
      } else {
        m.node_type = *type;
        return m;
      }
    }
  }
  return DecodeError{f.take_error()};
}

Result decode_node_status(const json::object& o) {
  Fields f("NodeStatusUpdate", o);
  NodeStatusUpdate m;
  if (f.node_id(m.node_id)) {
    const auto* s = f.get("status");
    if (s == nullptr) {
      f.missing("status");
    } else if (const auto name = unit_name(*s)) {
      // Liberal: an unrecognised status is Unknown, not an error.
      m.status = node_status_from(*name).value_or(NodeStatus::unknown);
      return m;
    } else {
      f.fail("status", "is not a status name");
    }
  }
  return DecodeError{f.take_error()};
}

// "Started", {"Started":{}|null}, {"Alarm":{"description":s}},
// {"Error":{"message":s}}, and the Go node's {"type":"Error","message":s}.
Result decode_node_event(const json::value* payload) {
  constexpr std::string_view kVariant = "NodeEvent";
  if (payload == nullptr) {
    return error(kVariant, "expected an event, got a bare name");
  }
  std::string_view name;
  const json::value* body = nullptr;  // object or string carrying the text
  if (const auto* s = payload->if_string()) {
    name = *s;
  } else if (const auto* o = payload->if_object()) {
    if (const auto* type = o->if_contains("type")) {
      const auto* t = type->if_string();
      if (t == nullptr) {
        return error(kVariant, "type is not a string");
      }
      name = *t;
      body = payload;
    } else if (o->size() == 1) {
      name = o->begin()->key();
      body = &o->begin()->value();
    } else {
      return error(kVariant, "expected one event variant");
    }
  } else {
    return error(kVariant, "expected a string or an object, " + describe_kind(*payload));
  }
  const auto kind = node_event_kind_from(name);
  if (!kind) {
    std::string what = R"(unknown event ")";
    what.append(name).push_back('"');
    return error(kVariant, what);
  }
  NodeEvent m;
  m.kind = *kind;
  if ((*kind == NodeEvent::Kind::alarm || *kind == NodeEvent::Kind::error) && body != nullptr && !body->is_null()) {
    if (const auto* s = body->if_string()) {  // liberal: newtype form {"Alarm":"text"}
      m.text.assign(s->data(), s->size());
    } else if (const auto* o = body->if_object()) {
      Fields f(*kind == NodeEvent::Kind::alarm ? "NodeEvent Alarm" : "NodeEvent Error", *o);
      // The documented field first, the other one as a fallback.
      const std::string_view first = *kind == NodeEvent::Kind::alarm ? "description" : "message";
      const std::string_view second = *kind == NodeEvent::Kind::alarm ? "message" : "description";
      if (!f.string_or_empty(f.has(first) ? first : second, m.text)) {
        return DecodeError{f.take_error()};
      }
    } else {
      return error(kVariant, std::string(to_string(*kind)) + " expected an object, " + describe_kind(*body));
    }
  }
  return m;
}

Result decode_pot_status(const json::object& o) {
  Fields f("PotStatusUpdate", o);
  PotStatusUpdate m;
  if (f.node_id(m.node_id) && f.string("pot_id", m.pot_id) && f.string_or_empty("pot_type", m.pot_type) &&
      f.optional_string("message", m.message)) {
    // The Go node copies an event's (usually empty) status: never an error
    // for text, only for a wrong type.
    if (const auto* s = f.get("status")) {
      const auto name = unit_name(*s);
      if (!name) {
        f.fail("status", "is not a string");
        return DecodeError{f.take_error()};
      }
      m.status = pot_status_from(*name).value_or(PotStatus::unknown);
      if (m.status == PotStatus::unknown) {
        m.status_text.assign(name->data(), name->size());
      } else {
        m.status_text = to_string(m.status);
      }
    }
    return m;
  }
  return DecodeError{f.take_error()};
}

void add_if_absent(json::object& data, std::string_view key, const json::value& v) {
  if (!data.contains(key)) {
    data.emplace(key, json::value(v, data.storage()));
  }
}

Result decode_pot_event(const json::object& o) {
  Fields f("PotEvent", o);
  PotEvent m;
  if (!f.node_id(m.node_id) || !f.string("pot_id", m.pot_id) || !f.string_or_empty("pot_type", m.pot_type) ||
      !f.optional_string("event_id", m.event_id) || !f.optional_u64("seq", m.seq)) {
    return DecodeError{f.take_error()};
  }
  // Documented `event_type`, or the Go node's `event`.
  if (f.has("event_type")) {
    if (!f.string("event_type", m.event_type)) {
      return DecodeError{f.take_error()};
    }
  } else if (f.has("event")) {
    if (!f.string("event", m.event_type)) {
      return DecodeError{f.take_error()};
    }
  } else {
    f.fail("event_type", "is missing (and so is event)");
    return DecodeError{f.take_error()};
  }
  // ISO text as sent, or unix seconds converted; missing -> "".
  if (const auto* t = f.get("timestamp")) {
    if (const auto* s = t->if_string()) {
      m.timestamp.assign(s->data(), s->size());
    } else if (t->is_number()) {
      auto iso = unix_to_iso(*t);
      if (!iso) {
        f.fail("timestamp", "is out of range (years 0000-9999)");
        return DecodeError{f.take_error()};
      }
      m.timestamp = std::move(*iso);
    } else {
      f.fail("timestamp", "is neither ISO 8601 text nor unix seconds");
      return DecodeError{f.take_error()};
    }
  }
  // `data`: an object as is; any other value wrapped as {"value": ...}.
  if (const auto* d = f.get("data")) {
    if (const auto* obj = d->if_object()) {
      m.data = json::object(*obj, json::storage_ptr());
    } else {
      m.data.emplace("value", json::value(*d, m.data.storage()));
    }
  }
  // Go shape: `metadata` members and `message` join the data (data wins).
  if (const auto* md = f.get("metadata")) {
    if (const auto* obj = md->if_object()) {
      for (const auto& member : *obj) {
        add_if_absent(m.data, member.key(), member.value());
      }
    } else {
      add_if_absent(m.data, "metadata", *md);
    }
  }
  if (const auto* msg = f.get("message")) {
    add_if_absent(m.data, "message", *msg);
  }
  null_non_finite(m.data);
  return m;
}

Result decode_ack(const json::object& o) {
  Fields f("RegistrationAck", o);
  RegistrationAck m;
  if (f.node_id(m.node_id) && f.boolean("accepted", m.accepted, true) && f.optional_string("message", m.message) &&
      f.optional_string("totp_key", m.totp_key) && f.string_list("extensions", m.extensions)) {
    return m;
  }
  return DecodeError{f.take_error()};
}

Result decode_event_ack(const json::object& o) {
  Fields f("EventAck", o);
  EventAck m;
  std::optional<std::uint64_t> seq;
  if (f.node_id(m.node_id) && f.optional_u64("seq", seq)) {
    if (seq) {
      m.seq = *seq;
      return m;
    }
    f.missing("seq");
  }
  return DecodeError{f.take_error()};
}

Result decode_enroll(const json::object& o) {
  Fields f("Enroll", o);
  Enroll m;
  std::optional<std::string> token;
  if (f.node_id(m.node_id) && f.string("node_name", m.node_name) && f.optional_string("join_token", token) &&
      f.string("csr", m.csr)) {
    m.join_token = token.value_or(std::string());
    return m;
  }
  return DecodeError{f.take_error()};
}

Result decode_enroll_ack(const json::object& o) {
  Fields f("EnrollAck", o);
  EnrollAck m;
  std::optional<std::string> certificate;
  std::optional<std::string> ca;
  if (f.node_id(m.node_id) && f.boolean("accepted", m.accepted, true) && f.optional_string("message", m.message) &&
      f.optional_string("certificate", certificate) && f.optional_string("ca_certificate", ca)) {
    m.certificate = certificate.value_or(std::string());
    m.ca_certificate = ca.value_or(std::string());
    return m;
  }
  return DecodeError{f.take_error()};
}

std::optional<DecodeError> decode_install(const json::value& payload, InstallPot& out) {
  const auto* o = payload.if_object();
  if (o == nullptr) {
    return error("NodeCommand InstallPot", "expected an object, " + describe_kind(payload));
  }
  Fields f("NodeCommand InstallPot", *o);
  if (!f.string("pot_id", out.pot_id) || !f.string("honeypot_type", out.honeypot_type) ||
      !f.optional_string("git_url", out.git_url) || !f.optional_string("git_branch", out.git_branch) ||
      !f.boolean("auto_start", out.auto_start, false)) {
    return DecodeError{f.take_error()};
  }
  if (const auto* c = f.get("config")) {
    const auto* obj = c->if_object();
    if (obj == nullptr) {
      f.fail("config", "is not an object");
      return DecodeError{f.take_error()};
    }
    auto& config = out.config.emplace();
    for (const auto& member : *obj) {
      const auto* s = member.value().if_string();
      if (s == nullptr) {
        f.fail(std::string("config.").append(member.key()), "is not a string");
        return DecodeError{f.take_error()};
      }
      config.insert_or_assign(std::string(member.key()), std::string(*s));
    }
  }
  return std::nullopt;
}

std::optional<DecodeError> decode_command(const json::value& v, Command& out) {
  constexpr std::string_view kVariant = "NodeCommand";
  std::string_view name;
  const json::value* payload = nullptr;
  if (const auto* s = v.if_string()) {
    name = *s;
  } else if (const auto* o = v.if_object(); o != nullptr && o->size() == 1) {
    name = o->begin()->key();
    payload = &o->begin()->value();
  } else {
    return error(kVariant, "command is not a command variant");
  }
  const auto kind = command_kind_from(name);
  if (!kind) {
    std::string what = R"(unknown command ")";
    what.append(name).push_back('"');
    return error(kVariant, what);
  }
  out.kind = *kind;
  const bool unit_payload =
      payload == nullptr || payload->is_null() || (payload->is_object() && payload->get_object().empty());
  if (*kind == Command::Kind::install_pot) {
    if (unit_payload) {
      return error(kVariant, "InstallPot has no fields");
    }
    auto& install = out.install.emplace();
    if (auto err = decode_install(*payload, install)) {
      return err;
    }
    out.pot_id = install.pot_id;
    return std::nullopt;
  }
  if (!command_takes_pot_id(*kind)) {
    if (!unit_payload) {
      return error(kVariant, std::string(to_string(*kind)) + " takes no value");
    }
    return std::nullopt;
  }
  // Newtype: {"StopPot":"pot"}; liberal: also {"StopPot":{"pot_id":"pot"}}.
  if (payload != nullptr) {
    if (const auto* s = payload->if_string()) {
      out.pot_id.assign(s->data(), s->size());
      return std::nullopt;
    }
    if (const auto* o = payload->if_object()) {
      if (const auto* id = o->if_contains("pot_id"); id != nullptr && id->is_string()) {
        out.pot_id = id->get_string();
        return std::nullopt;
      }
    }
  }
  return error(kVariant, std::string(to_string(*kind)) + " needs a pot id string");
}

Result decode_node_command(const json::object& o) {
  Fields f("NodeCommand", o);
  NodeCommand m;
  if (!f.node_id(m.node_id)) {
    return DecodeError{f.take_error()};
  }
  const auto* c = f.get("command");
  if (c == nullptr) {
    f.missing("command");
    return DecodeError{f.take_error()};
  }
  if (auto err = decode_command(*c, m.command)) {
    return std::move(*err);
  }
  return m;
}

enum class Variant {
  node_registration,
  node_status_update,
  node_event,
  node_drop,
  pot_status_update,
  pot_event,
  registration_ack,
  node_command,
  event_ack,
  enroll,
  enroll_ack
};

constexpr std::pair<std::string_view, Variant> kVariants[] = {
    {"NodeRegistration", Variant::node_registration},
    {"NodeStatusUpdate", Variant::node_status_update},
    {"NodeEvent", Variant::node_event},
    {"NodeDrop", Variant::node_drop},
    {"PotStatusUpdate", Variant::pot_status_update},
    {"PotEvent", Variant::pot_event},
    {"RegistrationAck", Variant::registration_ack},
    {"NodeCommand", Variant::node_command},
    {"EventAck", Variant::event_ack},
    {"Enroll", Variant::enroll},
    {"EnrollAck", Variant::enroll_ack},
};

std::optional<Variant> variant_from(std::string_view name) {
  // Exact names first (the common case), then ASCII case-insensitively.
  for (const auto& [n, v] : kVariants) {
    if (n == name) {
      return v;
    }
  }
  for (const auto& [n, v] : kVariants) {
    if (n.size() == name.size()) {
      bool same = true;
      for (std::size_t i = 0; i < n.size() && same; ++i) {
        const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        same = lower(n[i]) == lower(name[i]);
      }
      if (same) {
        return v;
      }
    }
  }
  return std::nullopt;
}

Result decode_message(const json::value& message) {
  std::string_view name;
  const json::value* payload = nullptr;
  if (const auto* s = message.if_string()) {
    name = *s;
  } else if (const auto* o = message.if_object()) {
    if (o->size() != 1) {
      return DecodeError{"message: expected exactly one variant, got an object with " + std::to_string(o->size()) +
                         " members"};
    }
    name = o->begin()->key();
    payload = &o->begin()->value();
  } else {
    return DecodeError{"message: expected a variant, " + describe_kind(message)};
  }
  const auto variant = variant_from(name);
  if (!variant) {
    std::string reason = R"(message: unknown variant ")";
    reason.append(name.substr(0, 64)).push_back('"');
    return DecodeError{std::move(reason)};
  }
  const std::string_view canonical = kVariants[static_cast<std::size_t>(*variant)].first;
  if (*variant == Variant::node_drop) {
    const auto* o = payload != nullptr ? payload->if_object() : nullptr;
    if (payload != nullptr && !payload->is_null() && (o == nullptr || !o->empty())) {
      return error(canonical, "is a unit variant, " + describe_kind(*payload));
    }
    return NodeDrop{};
  }
  if (*variant == Variant::node_event) {
    return decode_node_event(payload);
  }
  DecodeError err;
  const auto* o = struct_payload(canonical, payload, err);
  if (o == nullptr) {
    return err;
  }
  switch (*variant) {
    case Variant::node_registration:
      return decode_registration(*o);
    case Variant::node_status_update:
      return decode_node_status(*o);
    case Variant::pot_status_update:
      return decode_pot_status(*o);
    case Variant::pot_event:
      return decode_pot_event(*o);
    case Variant::registration_ack:
      return decode_ack(*o);
    case Variant::node_command:
      return decode_node_command(*o);
    case Variant::event_ack:
      return decode_event_ack(*o);
    case Variant::enroll:
      return decode_enroll(*o);
    case Variant::enroll_ack:
      return decode_enroll_ack(*o);
    case Variant::node_event:
    case Variant::node_drop:
      break;
  }
  return DecodeError{"message: unhandled variant"};
}

// ---------------------------------------------------------------- encoding

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& raw(std::string_view s) {
    out_.append(s);
    return *this;
  }
  Writer& str(std::string_view s) {
    sr_.reset(s);
    drain();
    return *this;
  }
  Writer& obj(const json::object& o) {
    sr_.reset(&o);
    drain();
    return *this;
  }
  Writer& u64(std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, r.ptr);
    return *this;
  }
  Writer& boolean(bool b) { return raw(b ? "true" : "false"); }
  /// `,"key":["a","b"]` when the list is not empty.
  Writer& opt_list(std::string_view key_with_comma, const std::vector<std::string>& v) {
    if (!v.empty()) {
      raw(key_with_comma).raw("[");
      for (std::size_t i = 0; i < v.size(); ++i) {
        raw(i == 0 ? "" : ",").str(v[i]);
      }
      raw("]");
    }
    return *this;
  }
  /// `,"key":"value"` when the value is set.
  Writer& opt(std::string_view key_with_comma, const std::optional<std::string>& v) {
    if (v) {
      raw(key_with_comma);
      str(*v);
    }
    return *this;
  }

 private:
  void drain() {
    // Serialise straight into the output, no intermediate copy.
    while (!sr_.done()) {
      const std::size_t old = out_.size();
      const std::size_t chunk = 256 + old / 2;
      out_.resize(old + chunk);
      const auto written = sr_.read(out_.data() + old, chunk);
      out_.resize(old + written.size());
    }
  }

  std::string& out_;
  json::serializer sr_;
};

void write_unit(Writer& w, const char* name, UnitStyle style) {
  if (style == UnitStyle::bare_string) {
    w.raw(R"(")").raw(name).raw(R"(")");
  } else {
    w.raw(R"({")").raw(name).raw(R"(":{}})");
  }
}

void write_command(Writer& w, const Command& c, UnitStyle style) {
  const char* name = to_string(c.kind);
  if (c.kind == Command::Kind::install_pot) {
    const InstallPot fallback{.pot_id = c.pot_id};
    const InstallPot& i = c.install ? *c.install : fallback;
    w.raw(R"({"InstallPot":{"pot_id":)").str(i.pot_id).raw(R"(,"honeypot_type":)").str(i.honeypot_type);
    w.opt(R"(,"git_url":)", i.git_url).opt(R"(,"git_branch":)", i.git_branch);
    if (i.config) {
      w.raw(R"(,"config":{)");
      bool first = true;
      for (const auto& [k, v] : *i.config) {
        w.raw(first ? "" : ",").str(k).raw(":").str(v);
        first = false;
      }
      w.raw("}");
    }
    w.raw(R"(,"auto_start":)").boolean(i.auto_start).raw("}}");
  } else if (command_takes_pot_id(c.kind)) {
    w.raw(R"({")").raw(name).raw(R"(":)").str(c.pot_id).raw("}");
  } else {
    write_unit(w, name, style);
  }
}

struct EncodeVisitor {
  Writer& w;
  UnitStyle style;

  void operator()(const NodeRegistration& m) const {
    w.raw(R"({"NodeRegistration":{"node_id":)").u64(m.node_id);
    w.raw(R"(,"node_name":)").str(m.node_name).raw(R"(,"address":)").str(m.address);
    w.raw(R"(,"port":)").u64(m.port).raw(R"(,"node_type":")").raw(to_string(m.node_type)).raw(R"(")");
    w.opt(R"(,"totp_code":)", m.totp_code).opt_list(R"(,"extensions":)", m.extensions).raw("}}");
  }
  void operator()(const NodeStatusUpdate& m) const {
    w.raw(R"({"NodeStatusUpdate":{"node_id":)").u64(m.node_id);
    w.raw(R"(,"status":")").raw(to_string(m.status)).raw(R"("}})");
  }
  void operator()(const NodeEvent& m) const {
    switch (m.kind) {
      case NodeEvent::Kind::started:
      case NodeEvent::Kind::stopped:
        w.raw(R"({"NodeEvent":")").raw(to_string(m.kind)).raw(R"("})");
        break;
      case NodeEvent::Kind::alarm:
        w.raw(R"({"NodeEvent":{"Alarm":{"description":)").str(m.text).raw("}}}");
        break;
      case NodeEvent::Kind::error:
        w.raw(R"({"NodeEvent":{"Error":{"message":)").str(m.text).raw("}}}");
        break;
    }
  }
  void operator()(const NodeDrop&) const { w.raw(R"("NodeDrop")"); }
  void operator()(const PotStatusUpdate& m) const {
    w.raw(R"({"PotStatusUpdate":{"node_id":)").u64(m.node_id);
    w.raw(R"(,"pot_id":)").str(m.pot_id).raw(R"(,"pot_type":)").str(m.pot_type).raw(R"(,"status":)");
    if (m.status == PotStatus::unknown) {
      w.str(m.status_text);
    } else {
      w.raw(R"(")").raw(to_string(m.status)).raw(R"(")");
    }
    w.opt(R"(,"message":)", m.message).raw("}}");
  }
  void operator()(const PotEvent& m) const {
    w.raw(R"({"PotEvent":{"node_id":)").u64(m.node_id);
    w.raw(R"(,"pot_id":)").str(m.pot_id).raw(R"(,"pot_type":)").str(m.pot_type);
    w.raw(R"(,"event_type":)").str(m.event_type).raw(R"(,"timestamp":)").str(m.timestamp);
    w.raw(R"(,"data":)");
    if (has_non_finite(m.data)) {
      json::object finite(m.data, json::storage_ptr());
      null_non_finite(finite);
      w.obj(finite);
    } else {
      w.obj(m.data);
    }
    w.opt(R"(,"event_id":)", m.event_id);
    if (m.seq) {
      w.raw(R"(,"seq":)").u64(*m.seq);
    }
    w.raw("}}");
  }
  void operator()(const RegistrationAck& m) const {
    w.raw(R"({"RegistrationAck":{"node_id":)").u64(m.node_id).raw(R"(,"accepted":)").boolean(m.accepted);
    w.opt(R"(,"message":)", m.message).opt(R"(,"totp_key":)", m.totp_key);
    w.opt_list(R"(,"extensions":)", m.extensions).raw("}}");
  }
  void operator()(const EventAck& m) const {
    w.raw(R"({"EventAck":{"node_id":)").u64(m.node_id).raw(R"(,"seq":)").u64(m.seq).raw("}}");
  }
  void operator()(const Enroll& m) const {
    w.raw(R"({"Enroll":{"node_id":)").u64(m.node_id).raw(R"(,"node_name":)").str(m.node_name);
    if (!m.join_token.empty()) {
      w.raw(R"(,"join_token":)").str(m.join_token);
    }
    w.raw(R"(,"csr":)").str(m.csr).raw("}}");
  }
  void operator()(const EnrollAck& m) const {
    w.raw(R"({"EnrollAck":{"node_id":)").u64(m.node_id).raw(R"(,"accepted":)").boolean(m.accepted);
    w.opt(R"(,"message":)", m.message);
    if (m.accepted) {
      w.raw(R"(,"certificate":)").str(m.certificate).raw(R"(,"ca_certificate":)").str(m.ca_certificate);
    }
    w.raw("}}");
  }
  void operator()(const NodeCommand& m) const {
    w.raw(R"({"NodeCommand":{"node_id":)").u64(m.node_id).raw(R"(,"command":)");
    write_command(w, m.command, style);
    w.raw("}}");
  }
};

}  // namespace

std::variant<Decoded, DecodeError> decode(const boost::json::value& envelope) {
  const auto* o = envelope.if_object();
  if (o == nullptr) {
    return DecodeError{"envelope is not a JSON object (" + describe_kind(envelope) + ")"};
  }
  Decoded decoded{.message = NodeDrop{}, .version = 0};
  if (const auto* v = o->if_contains("version")) {
    if (v->is_int64()) {
      decoded.version = v->get_int64();
    } else if (v->is_uint64()) {
      decoded.version = -1;  // above INT64_MAX: a mismatch all the same
    }
  }
  const auto* message = o->if_contains("message");
  if (message == nullptr) {
    return DecodeError{"envelope has no message"};
  }
  auto result = decode_message(*message);
  if (auto* err = std::get_if<DecodeError>(&result)) {
    return std::move(*err);
  }
  decoded.message = std::move(std::get<Message>(result));
  return decoded;
}

namespace {

std::variant<Decoded, DecodeError> decode_taking_data(json::value& envelope, bool any_resource) {
  // Find the PotEvent's `data` object; everything else is decoded as usual.
  json::object* data = nullptr;
  if (auto* o = envelope.if_object()) {
    if (auto* m = o->if_contains("message")) {
      if (auto* variant = m->if_object(); variant != nullptr && variant->size() == 1) {
        auto& member = *variant->begin();
        if (auto* payload = member.value().if_object();
            payload != nullptr && variant_from(member.key()) == Variant::pot_event) {
          if (auto* d = payload->if_contains("data")) {
            data = d->if_object();
          }
        }
      }
    }
  }
  // Only values on the default resource may be kept: a value on a caller's
  // (e.g. monotonic) resource must not outlive it inside a message.
  if (data == nullptr || data->empty() || (!any_resource && data->storage().get() != json::storage_ptr().get())) {
    return decode(std::as_const(envelope));
  }
  json::object taken(std::move(*data));  // leaves an empty `data` behind
  auto result = decode(std::as_const(envelope));
  if (auto* decoded = std::get_if<Decoded>(&result)) {
    if (auto* event = std::get_if<PotEvent>(&decoded->message)) {
      // What decode added from `metadata`/`message`; keys in `data` win.
      for (auto& member : event->data) {
        if (!taken.contains(member.key())) {
          taken.emplace(member.key(), std::move(member.value()));
        }
      }
      // Move-construct, not move-assign: assigning between two memory
      // resources copies the whole record.
      std::destroy_at(&event->data);
      std::construct_at(&event->data, std::move(taken));
      null_non_finite(event->data);
    }
  }
  return result;
}

}  // namespace

std::variant<Decoded, DecodeError> decode(boost::json::value&& envelope) {
  return decode_taking_data(envelope, false);
}

std::variant<Decoded, DecodeError> decode_borrowed(boost::json::value&& envelope) {
  return decode_taking_data(envelope, true);
}

std::string encode(const Message& message, UnitStyle command_units) {
  std::string out;
  out.reserve(256);
  Writer w(out);
  w.raw(R"({"version":2,"message":)");
  std::visit(EncodeVisitor{w, command_units}, message);
  w.raw("}\n");
  return out;
}

}  // namespace honeycomb::protocol
