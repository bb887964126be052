// What both storage backends need to read a filter and page through events
// the same way: addresses and CIDRs as 16-byte ranges, the page cursor, the
// free-text match, and a hash for counting by a row's bytes. One copy, so
// that SQLite and PostgreSQL answer the same query with the same events.
#pragma once

#include "store/storage.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace honeycomb::store::query_support {

/// An address as stored: IPv4 IPv4-mapped (::ffff:a.b.c.d), so that one
/// byte order covers both families.
using Ip16 = std::array<unsigned char, 16>;

/// An IP (v4, v6, "[v6]", zone ids ignored) as stored; false when it is none.
bool ip_to_bin(std::string_view text, Ip16& out);

/// An IP or CIDR as an inclusive [lo, hi] range of stored addresses.
bool parse_cidr(std::string_view text, Ip16& lo, Ip16& hi);

/// The page cursor: "c1.<event_us>.<id>", the position after the last row
/// of a page in (event_us DESC, id DESC) order.
std::string make_cursor(std::int64_t event_us, std::int64_t id);
bool parse_cursor(std::string_view cursor, std::int64_t& event_us, std::int64_t& id);

/// `text` as a LIKE pattern matching it anywhere, with ESCAPE '\'.
std::string like_pattern(std::string_view text);

/// The free-text filter as SQLite's LIKE '%text%' applies it (ASCII letters
/// match either case, every other byte itself), for the backends' own scan.
class TextMatcher {
 public:
  explicit TextMatcher(std::string_view needle);
  bool matches(std::string_view haystack) const;

 private:
  static char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
  static char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
  bool rest_matches(const char* p) const;

  std::string needle_;
};

/// A hash that takes std::string and std::string_view alike (lookups by a
/// row's text without copying it).
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

/// Storage::export_events() over a backend's query: pages of 1000,
/// newest first, each its own statement, so that an export of millions
/// neither holds them all nor keeps one snapshot open. `page(q)` runs the
/// backend's query without its time limit.
template <class PageFn>
Result<std::uint64_t> export_by_pages(const EventFilter& f, const std::function<bool(const StoredEvent&)>& each,
                                      PageFn&& page) {
  Result<std::uint64_t> result;
  std::uint64_t n = 0;
  EventQuery q;
  q.filter = f;
  q.limit = 1000;
  while (true) {
    auto got = page(q);
    if (!got) {
      result.error = got.error;
      return result;
    }
    for (const auto& e : got.value->events) {
      ++n;
      if (!each(e)) {
        result.value = n;
        return result;
      }
    }
    if (got.value->next_cursor.empty()) {
      break;
    }
    q.cursor = std::move(got.value->next_cursor);
  }
  result.value = n;
  return result;
}

/// Storage::redeem_join_token()'s answer once the backend tried to take the
/// token (`taken`: its UPDATE changed the row) and read it back (`found`).
inline std::variant<JoinTokenRecord, std::string> redeem_outcome(const std::vector<JoinTokenRecord>& found, bool taken,
                                                                 std::uint64_t node_id, std::int64_t now_us) {
  if (found.empty()) {
    return std::string("unknown join token");
  }
  const auto& t = found.front();
  if (taken && t.used_us == now_us && t.used_by == node_id) {
    return t;
  }
  if (t.used_us != 0) {
    return fmt::format("join token already used (by node {})", t.used_by);
  }
  return std::string("join token expired");
}

}  // namespace honeycomb::store::query_support
