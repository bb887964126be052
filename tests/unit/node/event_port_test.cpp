// The event port's line rules and the PotEvent envelope the link builds.
#include "node/event_port.hpp"

#include "node/core_link.hpp"
#include "node/line_assembler.hpp"
#include "protocol/codec.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace honeycomb::node {
namespace {

LineCheck check(const std::string& line) {
  std::string padded = line + std::string(LineAssembler::kPadding, '\0');
  return check_line(std::string_view(padded.data(), line.size()));
}

TEST(CheckLine, AcceptsObjectsAsRealHoneypotsWriteThem) {
  EXPECT_EQ(check(R"({"eventid":"cowrie.login.failed","src_ip":"1.2.3.4"})").kind, LineKind::event);
  EXPECT_EQ(check(R"({"user_agent":"harness-curl\/1.0","message":["a","b"]})").kind, LineKind::event);
  EXPECT_EQ(check("{\"a\":1}\r").kind, LineKind::event);
  EXPECT_EQ(check("  {\"a\":\"\\u003c\xe2\x80\xa8\"}  ").kind, LineKind::event);
}

TEST(CheckLine, BlankLinesAreNotEvents) {
  EXPECT_EQ(check("").kind, LineKind::blank);
  EXPECT_EQ(check(" \t\r").kind, LineKind::blank);
}

TEST(CheckLine, RefusesWhatIsNotAJsonObject) {
  for (const std::string& bad : std::vector<std::string>{
           "[1,2]", "42", "\"text\"", "{\"a\":", "{\"a\":1} trailing", "{\"a\":1}{\"b\":2}", "{\"a\":1}\f",
           std::string("{\"a\":\"r\xffoot\"}"), std::string("\x00\x01", 2), "null"}) {
    EXPECT_EQ(check(bad).kind, LineKind::malformed) << bad;
  }
  EXPECT_EQ(check("{\"a\":\"r\xffoot\"}").reason, "invalid UTF-8");
}

TEST(CheckLine, RefusesNestingTheCoreCouldNotRead) {
  std::string ok = "{\"a\":" + std::string(kMaxEventDepth - 2, '[') + std::string(kMaxEventDepth - 2, ']') + "}";
  EXPECT_EQ(check(ok).kind, LineKind::event);
  std::string deep = "{\"a\":" + std::string(kMaxEventDepth + 5, '[') + std::string(kMaxEventDepth + 5, ']') + "}";
  EXPECT_EQ(check(deep).kind, LineKind::malformed);
}

TEST(OversizeEvent, IsAValidObjectCarryingTheHead) {
  auto text = oversize_event(std::string("{\"a\":\"\xff\x01quote\""), 2'000'000, 1'048'576, "127.0.0.1:5000",
                             1'700'000'000'000'000);
  auto v = boost::json::parse(text).as_object();
  EXPECT_EQ(v["event_type"], "node.line_too_long");
  EXPECT_EQ(v["line_bytes"].to_number<std::int64_t>(), 2'000'000);
  EXPECT_EQ(v["peer"], "127.0.0.1:5000");
  EXPECT_EQ(v["timestamp"], "2023-11-14T22:13:20.000000Z");
  EXPECT_NE(v["line_head"].as_string().find("quote"), boost::json::string::npos);
}

protocol::PotEvent decode_pot_event(const std::string& text) {
  auto decoded = protocol::decode(boost::json::parse(text));
  EXPECT_TRUE(std::holds_alternative<protocol::Decoded>(decoded)) << text;
  return std::get<protocol::PotEvent>(std::get<protocol::Decoded>(decoded).message);
}

TEST(AppendPotEvent, EmbedsTheLineAndNamesTheEvent) {
  std::string out;
  const std::string line =
      R"({"eventid":"cowrie.login.failed","honeybee_honeypot_id":"cowrie-01","honeybee_honeypot_type":"cowrie",)"
      R"("timestamp":"2026-11-22T13:07:11.664391Z","src_ip":"203.0.113.9"})";
  append_pot_event(out, 16298147445003569694ULL, 42, 1'000, "", line + "\r", true);
  ASSERT_EQ(out.back(), '\n');
  auto e = decode_pot_event(out);
  EXPECT_EQ(e.node_id, 16298147445003569694ULL);
  EXPECT_EQ(e.pot_id, "cowrie-01");
  EXPECT_EQ(e.pot_type, "cowrie");
  EXPECT_EQ(e.event_type, "cowrie.login.failed");
  EXPECT_EQ(e.timestamp, "2026-11-22T13:07:11.664391Z");
  EXPECT_EQ(e.data, boost::json::parse(line).as_object());
  EXPECT_EQ(e.event_id, "16298147445003569694-42");
  EXPECT_EQ(e.seq, 42u);
}

TEST(AppendPotEvent, WithoutOwnTimeTheNodesReceiptTimeIsSentSoResendsMatch) {
  std::string first;
  std::string again;
  append_pot_event(first, 7, 1, 1'700'000'000'123'456, "", R"({"pot_id":"p","event_type":"x"})", false);
  append_pot_event(again, 7, 1, 1'700'000'000'123'456, "", R"({"pot_id":"p","event_type":"x"})", false);
  EXPECT_EQ(first, again);
  auto e = decode_pot_event(first);
  EXPECT_EQ(e.timestamp, "2023-11-14T22:13:20.123456Z");
  EXPECT_FALSE(e.seq.has_value()) << "no seq to a core without event_ack";
}

TEST(AppendPotEvent, OriginFillsAMissingPotIdAndReplacesCowriesSensor) {
  std::string out;
  append_pot_event(out, 7, 1, 1, "cowrie-01", R"({"eventid":"cowrie.session.connect","sensor":"vm"})", true);
  EXPECT_EQ(decode_pot_event(out).pot_id, "cowrie-01");
  out.clear();
  append_pot_event(out, 7, 1, 1, "cowrie-01", R"({"event_type":"x"})", true);
  EXPECT_EQ(decode_pot_event(out).pot_id, "cowrie-01");
  out.clear();
  append_pot_event(out, 7, 1, 1, "cowrie-01", R"({"pot_id":"other","sensor":"other"})", true);
  EXPECT_EQ(decode_pot_event(out).pot_id, "other") << "the record's own pot id wins";
  out.clear();
  append_pot_event(out, 7, 1, 1, "", R"({"sensor":"vm"})", true);
  EXPECT_EQ(decode_pot_event(out).pot_id, "vm");
}

}  // namespace
}  // namespace honeycomb::node
