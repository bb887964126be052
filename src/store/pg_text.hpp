// Attacker text made fit for PostgreSQL, and written in COPY's text format.
// No libpq here: the fuzz target (fuzz/pg_text_fuzz.cpp) includes it alone.
#pragma once

#include "common/utf8.hpp"

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

/// Appends a COPY text-format field: backslash, tab, newline and carriage
/// return escaped.
inline void append_copy_text(std::string& out, std::string_view s) {
  std::string scratch;
  for (const char c : storable(s, scratch)) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace honeycomb::store::pg
