#include "events/normalize.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace honeycomb::events {
namespace {

constexpr std::int64_t kReceived = 1'800'000'000'000'000;

std::vector<boost::json::object> read_sample(const std::string& name) {
  std::ifstream in(std::string(HONEYCOMB_SOURCE_DIR) + "/tests/data/event-port/" + name);
  EXPECT_TRUE(in) << name;
  std::vector<boost::json::object> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    out.push_back(boost::json::parse(line).as_object());
  }
  return out;
}

Event norm(std::string_view json, const Envelope& env = {}) {
  return normalize(boost::json::parse(json).as_object(), env, kReceived);
}

TEST(NormalizeTest, CowrieWithHoneyBeeOutput) {
  const auto records = read_sample("cowrie-honeybee-output.jsonl");
  ASSERT_EQ(records.size(), 71u);
  std::set<std::string> types;
  int logins = 0, commands = 0;
  for (const auto& r : records) {
    const Event e = normalize(r, Envelope{}, kReceived);
    EXPECT_EQ(e.pot_id, "cowrie-01");  // honeybee_honeypot_id wins over sensor "vm"
    EXPECT_EQ(e.pot_type, "cowrie");
    EXPECT_EQ(e.event_type.rfind("cowrie.", 0), 0u) << e.event_type;
    EXPECT_EQ(e.src_ip, "127.0.0.1");
    EXPECT_FALSE(e.session.empty());
    EXPECT_TRUE(e.event_id.empty()) << "Cowrie's uuid is the sensor's, not the event's";
    EXPECT_GT(e.event_us, 1'795'352'000'000'000);
    EXPECT_LT(e.event_us, 1'795'353'000'000'000);
    EXPECT_EQ(boost::json::parse(e.raw_json).as_object(), r);
    types.insert(e.event_type);
    if (e.event_type == "cowrie.login.failed" || e.event_type == "cowrie.login.success") {
      ++logins;
      EXPECT_FALSE(e.username.empty());
      EXPECT_FALSE(e.password.empty());
    }
    if (e.event_type == "cowrie.command.input") {
      ++commands;
      EXPECT_FALSE(e.command.empty());
    }
    if (e.event_type == "cowrie.session.connect") {
      EXPECT_GT(e.src_port, 0);
      EXPECT_TRUE(e.dst_port == 12222 || e.dst_port == 12223) << e.dst_port;  // ssh, telnet
      EXPECT_EQ(e.dst_ip, "127.0.0.1");
    }
  }
  EXPECT_EQ(logins, 16);
  EXPECT_EQ(commands, 4);
  EXPECT_TRUE(types.count("cowrie.session.params"));

  const Event first = normalize(records.front(), Envelope{}, kReceived);
  EXPECT_EQ(first.event_us, 1'795'352'890'220'202);  // "2026-11-22T13:08:10.220202Z", not the float `time`
  EXPECT_EQ(first.src_port, 59064);
  EXPECT_EQ(first.session, "30256de4f1f5");
  EXPECT_EQ(first.message, "New connection: 127.0.0.1:59064 (127.0.0.1:12222) [session: 30256de4f1f5]");
}

TEST(NormalizeTest, CowrieCommandAndLogin) {
  const auto records = read_sample("cowrie-honeybee-output.jsonl");
  bool saw_command = false, saw_login = false;
  for (const auto& r : records) {
    const Event e = normalize(r, Envelope{}, kReceived);
    if (e.command == "uname -a; ls") {
      saw_command = true;
      EXPECT_EQ(e.event_type, "cowrie.command.input");
    }
    if (e.event_type == "cowrie.login.success" && e.username == "root" && e.password == "123456") {
      saw_login = true;
    }
  }
  EXPECT_TRUE(saw_command);
  EXPECT_TRUE(saw_login);
}

TEST(NormalizeTest, CowrieSocketlogUsesSensorAsPotAndEnvelopeWins) {
  const auto records = read_sample("cowrie-socketlog-output.jsonl");
  ASSERT_EQ(records.size(), 30u);
  for (const auto& r : records) {
    EXPECT_EQ(normalize(r, Envelope{}, kReceived).pot_id, "vm");
    Envelope env;
    env.node_id = 18446744073709551615ull;
    env.pot_id = "cowrie-02";
    env.pot_type = "cowrie";
    const Event e = normalize(r, env, kReceived);
    EXPECT_EQ(e.pot_id, "cowrie-02");
    EXPECT_EQ(e.node_id, 18446744073709551615ull);
    EXPECT_TRUE(e.event_id.empty());
  }
}

TEST(NormalizeTest, HonnyPotter) {
  const auto records = read_sample("honnypotter.jsonl");
  ASSERT_EQ(records.size(), 5u);
  const Event e = normalize(records.front(), Envelope{}, kReceived);
  EXPECT_EQ(e.pot_id, "wp-01");
  EXPECT_EQ(e.pot_type, "honnypotter");
  EXPECT_EQ(e.event_type, "honnypotter.login.failed");
  EXPECT_EQ(e.event_us, 1'795'352'897'000'000);  // integer epoch seconds
  EXPECT_EQ(e.src_ip, "127.0.0.1");
  EXPECT_EQ(e.src_port, 54132);
  EXPECT_EQ(e.dst_port, 18081);
  EXPECT_EQ(e.username, "user1");
  EXPECT_EQ(e.password, "pass1");
  EXPECT_EQ(e.url, "/wp-login.php");  // request_uri, "\/" unescaped
  EXPECT_EQ(e.message, "Failed login attempt: user1 from 127.0.0.1");
  EXPECT_EQ(normalize(records.back(), Envelope{}, kReceived).src_ip, "203.0.113.9");
}

TEST(NormalizeTest, SeedShapeDataObjectCounts) {
  const Event e =
      norm(R"({"pot_id":"cowrie-01","pot_type":"cowrie","event_type":"login","timestamp":"2024-01-15T10:30:00Z",)"
           R"("data":{"username":"admin","password":"x","src_ip":"198.51.100.7","src_port":"2222"}})");
  EXPECT_EQ(e.pot_id, "cowrie-01");
  EXPECT_EQ(e.event_type, "login");
  EXPECT_EQ(e.username, "admin");
  EXPECT_EQ(e.password, "x");
  EXPECT_EQ(e.src_ip, "198.51.100.7");
  EXPECT_EQ(e.src_port, 2222);
  EXPECT_EQ(e.event_us, 1'705'314'600'000'000);
}

TEST(NormalizeTest, GoNodeMetadataCounts) {
  const Event e = norm(R"({"event":"connection","metadata":{"src_ip":"192.0.2.1","dst_port":"22"}})");
  EXPECT_EQ(e.event_type, "connection");
  EXPECT_EQ(e.src_ip, "192.0.2.1");
  EXPECT_EQ(e.dst_port, 22);
}

TEST(NormalizeTest, HoneycombAlert) {
  const Event e =
      norm(R"({"id":"5f0c3f4e-8f0e-4d7a-9b8c-2a1f3e4d5c6b","timestamp":"2026-11-22T13:08:10.5+01:00",)"
           R"("event_type":"http_request","event_description":"HTTP request","status":"Alert","service":"simple_http",)"
           R"("originating_ip":"2001:db8::5","originating_port":41000,"dest_ip":"10.0.0.2","dest_port":8080,)"
           R"("request":"/admin","username":"u","cmd":"id"})");
  EXPECT_EQ(e.event_id, "5f0c3f4e-8f0e-4d7a-9b8c-2a1f3e4d5c6b");
  EXPECT_EQ(e.pot_type, "simple_http");
  EXPECT_EQ(e.event_type, "http_request");
  EXPECT_EQ(e.src_ip, "2001:db8::5");
  EXPECT_EQ(e.src_port, 41000);
  EXPECT_EQ(e.dst_ip, "10.0.0.2");
  EXPECT_EQ(e.dst_port, 8080);
  EXPECT_EQ(e.url, "/admin");
  EXPECT_EQ(e.command, "id");
  EXPECT_EQ(e.message, "HTTP request");
  EXPECT_EQ(e.event_us, 1'795'349'290'500'000);
}

TEST(NormalizeTest, ShortIdIsNotAnEventId) {
  EXPECT_TRUE(norm(R"({"id":"1"})").event_id.empty());
  EXPECT_TRUE(norm(R"({"id":12345678901234567})").event_id.empty());
  EXPECT_EQ(norm(R"({"event_id":"1"})").event_id, "1");
  Envelope env;
  env.event_id = "from-envelope";
  EXPECT_EQ(norm(R"({"event_id":"1"})", env).event_id, "from-envelope");
}

TEST(NormalizeTest, OddTypesNeverThrow) {
  const Event e =
      norm(R"({"message":[],"msg":"fallback","username":"b'r\\xffoot'","src_port":"abc","source_port":70000,)"
           R"("remote_port":22.0,"dst_port":-1,"port":null,"password":123,"input":["ls","id"],"session":{"a":1},)"
           R"("timestamp":"garbage","time":1795352890.2202024,"url":true,"eventid":false})");
  EXPECT_EQ(e.message, "fallback");  // an empty list falls through to the next key
  EXPECT_EQ(e.username, "b'r\\xffoot'");
  EXPECT_EQ(e.src_port, 22);  // "abc" and 70000 invalid, 22.0 accepted
  EXPECT_EQ(e.dst_port, 0);
  EXPECT_EQ(e.password, "123");
  EXPECT_EQ(e.command, "ls\nid");
  EXPECT_EQ(e.session, R"({"a":1})");
  EXPECT_NEAR(static_cast<double>(e.event_us), 1'795'352'890'220'202.0, 2.0);  // float `time`
  EXPECT_EQ(e.url, "true");
  EXPECT_EQ(e.event_type, "false");

  const Event empty = norm("{}");
  EXPECT_EQ(empty.event_us, kReceived);
  EXPECT_EQ(empty.received_us, kReceived);
  EXPECT_EQ(empty.raw_json, "{}");
  EXPECT_EQ(norm(R"({"message":["a",1,null,["b"]]})").message, "a\n1\n\nb");
  EXPECT_EQ(norm(R"({"data":"not an object","username":"u"})").username, "u");
}

TEST(NormalizeTest, EveryFieldWithEveryValueTypeNeverThrows) {
  const auto values =
      boost::json::parse(R"([null, true, false, 0, -1, 1.5, 1e300, 18446744073709551615, -9223372036854775808, "",)"
                         R"( "x", "65536", "b'r\\xffoot'", "2024-13-45T99:99:99Z", [], [1, [2, {"a": null}]],)"
                         R"( {"a": 1}])")
          .as_array();
  auto records = read_sample("cowrie-honeybee-output.jsonl");
  const auto hp = read_sample("honnypotter.jsonl");
  records.insert(records.end(), hp.begin(), hp.end());
  std::size_t n = 0;
  for (const auto& row : field_table()) {
    for (const auto key : row.keys) {
      if (key.empty()) {
        break;
      }
      for (const auto& v : values) {
        for (const bool nested : {false, true}) {
          boost::json::object r = records[n++ % records.size()];
          if (nested) {
            r["data"] = boost::json::object{{key, v}};
          } else {
            r[key] = v;
          }
          EXPECT_NO_THROW({
            const Event e = normalize(r, Envelope{}, kReceived);
            EXPECT_GE(e.src_port, 0);
            EXPECT_LE(e.src_port, 65535);
            EXPECT_GE(e.dst_port, 0);
            EXPECT_LE(e.dst_port, 65535);
          }) << key;
        }
      }
    }
  }
  EXPECT_GT(n, 1000u);
}

TEST(NormalizeTest, ParseTime) {
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00Z"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15 10:30:00"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00.123456Z"), 1'705'314'600'123'456);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00.1234567891Z"), 1'705'314'600'123'456);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00.5+01:00"), 1'705'311'000'500'000);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00-0230"), 1'705'323'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30:00+01"), 1'705'311'000'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15T10:30Z"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15 10:30:00 UTC"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("2024-01-15"), 1'705'276'800'000'000);
  EXPECT_EQ(parse_time_us("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_us("1705314600"), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("1705314600.25"), 1'705'314'600'250'000);
  EXPECT_EQ(parse_time_us(" 1705314600 "), 1'705'314'600'000'000);
  EXPECT_EQ(parse_time_us("1705314600123"), 1'705'314'600'123'000);  // milliseconds
  for (const char* bad : {"", "x", "2024-13-01T00:00:00Z", "2024-01-15T25:00:00Z", "2024-01-15T10:30:00Zjunk",
                          "2024-01-15X10:30", "-5", "1.2.3", ".5", "5.", "2024-01-15T10:30:00+1"}) {
    EXPECT_FALSE(parse_time_us(bad).has_value()) << bad;
  }
}

TEST(NormalizeTest, FormatTimeRoundTrips) {
  EXPECT_EQ(format_time_us(1'705'314'600'123'456), "2024-01-15T10:30:00.123456Z");
  EXPECT_EQ(format_time_us(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_time_us(-1), "1969-12-31T23:59:59.999999Z");
  for (std::int64_t us :
       {std::int64_t{951'782'400'000'000}, std::int64_t{1'795'352'890'220'202}, std::int64_t{4'102'444'800'000'001}}) {
    EXPECT_EQ(parse_time_us(format_time_us(us)), us);
  }
}

TEST(NormalizeTest, FieldTableIsDocumented) {
  std::ifstream in(std::string(HONEYCOMB_SOURCE_DIR) + "/docs/EVENTS.md");
  ASSERT_TRUE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& row : field_table()) {
    std::string keys;
    for (const auto k : row.keys) {
      if (k.empty()) {
        break;
      }
      keys += keys.empty() ? "" : ", ";
      keys += "`" + std::string(k) + "`";
    }
    const std::string line = "| `" + std::string(row.field) + "` | " + keys + " |";
    EXPECT_NE(doc.find(line), std::string::npos) << "docs/EVENTS.md lacks the row: " << line;
  }
}

}  // namespace
}  // namespace honeycomb::events
