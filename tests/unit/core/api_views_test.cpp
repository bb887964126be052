// Pieces of the REST API without a server: CSV quoting and formula
// neutralisation, the rate limiter, tokens and their hashes.
#include "core/api/rate_limiter.hpp"
#include "core/api/views.hpp"
#include "core/auth.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

namespace honeycomb::core {
namespace {

std::string cell(std::string_view text, bool is_text = true) {
  std::string out;
  api::append_csv_cell(out, text, is_text);
  return out;
}

TEST(ApiCsv, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(cell("root"), "root");
  EXPECT_EQ(cell(""), "");
  EXPECT_EQ(cell("a,b"), "\"a,b\"");
  EXPECT_EQ(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(cell("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(cell(" padded"), "\" padded\"");
}

TEST(ApiCsv, NeutralisesFormulas) {
  EXPECT_EQ(cell("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
  EXPECT_EQ(cell("+1"), "\"'+1\"");
  EXPECT_EQ(cell("-rf"), "\"'-rf\"");
  EXPECT_EQ(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(cell("\t=1"), "\"'\t=1\"");
  EXPECT_EQ(cell("=\"x\",1"), "\"'=\"\"x\"\",1\"");
  // Not text (our own numbers): left alone.
  EXPECT_EQ(cell("-1", false), "-1");
  // Only the first character counts.
  EXPECT_EQ(cell("a=b"), "a=b");
}

TEST(ApiCsv, RowHasEveryColumn) {
  store::StoredEvent e;
  e.id = 7;
  e.event.node_id = 18446744073709551615ULL;
  e.event.username = "=HYPERLINK(\"http://x\")";
  e.event.src_port = 2222;
  e.event.raw_json = R"({"a":"b,c"})";
  std::string header;
  api::append_csv_header(header);
  std::string row;
  api::append_csv_row(row, e);
  EXPECT_EQ(header.substr(0, 12), "id,time,rece");
  ASSERT_GE(row.size(), 2U);
  EXPECT_EQ(row.substr(row.size() - 2), "\r\n");
  EXPECT_NE(row.find("18446744073709551615"), std::string::npos);
  EXPECT_NE(row.find("\"'=HYPERLINK(\"\"http://x\"\")\""), std::string::npos);
  EXPECT_NE(row.find("\"{\"\"a\"\":\"\"b,c\"\"}\""), std::string::npos);
  EXPECT_NE(row.find(",2222,"), std::string::npos);
}

TEST(ApiRateLimiter, BurstThenRefill) {
  api::RateLimiter limiter(5);
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limiter.acquire("1.2.3.4", t0), 0U) << i;
  }
  EXPECT_EQ(limiter.acquire("1.2.3.4", t0), 1U);
  EXPECT_EQ(limiter.acquire("5.6.7.8", t0), 0U) << "clients are independent";
  EXPECT_EQ(limiter.acquire("1.2.3.4", t0 + std::chrono::milliseconds(200)), 0U) << "one token per 200 ms";
  EXPECT_EQ(limiter.acquire("1.2.3.4", t0 + std::chrono::milliseconds(200)), 1U);
}

TEST(ApiRateLimiter, UnlimitedAndBounded) {
  api::RateLimiter unlimited(0);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(unlimited.acquire("x"), 0U);
  }
  api::RateLimiter limiter(1, 100);
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 1000; ++i) {
    limiter.acquire("10.0.0." + std::to_string(i), t0);
  }
  EXPECT_LE(limiter.clients(), 100U);
}

TEST(ApiErrors, BodyIsJsonWhateverTheMessageQuotes) {
  EXPECT_EQ(api::error_body(404, "no such endpoint"), R"({"error":"no such endpoint","status":404})");
  EXPECT_EQ(api::error_body(400, "say \"hi\"\n"), R"({"error":"say \"hi\"\n","status":400})");
  // A query parameter's name, percent-decoded: any bytes. Not UTF-8 becomes U+FFFD.
  const auto body = api::error_body(400, "parameter '\xff\xc3' is given more than once");
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << body;
  EXPECT_EQ(v.at("error"), "parameter '\xef\xbf\xbd\xef\xbf\xbd' is given more than once");
  EXPECT_EQ(v.at("status"), 400);
}

TEST(ApiAuth, TokensAreRandomAndHashed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto token = Auth::generate_token();
    ASSERT_EQ(token.size(), 46U);
    EXPECT_EQ(token.substr(0, 3), "hc_");
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 3),
              std::string::npos);
    EXPECT_TRUE(seen.insert(token).second);
  }
  EXPECT_EQ(Auth::hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace honeycomb::core
