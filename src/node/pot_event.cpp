#include "node/pot_event.hpp"

#include "common/json_text.hpp"
#include "events/normalize.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace honeycomb::node {

namespace {

std::string_view trim_blanks(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

/// Cowrie's `sensor` is the host name: when it is all the record says about
/// its pot, the pot the connection belongs to is the better answer.
bool pot_id_is_only_sensor(const boost::json::object& record, std::string_view pot_id) {
  if (record.contains("pot_id") || record.contains("honeybee_honeypot_id")) {
    return false;
  }
  const auto* sensor = record.if_contains("sensor");
  return sensor && sensor->is_string() && sensor->get_string() == pot_id;
}

}  // namespace

SpooledEvent read_spooled(std::int64_t received_us, std::string_view origin, std::string_view line) {
  SpooledEvent out;
  out.line = trim_blanks(line);
  out.event.pot_id = std::string(origin);
  out.event.event_type = "node.unparsable_line";
  out.event.received_us = received_us;
  out.event.event_us = received_us;
  boost::system::error_code ec;
  auto value = boost::json::parse(out.line, ec);
  out.parsed = !ec && value.is_object();
  if (out.parsed) {
    const auto& record = value.get_object();
    auto e = events::normalize(record, events::Envelope{}, received_us);
    std::string pot_id = std::move(out.event.pot_id);
    if (origin.empty() || (!e.pot_id.empty() && !pot_id_is_only_sensor(record, e.pot_id))) {
      pot_id = std::move(e.pot_id);
    }
    out.event = std::move(e);
    out.event.pot_id = std::move(pot_id);
  }
  return out;
}

void append_pot_event(std::string& out, std::uint64_t node_id, std::uint64_t seq, std::int64_t received_us,
                      std::string_view origin, std::string_view line, bool with_seq) {
  const auto spooled = read_spooled(received_us, origin, line);
  const auto& e = spooled.event;
  const auto& pot_id = e.pot_id;
  const auto& pot_type = e.pot_type;
  const auto& event_type = e.event_type;
  const auto event_us = e.event_us;
  const bool parsed = spooled.parsed;
  line = spooled.line;
  out += fmt::format(R"({{"version":2,"message":{{"PotEvent":{{"node_id":{},"pot_id":)", node_id);
  json_text::append_string(out, pot_id);
  out += R"(,"pot_type":)";
  json_text::append_string(out, pot_type);
  out += R"(,"event_type":)";
  json_text::append_string(out, event_type);
  // Always the same time for the same event: the core deduplicates a resent
  // event on (event_id, time), so a record without its own time gets the
  // node's receipt time, never the core's.
  out += R"(,"timestamp":)";
  json_text::append_string(out, events::format_time_us(event_us));
  out += R"(,"data":)";
  if (parsed) {
    out += line;
  } else {
    // Validated on the event port, so only a parser disagreement lands
    // here; the bytes are kept as text rather than lost.
    out += R"({"line":)";
    json_text::append_string(out, line);
    out += '}';
  }
  out += fmt::format(R"(,"event_id":"{}-{}")", node_id, seq);
  if (with_seq) {
    out += fmt::format(R"(,"seq":{})", seq);
  }
  out += "}}}\n";
}

}  // namespace honeycomb::node
