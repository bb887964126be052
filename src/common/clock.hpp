// Wall-clock time as the event store and the protocol count it.
#pragma once

#include <chrono>
#include <cstdint>

namespace honeycomb {

/// Microseconds since the Unix epoch (system clock): receipt times, last-seen
/// times, token creation. Not for measuring durations (use steady_clock).
inline std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Seconds since the Unix epoch (system clock): TOTP steps.
inline std::int64_t unix_now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace honeycomb
