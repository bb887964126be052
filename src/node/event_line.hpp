// What one event-port line is: an event (a JSON object the core can read),
// a blank line, or malformed; and the anomaly event that replaces a line
// over the size limit. Pure functions on attacker bytes (fuzzed:
// fuzz/event_line_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace honeycomb::node {

/// What one line is, for the event port. Exposed for tests and the fuzzer.
enum class LineKind { event, blank, malformed };
struct LineCheck {
  LineKind kind = LineKind::event;
  std::string_view reason;  ///< for malformed: why (static text)
  /// For an event: the pot it names (`pot_id`, else Cowrie's
  /// `honeybee_honeypot_id`), empty when none. Valid until the next
  /// check_line() on this thread.
  std::string_view pot_id;
};
/// Checks one line (without its '\n'): a JSON object, valid UTF-8, nested
/// at most kMaxEventDepth deep, as Boost.JSON (the core's parser) reads it.
/// Trailing '\r' and surrounding blanks are allowed.
LineCheck check_line(std::string_view line);
/// Deeper events are refused: the core's parser accepts 32 levels, and the
/// Protocol v2 envelope adds four around the event.
inline constexpr std::size_t kMaxEventDepth = 24;

/// The anomaly event that replaces an oversized line (one JSON object).
std::string oversize_event(std::string_view head, std::size_t total_bytes, std::size_t limit, std::string_view peer,
                           std::int64_t now_us);

}  // namespace honeycomb::node
