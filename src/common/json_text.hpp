// Fast JSON text building for the alert hot path. Attacker bytes are escaped
// so that the output is always valid UTF-8 JSON: invalid sequences become
// U+FFFD instead of throwing or producing broken lines.
#pragma once

#include <honeycomb/alert.hpp>

#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>

namespace honeycomb::json_text {

/// Appends `s` as a quoted JSON string.
void append_string(std::string& out, std::string_view s);
/// Appends a Value (null, bool, integer, number, string) as JSON.
void append_value(std::string& out, const Value& v);
/// Converts an SDK Value to a boost::json value.
boost::json::value to_json(const Value& v);
/// Converts a scalar boost::json value to an SDK Value (objects and arrays
/// become their serialized text).
Value from_json(const boost::json::value& v);

}  // namespace honeycomb::json_text
