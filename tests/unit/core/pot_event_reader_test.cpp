// read_pot_event (the core sessions' direct PotEvent reader) against the
// general path it stands in for: Framer value -> protocol::decode ->
// events::normalize. Where it takes an envelope, every field of the Event
// must be the general path's and the record's text must be the same JSON;
// where it must not (other messages and shapes), it declines.
#include "core/pot_event_reader.hpp"

#include "common/json_equal.hpp"
#include "events/normalize.hpp"
#include "protocol/codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace honeycomb::core {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNow = 1'795'352'890'000'000;

/// The general path: the envelope parsed, decoded, normalised as the
/// session's on_value() does.
std::optional<ReadPotEvent> general(const std::string& line) {
  json::error_code ec;
  auto value = json::parse(line, ec);
  if (ec) {
    return std::nullopt;
  }
  auto decoded = protocol::decode(std::move(value));
  auto* d = std::get_if<protocol::Decoded>(&decoded);
  if (d == nullptr) {
    return std::nullopt;
  }
  auto* m = std::get_if<protocol::PotEvent>(&d->message);
  if (m == nullptr) {
    return std::nullopt;
  }
  events::Envelope env;
  env.node_id = m->node_id;
  env.pot_id = m->pot_id;
  env.pot_type = m->pot_type;
  env.event_type = m->event_type;
  env.timestamp = m->timestamp;
  env.event_id = m->event_id.value_or("");
  return ReadPotEvent{events::normalize(m->data, env, kNow), m->seq};
}

using json_equal::same_json;

void expect_same(const ReadPotEvent& got, const ReadPotEvent& want, const std::string& line) {
  SCOPED_TRACE(line);
  const auto &a = got.event, &b = want.event;
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.received_us, b.received_us);
  EXPECT_EQ(a.event_us, b.event_us);
  EXPECT_EQ(a.node_id, b.node_id);
  EXPECT_EQ(a.pot_id, b.pot_id);
  EXPECT_EQ(a.pot_type, b.pot_type);
  EXPECT_EQ(a.event_type, b.event_type);
  EXPECT_EQ(a.src_ip, b.src_ip);
  EXPECT_EQ(a.src_port, b.src_port);
  EXPECT_EQ(a.dst_ip, b.dst_ip);
  EXPECT_EQ(a.dst_port, b.dst_port);
  EXPECT_EQ(a.username, b.username);
  EXPECT_EQ(a.password, b.password);
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.session, b.session);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(got.seq, want.seq);
  json::error_code ec;
  const auto raw = json::parse(a.raw_json, ec);
  ASSERT_FALSE(ec) << a.raw_json;
  EXPECT_TRUE(same_json(raw, json::parse(b.raw_json))) << a.raw_json << "\nvs\n" << b.raw_json;
}

/// Reads `line` both ways; the direct reader must take it.
ReadPotEvent taken(const std::string& line) {
  auto want = general(line);
  EXPECT_TRUE(want.has_value()) << "the general path refuses " << line;
  auto got = read_pot_event(line, kNow);
  EXPECT_TRUE(got.has_value()) << "declined: " << line;
  if (got && want) {
    expect_same(*got, *want, line);
  }
  return got ? std::move(*got) : ReadPotEvent{};
}

std::string envelope(const std::string& pot_members) {
  return R"({"version":2,"message":{"PotEvent":{)" + pot_members + "}}}";
}

std::vector<std::string> sample_lines(const std::string& name) {
  std::ifstream in(std::string(HONEYCOMB_SOURCE_DIR) + "/tests/data/event-port/" + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// Every sample record, as our node sends it (protocol::encode), is read
// directly to the general path's Event, except the records with a list
// where the field table wants text (Cowrie's `message: [...]`).
TEST(PotEventReader, SampleRecordsAsTheNodeSendsThem) {
  std::size_t read = 0, declined = 0;
  for (const char* file : {"cowrie-honeybee-output.jsonl", "cowrie-socketlog-output.jsonl", "honnypotter.jsonl"}) {
    std::uint64_t seq = 0;
    for (const auto& text : sample_lines(file)) {
      json::error_code ec;
      auto record = json::parse(text, ec);
      ASSERT_FALSE(ec) << text;
      protocol::PotEvent m;
      m.node_id = 16298147445003569694ULL;
      m.pot_id = "pot-1";
      m.pot_type = "cowrie";
      m.event_type = "cowrie.test";
      m.timestamp = seq % 2 == 0 ? "2026-11-22T13:08:10.220202Z" : "";
      m.data = record.as_object();
      m.seq = ++seq;
      std::string line = protocol::encode(m);
      line.pop_back();  // the '\n'
      const auto want = general(line);
      ASSERT_TRUE(want.has_value()) << line;
      if (auto got = read_pot_event(line, kNow)) {
        expect_same(*got, *want, line);
        ++read;
      } else {
        EXPECT_NE(text.find("\"message\": ["), std::string::npos) << "declined: " << line;
        ++declined;
      }
    }
  }
  EXPECT_GE(read, 100u);
  EXPECT_LE(declined * 10, read);
}

TEST(PotEventReader, RecordTextIsCompactAndKeepsNumbersAsSent) {
  const auto e = taken(envelope(
      R"( "node_id" : 7 , "pot_id":"p","event_type":"login", "data" : { "a" : [ 1.0 , 2 , {"b" : null} , [ ] ] ,)"
      R"( "ratio": 1.50, "big": 123456789012345678901234567890, "neg": -0, "t": true, "f": false, "o": {} } )"));
  EXPECT_EQ(e.event.raw_json,
            R"({"a":[1.0,2,{"b":null},[]],"ratio":1.50,"big":123456789012345678901234567890,"neg":-0,"t":true,)"
            R"("f":false,"o":{}})");
  EXPECT_EQ(e.event.node_id, 7u);
}

// Escapes stay as sent in the record's text; their values are read.
TEST(PotEventReader, EscapedTextIsKeptAndRead) {
  const auto e = taken(
      envelope(R"("node_id":1,"pot_id":"p\u002d1","event_type":"cmd","data":{"input":"echo \"hi\"\tthere\\ \u00e9\/",)"
               R"("us\u0065rname":"r\u006f\u006ft","x\ny":"\u0001"})"));
  EXPECT_EQ(e.event.pot_id, "p-1");
  EXPECT_EQ(e.event.command, "echo \"hi\"\tthere\\ \xc3\xa9/");
  EXPECT_EQ(e.event.username, "root");  // an escaped key of the table is still read
  EXPECT_EQ(e.event.raw_json,
            R"({"input":"echo \"hi\"\tthere\\ \u00e9\/","us\u0065rname":"r\u006f\u006ft","x\ny":"\u0001"})");
}

// Where the record's text ends is found back from the next member or the
// envelope's end, whatever whitespace and members come around it.
TEST(PotEventReader, RecordAnywhereInTheEnvelope) {
  auto e = taken(R"( {"message" : {"PotEvent" : {"pot_id":"p","data" : {"a": [1, {}], "b" : "}"} ,"node_id":1,)"
                 R"("event_type":"x"} } , "version" : 2 } )");
  EXPECT_EQ(e.event.raw_json, R"({"a":[1,{}],"b":"}"})");
  e = taken(
      R"({"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","data":{"k":"v\"}"} } },"version":2})");
  EXPECT_EQ(e.event.raw_json, R"({"k":"v\"}"})");
  e = taken(R"({"version":2,"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","data":{"k":{}}}}})");
  EXPECT_EQ(e.event.raw_json, R"({"k":{}})");
  e = taken(R"({"version":2,"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","data":{}}}})");
  EXPECT_EQ(e.event.raw_json, "{}");
}

// The record's `data` and `metadata` objects are read for fields too (the
// seed's and the Go node's shapes), and the last of repeated members counts,
// as in the document the general path builds.
TEST(PotEventReader, NestedLayersAndRepeatedMembers) {
  auto e = taken(envelope(
      R"("node_id":1,"pot_id":"p","event_type":"x","timestamp":"","data":{"data":{"src_ip":"10.0.0.1","dst_port":"22"},)"
      R"("metadata":{"username":"admin","src_ip":"10.9.9.9"},"password":"a","password":"b","time":1795352890.25,)"
      R"("deeper":{"data":{"src_port":5}}})"));
  EXPECT_EQ(e.event.src_ip, "10.0.0.1");
  EXPECT_EQ(e.event.dst_port, 22);
  EXPECT_EQ(e.event.username, "admin");
  EXPECT_EQ(e.event.password, "b");
  EXPECT_EQ(e.event.src_port, 0);
  EXPECT_EQ(e.event.event_us, 1'795'352'890'250'000);

  // A later `data` that is not an object replaces the first: no layer.
  e = taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"data":{"src_ip":"10.0.0.1"},"data":5})"));
  EXPECT_EQ(e.event.src_ip, "");
  e = taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"data":{"src_ip":"1.1.1.1"},"data":[1]})"));
  EXPECT_EQ(e.event.src_ip, "");
  e = taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"data":1,"data":{"src_ip":"2.2.2.2"}})"));
  EXPECT_EQ(e.event.src_ip, "2.2.2.2");
}

TEST(PotEventReader, OptionalMembersAndNulls) {
  auto e = taken(envelope(R"("node_id":18446744073709551615,"pot_id":"p","event_type":"x")"));
  EXPECT_EQ(e.event.raw_json, "{}");
  EXPECT_EQ(e.event.node_id, 18446744073709551615ULL);
  EXPECT_FALSE(e.seq.has_value());
  e = taken(envelope(
      R"("node_id":1,"pot_id":"p","pot_type":null,"event_type":"x","timestamp":null,"event_id":null,"seq":null,"data":null)"));
  EXPECT_EQ(e.event.raw_json, "{}");
  e = taken(envelope(R"("seq":9,"event_id":"abc","data":{},"event_type":"x","pot_id":"p","node_id":1)") + "\r\n");
  EXPECT_EQ(e.seq, 9u);
  EXPECT_EQ(e.event.event_id, "abc");
  // Members in another order, the envelope's too.
  taken(R"({"message":{"PotEvent":{"pot_id":"p","node_id":2,"event_type":"x"}},"version":2})");
}

// What the direct reader leaves to the general path: it must decline, not
// read differently.
TEST(PotEventReader, DeclinesWhatItDoesNotTakeWhole) {
  const std::vector<std::string> lines = {
      // other messages
      R"({"version":2,"message":{"NodeStatusUpdate":{"node_id":1,"status":"Running"}}})",
      R"({"version":2,"message":"NodeDrop"})",
      // the Go node's PotEvent (event, metadata, message)
      envelope(R"("node_id":1,"pot_id":"p","event":"x","metadata":{"a":1},"message":"m")"),
      // a list or an object where the table wants text
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"message":["a","b"]})"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"data":{"username":{"a":1}}})"),
      // forms the general path converts
      envelope(R"("node_id":"1","pot_id":"p","event_type":"x")"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","timestamp":1795352890)"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":"text")"),
      R"({"version":2,"message":{"potevent":{"node_id":1,"pot_id":"p","event_type":"x"}}})",
      // a number out of range (the general path writes null)
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"src_port":1e999})"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"n":[-1e400]})"),
      // version other than 2, or missing
      R"({"version":1,"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x"}}})",
      R"({"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x"}}})",
      // errors the general path reports
      envelope(R"("node_id":1,"event_type":"x")"),
      envelope(R"("node_id":-1,"pot_id":"p","event_type":"x")"),
      envelope(R"("node_id":1,"pot_id":null,"event_type":"x")"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","seq":1.5)"),
      // unknown or repeated members
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","extra":1)"),
      envelope(R"("node_id":1,"pot_id":"p","pot_id":"q","event_type":"x")"),
      R"({"version":2,"version":2,"message":{"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x"}}})",
      // not one value
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x")") +
          envelope(R"("node_id":1,"pot_id":"p","event_type":"x")"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x")") + " x",
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"a":tru})"),
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"a":")"
               "\xff"
               R"("})"),  // not UTF-8
      R"(["PotEvent"])",
      "",
      "42",
      // deeper than the Framer's parser allows
      envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":)" + std::string(40, '[') + std::string(40, ']')),
  };
  for (const auto& line : lines) {
    EXPECT_FALSE(read_pot_event(line, kNow).has_value()) << line;
  }
  // ... and the reader is usable after each of them.
  taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"src_ip":"1.2.3.4"})"));
}

// A parse stopped inside a long key or string (reported in parts) leaves
// nothing behind for the next envelope (found by fuzz/pot_event_reader_fuzz).
TEST(PotEventReader, NothingLeftOverFromAStoppedParse) {
  const std::string long_text = "\\u0041" + std::string(20'000, 'x');
  for (const std::string& cut : {envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{")" + long_text),
                                 envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"k":")" + long_text),
                                 envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"k":12345)")}) {
    EXPECT_FALSE(read_pot_event(cut + "\x01", kNow).has_value());
    const auto e = taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":{"username":"u","n":5})"));
    EXPECT_EQ(e.event.username, "u");
    EXPECT_EQ(e.event.raw_json, R"({"username":"u","n":5})");
  }
}

// A record whose small copy outgrows the reader's inline buffer.
TEST(PotEventReader, LargeRecords) {
  std::string data = R"({"message":")" + std::string(100'000, 'm') + R"(","filler":[)";
  for (int i = 0; i < 5000; ++i) {
    data += (i ? "," : "") + std::to_string(i);
  }
  data += R"(],"username":")" + std::string(5000, 'u') + "\"}";
  const auto e = taken(envelope(R"("node_id":1,"pot_id":"p","event_type":"x","data":)" + data));
  EXPECT_EQ(e.event.message.size(), 100'000u);
  EXPECT_EQ(e.event.raw_json, data);
}

}  // namespace
}  // namespace honeycomb::core
