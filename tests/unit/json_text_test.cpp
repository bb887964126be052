// JSON text building: escaping of hostile bytes always yields valid JSON.
#include "common/json_text.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace honeycomb::json_text {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

TEST(JsonText, EscapesControlAndQuotes) {
  EXPECT_EQ(as_json("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
}

TEST(JsonText, KeepsValidUtf8) { EXPECT_EQ(as_json("h\xc3\xa9llo \xe2\x82\xac"), "\"h\xc3\xa9llo \xe2\x82\xac\""); }

TEST(JsonText, ReplacesInvalidUtf8) {
  EXPECT_EQ(as_json("r\xffoot"), R"("r\ufffdoot")");
  EXPECT_EQ(as_json("\xc3"), R"("\ufffd")");              // truncated sequence
  EXPECT_EQ(as_json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(as_json("\xc0\xaf"), R"("\ufffd\ufffd")");    // overlong
}

TEST(JsonText, EveryByteStringParses) {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  const std::string text = as_json(all);
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  EXPECT_TRUE(v.is_string());
}

TEST(JsonText, Values) {
  std::string out;
  append_value(out, Value{nullptr});
  out += ',';
  append_value(out, Value{true});
  out += ',';
  append_value(out, Value{std::int64_t{-42}});
  out += ',';
  append_value(out, Value{1.5});
  EXPECT_EQ(out, "null,true,-42,1.5");
}

}  // namespace
}  // namespace honeycomb::json_text
