// UTF-8 well-formedness, for text that attacker bytes reach and that a
// consumer refuses when malformed (JSON, pot.json, PostgreSQL text).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace honeycomb::utf8 {

/// Length of the well-formed UTF-8 sequence of 2 to 4 bytes starting at
/// s[i] (no overlong forms, surrogates or code points past U+10FFFF), or 0.
/// ASCII is not a sequence here: callers test c < 0x80 first.
inline std::size_t sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned min_cp = 0;
  unsigned cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1Fu, min_cp = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0Fu, min_cp = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07u, min_cp = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    const unsigned char cc = byte(i + k);
    if ((cc & 0xC0u) != 0x80u) {
      return 0;
    }
    cp = (cp << 6u) | (cc & 0x3Fu);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

/// Well-formed UTF-8 throughout.
inline bool valid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const auto n = sequence_length(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

}  // namespace honeycomb::utf8
