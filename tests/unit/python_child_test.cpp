// The host side of Python plugins that needs no interpreter: how child
// values become alert values, and the ready-timeout option's parsing.
#include "host/python_child.hpp"
#include "host/runner.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace honeycomb::host {
namespace {

Value from(std::string_view json) { return value_from_json(boost::json::parse(json)); }

TEST(PythonChild, ValuesFromJson) {
  EXPECT_EQ(from("null"), Value{nullptr});
  EXPECT_EQ(from("true"), Value{true});
  EXPECT_EQ(from("-42"), Value{std::int64_t{-42}});
  EXPECT_EQ(from("9223372036854775807"), Value{std::int64_t{9223372036854775807}});
  // Beyond int64: a double rather than a wrapped integer.
  EXPECT_EQ(from("18446744073709551615"), Value{18446744073709551615.0});
  EXPECT_EQ(from("1.5"), Value{1.5});
  EXPECT_EQ(from(R"("x\u00e9")"), Value{std::string("x\xc3\xa9")});
  // Containers have no Value: they travel as JSON text.
  EXPECT_EQ(from(R"({"a":[1,"b"]})"), Value{std::string(R"({"a":[1,"b"]})")});
  EXPECT_EQ(from("[]"), Value{std::string("[]")});
}

TEST(PythonChild, StringMember) {
  const auto o = boost::json::parse(R"({"t":"log","n":5})").as_object();
  EXPECT_EQ(string_member(o, "t"), "log");
  EXPECT_EQ(string_member(o, "n", "fallback"), "fallback");
  EXPECT_EQ(string_member(o, "missing"), "");
}

TEST(PythonChild, ResolveProgram) {
  EXPECT_EQ(resolve_program("/bin/sh"), "/bin/sh");
  EXPECT_FALSE(resolve_program("sh").empty());
  EXPECT_TRUE(resolve_program("/nonexistent/python9").empty());
  EXPECT_TRUE(resolve_program("honeycomb-no-such-program").empty());
}

TEST(ReadyTimeout, Parses) {
  EXPECT_EQ(parse_ready_timeout("2"), std::chrono::milliseconds(2000));
  EXPECT_EQ(parse_ready_timeout("0.25"), std::chrono::milliseconds(250));
  EXPECT_FALSE(parse_ready_timeout(""));
  EXPECT_FALSE(parse_ready_timeout("0"));
  EXPECT_FALSE(parse_ready_timeout("-1"));
  EXPECT_FALSE(parse_ready_timeout("soon"));
  EXPECT_FALSE(parse_ready_timeout("2s"));
  EXPECT_FALSE(parse_ready_timeout("nan"));
  EXPECT_FALSE(parse_ready_timeout("1e300"));
}

}  // namespace
}  // namespace honeycomb::host
