// Attacker text made fit for PostgreSQL, and written in COPY's binary
// format.
// No libpq here: the fuzz target (fuzz/pg_text_fuzz.cpp) includes it alone.
#pragma once

#include "common/utf8.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace honeycomb::store::pg {

/// PostgreSQL's text holds neither NUL nor malformed UTF-8, and refuses the
/// whole COPY for one such byte: an attacker's username would otherwise
/// make a batch unstorable forever. Both become U+FFFD (docs/EVENTS.md).
inline std::string_view storable(std::string_view s, std::string& scratch) {
  bool clean = true;
  for (std::size_t i = 0; i < s.size() && clean;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      clean = false;
    } else if (c < 0x80) {
      ++i;
    } else if (const auto n = utf8::sequence_length(s, i); n != 0) {
      i += n;
    } else {
      clean = false;
    }
  }
  if (clean) {
    return s;
  }
  scratch.clear();
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c != 0 && c < 0x80) {
      scratch.push_back(static_cast<char>(c));
      ++i;
    } else if (const auto n = c == 0 ? 0 : utf8::sequence_length(s, i); n != 0) {
      scratch.append(s.substr(i, n));
      i += n;
    } else {
      scratch.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return scratch;
}

/// COPY's binary format (PostgreSQL docs, COPY, "Binary Format"): an
/// 11-byte signature and two zero int32s; per row an int16 field count, then
/// per field an int32 length (-1: NULL) and that many bytes; an int16 -1 at
/// the end. Integers are big-endian. The writer sends events this way: the
/// server neither parses numbers nor unescapes text (docs/BENCHMARKS.md).
namespace copy_binary {

inline void append_be(std::string& out, std::uint64_t v, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
inline void header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\xff\r\n";  // and its NUL: 11 bytes
  out.append(kSignature, sizeof kSignature);
  append_be(out, 0, 4);  // flags
  append_be(out, 0, 4);  // header extension length
}
inline void row(std::string& out, std::uint16_t fields) {
  append_be(out, fields, 2);
}
inline void int8(std::string& out, std::int64_t v) {
  append_be(out, 8, 4);
  append_be(out, static_cast<std::uint64_t>(v), 8);
}
inline void int4(std::string& out, std::int32_t v) {
  append_be(out, 4, 4);
  append_be(out, static_cast<std::uint32_t>(v), 4);
}
inline void null(std::string& out) {
  append_be(out, 0xffffffffu, 4);
}
/// A bytea field. A field's length is an int32: events are bounded far
/// below 2 GiB (docs/LIMITS.md), so no value reaches it.
inline void bytes(std::string& out, std::string_view b) {
  append_be(out, static_cast<std::uint32_t>(b.size()), 4);
  out.append(b);
}
/// A text field, made storable first.
inline void text(std::string& out, std::string_view s) {
  std::string scratch;
  bytes(out, storable(s, scratch));
}
inline void trailer(std::string& out) {
  append_be(out, 0xffff, 2);
}

}  // namespace copy_binary

}  // namespace honeycomb::store::pg
