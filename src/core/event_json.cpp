#include "core/event_json.hpp"

#include "common/json_text.hpp"
#include "events/normalize.hpp"

#include <fmt/format.h>

namespace honeycomb::core {

namespace {
void member(std::string& out, const char* key, const std::string& value) {
  if (value.empty()) {
    return;
  }
  out += ",\"";
  out += key;
  out += "\":";
  json_text::append_string(out, value);
}
void member(std::string& out, const char* key, std::int64_t value) {
  if (value == 0) {
    return;
  }
  fmt::format_to(std::back_inserter(out), ",\"{}\":{}", key, value);
}
}  // namespace

void append_event_json(std::string& out, const events::Event& e, std::int64_t id) {
  out += '{';
  fmt::format_to(std::back_inserter(out), "\"node_id\":{}", e.node_id);
  member(out, "id", id);
  member(out, "event_id", e.event_id);
  member(out, "received", events::format_time_us(e.received_us));
  member(out, "time", events::format_time_us(e.event_us));
  member(out, "pot_id", e.pot_id);
  member(out, "pot_type", e.pot_type);
  member(out, "event_type", e.event_type);
  member(out, "src_ip", e.src_ip);
  member(out, "src_port", std::int64_t{e.src_port});
  member(out, "dst_ip", e.dst_ip);
  member(out, "dst_port", std::int64_t{e.dst_port});
  member(out, "username", e.username);
  member(out, "password", e.password);
  member(out, "command", e.command);
  member(out, "session", e.session);
  member(out, "url", e.url);
  member(out, "message", e.message);
  out += ",\"raw\":";
  out += e.raw_json.empty() ? std::string_view("{}") : std::string_view(e.raw_json);
  out += '}';
}

}  // namespace honeycomb::core
