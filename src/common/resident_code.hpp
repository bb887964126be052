// Start-up code released from a long-running process's resident memory.
//
// A node, a core or a service runs most of its code once: configuration,
// enrolment, the TLS handshake, opening the store. The kernel then keeps
// every page of the executable that was ever touched mapped (and, by its
// fault-around, the 64 KiB around each), so an idle process looks as large
// as its whole start-up. release_startup_code() unmaps the executable's own
// read-only pages (code, constants); the pages stay in the page cache, and
// whatever runs next faults back in only what it uses. The build lays out
// the code that idle runs in one place (src/small_main/*.hot-text.ld), so
// that is little.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace honeycomb::resident_code {

struct Released {
  std::size_t bytes = 0;  ///< length of the ranges unmapped (resident or not)
  std::string error;      ///< empty on success
};

/// Unmaps (MADV_DONTNEED) the main executable's non-writable loaded
/// segments — never a writable one: relocated data would be lost. Safe at
/// any time from any thread: such pages come back unchanged from the file.
/// Does nothing while a debugger is attached (its breakpoints live in
/// private copies of code pages, which this would drop).
Released release_startup_code();

/// When to release: `settle` after start, and again `settle` after each new
/// one-off burst (a counter the caller bumps, e.g. registrations with a
/// core), so the burst's code goes too. Not thread-safe; call from one timer.
class ReleasePolicy {
 public:
  explicit ReleasePolicy(std::chrono::steady_clock::duration settle, std::chrono::steady_clock::time_point start)
      : settle_(settle), changed_at_(start) {}
  /// True when a release is due now; then it is not due again until `phase`
  /// changes.
  bool due(std::uint64_t phase, std::chrono::steady_clock::time_point now);

 private:
  std::chrono::steady_clock::duration settle_;
  std::chrono::steady_clock::time_point changed_at_;
  std::uint64_t phase_ = 0;
  bool released_ = false;
};

}  // namespace honeycomb::resident_code
