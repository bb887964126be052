// Normalisation of honeypot records into events::Event. The mapping from the
// field names real honeypots use to ours is ONE table in normalize.cpp
// (kFieldTable), documented in docs/EVENTS.md; node and core both use it.
#pragma once

#include "events/event.hpp"

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
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

/// One row of the field table: our field and the record keys it is taken
/// from, in priority order (the first present, non-empty, well-typed value
/// wins). Keys are looked up in the record itself, then in its `data` object
/// (the seed shape), then in its `metadata` object (the Go node's shape).
struct FieldSource {
  std::string_view field;                ///< our name (Event member / column)
  std::array<std::string_view, 8> keys;  ///< source keys, priority order; empty entries unused
  std::string_view note;                 ///< what the rule is for (shown in docs/EVENTS.md)
};

/// The table (kFieldTable in normalize.cpp): the one place that says which
/// honeypot key becomes which field. docs/EVENTS.md reproduces it.
std::span<const FieldSource> field_table();

/// Builds an Event from a record and its envelope. `received_us` stamps the
/// receipt. Never throws on odd field types: numbers, strings and lists are
/// all accepted where the vocabulary expects text (lists joined by '\n'),
/// ports given as strings are parsed, invalid ones become 0.
Event normalize(const boost::json::object& record, const Envelope& envelope, std::int64_t received_us);

/// The same, with the record's text given: a reader that already has the
/// record as compact JSON (core/pot_event_reader.hpp) passes it, and
/// `record` then needs only the members normalize() reads (see reads_key()).
Event normalize(const boost::json::object& record, const Envelope& envelope, std::int64_t received_us,
                std::string raw_json);

/// Whether normalize() reads the member `key` of a record or of the record's
/// `data` / `metadata` objects (a key of the field table). The record's own
/// `data` and `metadata` are read too when they are objects.
bool reads_key(std::string_view key);

/// Parses an ISO 8601 time ("2024-01-15T10:30:00Z", fractions, offsets) or
/// unix seconds (integer or float) into unix microseconds.
std::optional<std::int64_t> parse_time_us(std::string_view text);
/// Formats unix microseconds as ISO 8601 UTC with microseconds ("...T10:30:00.123456Z").
std::string format_time_us(std::int64_t us);

}  // namespace honeycomb::events
