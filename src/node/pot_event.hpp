// The Protocol v2 PotEvent envelope for one spooled event-port line. Its
// input is attacker bytes (already checked by check_line); fuzzed with it.
#pragma once

#include "events/event.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace honeycomb::node {

/// What one spooled line says, read with the shared field table: pot id
/// (with the connection's `origin` filled in, see below), type, event type,
/// time and the normalised fields. `line` is the trimmed line; `parsed` is
/// false only when a parser disagreed with the event port's check (then
/// event_type is "node.unparsable_line").
struct SpooledEvent {
  events::Event event;
  std::string_view line;
  bool parsed = false;
};
SpooledEvent read_spooled(std::int64_t received_us, std::string_view origin, std::string_view line);

/// The PotEvent envelope for one spooled line, written directly: the line
/// (a validated JSON object) is embedded as `data` without re-serialising,
/// the envelope's fields come from the shared field table. `origin` is the
/// pot the connection belongs to (empty: unknown); it fills a missing pot id
/// and replaces Cowrie's `sensor` (a host name, not a pot). `with_seq`: the
/// core confirmed `event_ack`. Appends to `out`.
void append_pot_event(std::string& out, std::uint64_t node_id, std::uint64_t seq, std::int64_t received_us,
                      std::string_view origin, std::string_view line, bool with_seq);

}  // namespace honeycomb::node
