// The core's hot path for the one message that comes by the hundred
// thousand: a PotEvent envelope on one line, read straight into an
// events::Event by Boost.JSON's push parser. No document is built and the
// record is not serialised again: its text is copied as the node sent it
// (without whitespace; one memcpy when it has none), and only the members
// the field table reads are kept for normalisation. Anything this reader does not take whole -- another
// message, the Go node's PotEvent shape, a `message` list, a number out of
// a double's range, an envelope that is not version 2, bad JSON -- is left to the general path (Framer value ->
// protocol::decode -> events::normalize), which gives the same Event:
// tests/unit/core/pot_event_reader_test.cpp and fuzz/pot_event_reader_fuzz.cpp
// compare the two.
#pragma once

#include "events/event.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace honeycomb::core {

struct ReadPotEvent {
  events::Event event;  ///< node_id: the envelope's (the session replaces it with the connection's)
  std::optional<std::uint64_t> seq;
};

/// One envelope `{"version":2,"message":{"PotEvent":{...}}}` (JSON
/// whitespace around it allowed). nullopt: use the general path. Never
/// throws on input. `received_us` stamps the event as normalize() does.
std::optional<ReadPotEvent> read_pot_event(std::string_view envelope, std::int64_t received_us);

}  // namespace honeycomb::core
