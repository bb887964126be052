// Protocol v2 envelopes <-> messages. Decoding is liberal (every form of
// the spec's §2 and §4: unit variants as "Name", {"Name":{}} or
// {"Name":null}; both PotEvent shapes; the Go node's NodeEvent form; node_id
// above 2^63 or as a decimal string) and never throws: a bad envelope is a
// DecodeError with a reason a log line can carry. Encoding is strict: compact
// JSON, one envelope per line.
#pragma once

#include "protocol/messages.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <variant>

namespace honeycomb::protocol {

struct DecodeError {
  std::string reason;  ///< e.g. "NodeRegistration: node_id is not an unsigned 64-bit integer"
};

struct Decoded {
  Message message;
  /// As sent; the caller logs a mismatch. 0 when `version` is missing or not
  /// an integer, -1 when it is an integer above INT64_MAX.
  std::int64_t version = kVersion;
};

/// Decodes one envelope `{"version":2,"message":<variant>}`. Never throws.
std::variant<Decoded, DecodeError> decode(const boost::json::value& envelope);

/// The same result, but a PotEvent's `data` is moved out of `envelope`
/// instead of copied (the core's hot path: pass the Framer's value with
/// std::move). `envelope` is left valid but unspecified. Falls back to
/// copying when the value does not use the default memory resource.
std::variant<Decoded, DecodeError> decode(boost::json::value&& envelope);

/// As decode(value&&), but a PotEvent's `data` is moved out whatever memory
/// resource it is on: the message then borrows the envelope's memory and
/// must not outlive it (a core session stores each event before its
/// Framer's scratch memory is emptied).
std::variant<Decoded, DecodeError> decode_borrowed(boost::json::value&& envelope);

/// How unit variants are written. The Go node expects {"Restart":{}}; the
/// Rust core accepts "NodeDrop" or {"NodeDrop":null} only.
enum class UnitStyle { empty_object, bare_string };

/// Encodes one envelope as compact JSON followed by '\n'. Commands' unit
/// variants use `command_units` (default: what the Go node expects); NodeDrop
/// is always the bare string (what the Rust core accepts).
std::string encode(const Message& message, UnitStyle command_units = UnitStyle::empty_object);

}  // namespace honeycomb::protocol
