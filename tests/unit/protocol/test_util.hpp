// Helpers shared by the protocol tests.
#pragma once

#include "protocol/codec.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace honeycomb::protocol::test {

/// `{"version":2,"message":<message>}`
inline std::string envelope(std::string_view message) {
  std::string s = R"({"version":2,"message":)";
  s.append(message).append("}");
  return s;
}

inline boost::json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) {
    ADD_FAILURE() << "test JSON does not parse: " << text;
  }
  return v;
}

/// Decodes with both overloads (copying and moving) and checks they agree.
inline std::variant<Decoded, DecodeError> decode_text(std::string_view text) {
  const auto value = parse_json(text);
  auto copied = decode(value);
  auto moved = decode(parse_json(text));
  if (copied.index() != moved.index()) {
    ADD_FAILURE() << text << "\n  decode(const&) and decode(&&) disagree";
  } else if (const auto* c = std::get_if<Decoded>(&copied)) {
    const auto& m = std::get<Decoded>(moved);
    EXPECT_EQ(c->message, m.message) << text;
    EXPECT_EQ(c->version, m.version) << text;
  } else {
    EXPECT_EQ(std::get<DecodeError>(copied).reason, std::get<DecodeError>(moved).reason) << text;
  }
  return moved;
}

/// Decodes an envelope that must be accepted.
inline Decoded decode_ok(std::string_view text) {
  auto r = decode_text(text);
  if (const auto* e = std::get_if<DecodeError>(&r)) {
    ADD_FAILURE() << text << "\n  rejected: " << e->reason;
    return Decoded{.message = NodeDrop{}, .version = -99};
  }
  return std::get<Decoded>(std::move(r));
}

/// Decodes the message of an accepted envelope as variant T.
template <class T>
T decode_as(std::string_view message) {
  auto d = decode_ok(envelope(message));
  auto* t = std::get_if<T>(&d.message);
  if (t == nullptr) {
    ADD_FAILURE() << message << "\n  decoded as variant #" << d.message.index();
    return T{};
  }
  return std::move(*t);
}

/// The reason of an envelope that must be rejected ("" if accepted).
inline std::string decode_error(std::string_view text) {
  auto r = decode_text(text);
  if (const auto* e = std::get_if<DecodeError>(&r)) {
    EXPECT_FALSE(e->reason.empty());
    return e->reason;
  }
  ADD_FAILURE() << text << "\n  was accepted";
  return {};
}

inline std::string message_error(std::string_view message) {
  return decode_error(envelope(message));
}

}  // namespace honeycomb::protocol::test
