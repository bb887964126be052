// Normalisation of honeypot records into events::Event. The mapping from the
// field names real honeypots use to ours is ONE table in normalize.cpp
// (kFieldTable), documented in docs/EVENTS.md; node and core both use it.
#pragma once

#include "events/event.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb::events {

/// What the envelope already says about a record (Protocol v2 PotEvent's
/// top-level fields); empty strings when unknown. Record fields fill what is
/// empty here.
struct Envelope {
  std::uint64_t node_id = 0;
  std::string pot_id;
  std::string pot_type;
  std::string event_type;
  std::string timestamp;  ///< ISO 8601 or unix seconds as text; empty: none
  std::string event_id;
};

/// Builds an Event from a record and its envelope. `received_us` stamps the
/// receipt. Never throws on odd field types: numbers, strings and lists are
/// all accepted where the vocabulary expects text (lists joined by '\n'),
/// ports given as strings are parsed, invalid ones become 0.
Event normalize(const boost::json::object& record, const Envelope& envelope, std::int64_t received_us);

/// Parses an ISO 8601 time ("2024-01-15T10:30:00Z", fractions, offsets) or
/// unix seconds (integer or float) into unix microseconds.
std::optional<std::int64_t> parse_time_us(std::string_view text);
/// Formats unix microseconds as ISO 8601 UTC with microseconds ("...T10:30:00.123456Z").
std::string format_time_us(std::int64_t us);

}  // namespace honeycomb::events
