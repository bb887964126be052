// JSON values compared as a reader of them would: objects by member (order
// aside), int64 and uint64 of equal value alike, and doubles equal within
// Boost 1.81's parsing drift (x * 10^e with two roundings, not correctly
// rounded: a number's text and its re-serialisation can parse a few ULP
// apart; precise parsing came in 1.83). For tests and fuzz targets that
// check two paths give the same JSON.
#pragma once

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>

namespace honeycomb::json_equal {

inline bool same_number(double a, double b) {
  if (a == b) {
    return true;
  }
  const double scale = std::max(std::fabs(a), std::fabs(b));
  return scale < 1e-290 || std::fabs(a - b) <= scale * 1e-14;
}

inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    return same_number(a.get_double(), b.get_double());
  }
  if (a.kind() != b.kind()) {
    return a == b;  // int64/uint64 of equal value compare equal
  }
  if (const auto* oa = a.if_object()) {
    const auto& ob = b.get_object();
    if (oa->size() != ob.size()) {
      return false;
    }
    for (const auto& member : *oa) {
      const auto* other = ob.if_contains(member.key());
      if (other == nullptr || !same_json(member.value(), *other)) {
        return false;
      }
    }
    return true;
  }
  if (const auto* aa = a.if_array()) {
    const auto& ab = b.get_array();
    if (aa->size() != ab.size()) {
      return false;
    }
    for (std::size_t i = 0; i < aa->size(); ++i) {
      if (!same_json((*aa)[i], ab[i])) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

}  // namespace honeycomb::json_equal
