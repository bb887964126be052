// decode(): every form of ../shared/specs/honeybee-protocol.md §2 and §4.
#include "protocol/codec.hpp"
#include "test_util.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace honeycomb::protocol {
namespace {

using test::decode_as;
using test::decode_error;
using test::decode_ok;
using test::envelope;
using test::message_error;
using ::testing::HasSubstr;

// ---- envelope ----

TEST(ProtocolDecode, EnvelopeVersion) {
  EXPECT_EQ(decode_ok(R"({"version":2,"message":"NodeDrop"})").version, 2);
  EXPECT_EQ(decode_ok(R"({"message":"NodeDrop","version":2})").version, 2);
  // A missing or other version is still decoded: the caller logs the mismatch.
  EXPECT_EQ(decode_ok(R"({"version":1,"message":"NodeDrop"})").version, 1);
  EXPECT_EQ(decode_ok(R"({"version":3,"message":"NodeDrop"})").version, 3);
  EXPECT_EQ(decode_ok(R"({"message":"NodeDrop"})").version, 0);
  EXPECT_EQ(decode_ok(R"({"version":"2","message":"NodeDrop"})").version, 0);
  EXPECT_EQ(decode_ok(R"({"version":18446744073709551615,"message":"NodeDrop"})").version, -1);
}

TEST(ProtocolDecode, EnvelopeErrors) {
  EXPECT_THAT(decode_error(R"([1,2])"), HasSubstr("envelope is not a JSON object"));
  EXPECT_THAT(decode_error(R"("NodeDrop")"), HasSubstr("envelope is not a JSON object"));
  EXPECT_THAT(decode_error(R"(null)"), HasSubstr("envelope is not a JSON object"));
  EXPECT_THAT(decode_error(R"({"version":2})"), HasSubstr("no message"));
  EXPECT_THAT(decode_error(envelope("42")), HasSubstr("message: expected a variant"));
  EXPECT_THAT(decode_error(envelope("null")), HasSubstr("message"));
  EXPECT_THAT(decode_error(envelope("{}")), HasSubstr("exactly one variant"));
  EXPECT_THAT(decode_error(envelope(R"({"NodeDrop":{},"NodeEvent":"Started"})")), HasSubstr("exactly one variant"));
  EXPECT_THAT(decode_error(envelope(R"({"NodeExplode":{}})")), HasSubstr("unknown variant \"NodeExplode\""));
  EXPECT_THAT(decode_error(envelope(R"("Hello")")), HasSubstr("unknown variant \"Hello\""));
}

TEST(ProtocolDecode, StructVariantNeedsAnObject) {
  EXPECT_EQ(message_error(R"("NodeRegistration")"), "NodeRegistration: expected an object, got a bare name");
  EXPECT_EQ(message_error(R"({"NodeStatusUpdate":[1]})"), "NodeStatusUpdate: expected an object, got array");
  EXPECT_EQ(message_error(R"({"PotEvent":"x"})"), "PotEvent: expected an object, got string");
  EXPECT_THAT(message_error(R"({"NodeCommand":null})"), HasSubstr("NodeCommand: expected an object"));
}

TEST(ProtocolDecode, UnknownFieldsAreIgnored) {
  const auto m = decode_as<NodeStatusUpdate>(R"({"NodeStatusUpdate":{"node_id":5,"status":"Running","cpu":0.5}})");
  EXPECT_EQ(m.node_id, 5u);
  EXPECT_EQ(m.status, NodeStatus::running);
}

// ---- node_id ----

NodeId decoded_node_id(std::string_view id_json) {
  std::string m = R"({"NodeStatusUpdate":{"node_id":)";
  m.append(id_json).append(R"(,"status":"Running"}})");
  return decode_as<NodeStatusUpdate>(m).node_id;
}

std::string node_id_error(std::string_view id_json) {
  std::string m = R"({"NodeStatusUpdate":{"node_id":)";
  m.append(id_json).append(R"(,"status":"Running"}})");
  return message_error(m);
}

TEST(ProtocolDecode, NodeIdAcceptsTheWholeUnsigned64BitRange) {
  EXPECT_EQ(decoded_node_id("16298147445003569694"), 16298147445003569694ull);
  EXPECT_EQ(decoded_node_id("18446744073709551615"), 18446744073709551615ull);
  EXPECT_EQ(decoded_node_id("9223372036854775807"), 9223372036854775807ull);
  EXPECT_EQ(decoded_node_id("9223372036854775808"), 9223372036854775808ull);
  EXPECT_EQ(decoded_node_id("0"), 0u);
  EXPECT_EQ(decoded_node_id("42"), 42u);
}

TEST(ProtocolDecode, NodeIdAcceptsADecimalString) {
  EXPECT_EQ(decoded_node_id(R"("16298147445003569694")"), 16298147445003569694ull);
  EXPECT_EQ(decoded_node_id(R"("18446744073709551615")"), 18446744073709551615ull);
  EXPECT_EQ(decoded_node_id(R"("7")"), 7u);
}

TEST(ProtocolDecode, NodeIdRejectsOverflowNegativesFloatsAndOtherTypes) {
  const std::string reason = "NodeStatusUpdate: node_id is not an unsigned 64-bit integer";
  EXPECT_EQ(node_id_error("18446744073709551616"), reason);
  EXPECT_EQ(node_id_error("99999999999999999999999"), reason);
  EXPECT_EQ(node_id_error("-1"), reason);
  EXPECT_EQ(node_id_error("-9223372036854775808"), reason);
  EXPECT_EQ(node_id_error("1.5e19"), reason);
  EXPECT_EQ(node_id_error("1.0"), reason);
  EXPECT_EQ(node_id_error("1e3"), reason);
  EXPECT_EQ(node_id_error("true"), reason);
  EXPECT_EQ(node_id_error("[1]"), reason);
  EXPECT_EQ(node_id_error(R"("18446744073709551616")"), reason);
  EXPECT_EQ(node_id_error(R"("-1")"), reason);
  EXPECT_EQ(node_id_error(R"("+1")"), reason);
  EXPECT_EQ(node_id_error(R"(" 1")"), reason);
  EXPECT_EQ(node_id_error(R"("1 ")"), reason);
  EXPECT_EQ(node_id_error(R"("0x10")"), reason);
  EXPECT_EQ(node_id_error(R"("")"), reason);
  EXPECT_EQ(node_id_error(R"("1.5")"), reason);
  EXPECT_EQ(node_id_error("null"), "NodeStatusUpdate: node_id is missing");
  EXPECT_EQ(message_error(R"({"NodeStatusUpdate":{"status":"Running"}})"), "NodeStatusUpdate: node_id is missing");
}

// ---- NodeRegistration ----

TEST(ProtocolDecode, NodeRegistration) {
  const auto m = decode_as<NodeRegistration>(
      R"({"NodeRegistration":{"node_id":16298147445003569694,"node_name":"edge-1","address":"192.0.2.10",)"
      R"("port":9001,"node_type":"Full","totp_code":"123456"}})");
  EXPECT_EQ(m.node_id, 16298147445003569694ull);
  EXPECT_EQ(m.node_name, "edge-1");
  EXPECT_EQ(m.address, "192.0.2.10");
  EXPECT_EQ(m.port, 9001);
  EXPECT_EQ(m.node_type, NodeType::full);
  EXPECT_EQ(m.totp_code, "123456");
}

TEST(ProtocolDecode, NodeRegistrationOptionalTotpAndNodeTypeForms) {
  const std::string head = R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a","port":1,)";
  for (const char* form : {R"("Agent")", R"({"Agent":{}})", R"({"Agent":null})", R"("agent")", R"("AGENT")"}) {
    const auto m = decode_as<NodeRegistration>(head + R"("node_type":)" + form + "}}");
    EXPECT_EQ(m.node_type, NodeType::agent) << form;
    EXPECT_EQ(m.totp_code, std::nullopt) << form;
  }
  EXPECT_EQ(decode_as<NodeRegistration>(head + R"("node_type":{"Full":{}},"totp_code":null}})").node_type,
            NodeType::full);
  EXPECT_EQ(decode_as<NodeRegistration>(head + R"("node_type":"Full","totp_code":""}})").totp_code, "");
}

TEST(ProtocolDecode, NodeRegistrationErrorsNameTheField) {
  const std::string head = R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a",)";
  EXPECT_EQ(message_error(head + R"("port":65536,"node_type":"Full"}})"),
            "NodeRegistration: port is not a port number (0-65535)");
  EXPECT_EQ(message_error(head + R"("port":-1,"node_type":"Full"}})"),
            "NodeRegistration: port is not a port number (0-65535)");
  EXPECT_EQ(message_error(head + R"("port":"22","node_type":"Full"}})"),
            "NodeRegistration: port is not a port number (0-65535)");
  EXPECT_EQ(decode_as<NodeRegistration>(head + R"("port":65535,"node_type":"Full"}})").port, 65535);
  EXPECT_EQ(message_error(head + R"("node_type":"Full"}})"), "NodeRegistration: port is missing");
  EXPECT_EQ(message_error(head + R"("port":1,"node_type":"Sensor"}})"),
            "NodeRegistration: node_type is not \"Full\" or \"Agent\"");
  EXPECT_EQ(message_error(head + R"("port":1,"node_type":3}})"),
            "NodeRegistration: node_type is not \"Full\" or \"Agent\"");
  EXPECT_EQ(message_error(head + R"("port":1}})"), "NodeRegistration: node_type is missing");
  EXPECT_EQ(message_error(head + R"("port":1,"node_type":"Full","totp_code":123456}})"),
            "NodeRegistration: totp_code is not a string");
  EXPECT_EQ(
      message_error(R"({"NodeRegistration":{"node_id":1,"node_name":7,"address":"a","port":1,"node_type":"Full"}})"),
      "NodeRegistration: node_name is not a string");
  EXPECT_EQ(message_error(R"({"NodeRegistration":{"node_id":1,"address":"a","port":1,"node_type":"Full"}})"),
            "NodeRegistration: node_name is missing");
}

// ---- NodeStatusUpdate ----

TEST(ProtocolDecode, NodeStatusUpdateEveryStatusAndForm) {
  const std::pair<const char*, NodeStatus> cases[] = {
      {R"("Connected")", NodeStatus::connected},
      {R"("Deploying")", NodeStatus::deploying},
      {R"("Running")", NodeStatus::running},
      {R"("Stopped")", NodeStatus::stopped},
      {R"("Failed")", NodeStatus::failed},
      {R"("Unknown")", NodeStatus::unknown},
      {R"({"Running":{}})", NodeStatus::running},
      {R"({"Failed":null})", NodeStatus::failed},
      {R"("running")", NodeStatus::running},
      // Liberal: an unrecognised status is Unknown, not an error.
      {R"("Exploded")", NodeStatus::unknown},
      {R"("")", NodeStatus::unknown},
  };
  for (const auto& [status, expected] : cases) {
    const auto m =
        decode_as<NodeStatusUpdate>(std::string(R"({"NodeStatusUpdate":{"node_id":3,"status":)") + status + "}}");
    EXPECT_EQ(m.status, expected) << status;
    EXPECT_EQ(m.node_id, 3u);
  }
}

TEST(ProtocolDecode, NodeStatusUpdateErrors) {
  EXPECT_EQ(message_error(R"({"NodeStatusUpdate":{"node_id":3}})"), "NodeStatusUpdate: status is missing");
  EXPECT_EQ(message_error(R"({"NodeStatusUpdate":{"node_id":3,"status":4}})"),
            "NodeStatusUpdate: status is not a status name");
}

// ---- NodeEvent ----

TEST(ProtocolDecode, NodeEventEveryForm) {
  struct Case {
    const char* json;
    NodeEvent::Kind kind;
    const char* text;
  };
  const Case cases[] = {
      // serde (Rust) forms
      {R"("Started")", NodeEvent::Kind::started, ""},
      {R"("Stopped")", NodeEvent::Kind::stopped, ""},
      {R"({"Alarm":{"description":"disk full"}})", NodeEvent::Kind::alarm, "disk full"},
      {R"({"Error":{"message":"cowrie crashed"}})", NodeEvent::Kind::error, "cowrie crashed"},
      // unit forms
      {R"({"Started":{}})", NodeEvent::Kind::started, ""},
      {R"({"Stopped":null})", NodeEvent::Kind::stopped, ""},
      // the Go node's form
      {R"({"type":"Started"})", NodeEvent::Kind::started, ""},
      {R"({"type":"Stopped"})", NodeEvent::Kind::stopped, ""},
      {R"({"type":"Error","message":"unknown command"})", NodeEvent::Kind::error, "unknown command"},
      {R"({"type":"Alarm","description":"tamper"})", NodeEvent::Kind::alarm, "tamper"},
      // liberal extras: the other text field, a newtype string, no text
      {R"({"type":"Alarm","message":"tamper"})", NodeEvent::Kind::alarm, "tamper"},
      {R"({"Error":"boom"})", NodeEvent::Kind::error, "boom"},
      {R"("Error")", NodeEvent::Kind::error, ""},
      {R"({"Alarm":{}})", NodeEvent::Kind::alarm, ""},
      {R"({"type":"started","message":"ignored"})", NodeEvent::Kind::started, ""},
  };
  for (const auto& c : cases) {
    const auto m = decode_as<NodeEvent>(std::string(R"({"NodeEvent":)") + c.json + "}");
    EXPECT_EQ(m.kind, c.kind) << c.json;
    EXPECT_EQ(m.text, c.text) << c.json;
  }
}

TEST(ProtocolDecode, NodeEventErrors) {
  EXPECT_EQ(message_error(R"({"NodeEvent":"Crashed"})"), "NodeEvent: unknown event \"Crashed\"");
  EXPECT_EQ(message_error(R"({"NodeEvent":{"type":"Crashed"}})"), "NodeEvent: unknown event \"Crashed\"");
  EXPECT_EQ(message_error(R"({"NodeEvent":{"type":1}})"), "NodeEvent: type is not a string");
  EXPECT_EQ(message_error(R"({"NodeEvent":{"Error":{"message":5}}})"), "NodeEvent Error: message is not a string");
  EXPECT_EQ(message_error(R"({"NodeEvent":{"Alarm":[1]}})"), "NodeEvent: Alarm expected an object, got array");
  EXPECT_EQ(message_error(R"({"NodeEvent":5})"), "NodeEvent: expected a string or an object, got int64");
  EXPECT_EQ(message_error(R"("NodeEvent")"), "NodeEvent: expected an event, got a bare name");
  EXPECT_EQ(message_error(R"({"NodeEvent":{"Alarm":{},"Error":{}}})"), "NodeEvent: expected one event variant");
}

// ---- NodeDrop ----

TEST(ProtocolDecode, NodeDropEveryForm) {
  for (const char* form : {R"("NodeDrop")", R"({"NodeDrop":{}})", R"({"NodeDrop":null})"}) {
    const auto d = decode_ok(envelope(form));
    EXPECT_TRUE(std::holds_alternative<NodeDrop>(d.message)) << form;
  }
  EXPECT_EQ(message_error(R"({"NodeDrop":1})"), "NodeDrop: is a unit variant, got int64");
  EXPECT_EQ(message_error(R"({"NodeDrop":{"reason":"x"}})"), "NodeDrop: is a unit variant, got object");
}

// ---- PotStatusUpdate ----

TEST(ProtocolDecode, PotStatusUpdateDocumented) {
  const auto m = decode_as<PotStatusUpdate>(
      R"({"PotStatusUpdate":{"node_id":9,"pot_id":"cowrie-01","pot_type":"cowrie","status":"Running",)"
      R"("message":"started"}})");
  EXPECT_EQ(m.node_id, 9u);
  EXPECT_EQ(m.pot_id, "cowrie-01");
  EXPECT_EQ(m.pot_type, "cowrie");
  EXPECT_EQ(m.status, PotStatus::running);
  EXPECT_EQ(m.status_text, "Running");
  EXPECT_EQ(m.message, "started");
}

TEST(ProtocolDecode, PotStatusUpdateEveryStatus) {
  const std::pair<const char*, PotStatus> cases[] = {
      {R"("Installing")", PotStatus::installing}, {R"("Running")", PotStatus::running},
      {R"("Stopped")", PotStatus::stopped},       {R"("Failed")", PotStatus::failed},
      {R"({"Failed":{}})", PotStatus::failed},    {R"({"Stopped":null})", PotStatus::stopped},
      {R"("installing")", PotStatus::installing},
  };
  for (const auto& [status, expected] : cases) {
    const auto m = decode_as<PotStatusUpdate>(std::string(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p",)") +
                                              R"("pot_type":"t","status":)" + status + "}}");
    EXPECT_EQ(m.status, expected) << status;
    EXPECT_EQ(m.status_text, to_string(expected)) << status;  // canonical wire name
    EXPECT_EQ(m.message, std::nullopt);
  }
}

TEST(ProtocolDecode, PotStatusUpdateUnknownEmptyOrMissingStatusIsKept) {
  // The Go node's quirk (§4): status copied from an event, usually empty.
  auto m = decode_as<PotStatusUpdate>(
      R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","pot_type":"","status":"","message":"login attempt"}})");
  EXPECT_EQ(m.status, PotStatus::unknown);
  EXPECT_EQ(m.status_text, "");
  EXPECT_EQ(m.message, "login attempt");

  m = decode_as<PotStatusUpdate>(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","status":"session.closed"}})");
  EXPECT_EQ(m.status, PotStatus::unknown);
  EXPECT_EQ(m.status_text, "session.closed");
  EXPECT_EQ(m.pot_type, "");  // pot_type may be missing

  m = decode_as<PotStatusUpdate>(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","message":null}})");
  EXPECT_EQ(m.status, PotStatus::unknown);
  EXPECT_EQ(m.status_text, "");
  EXPECT_EQ(m.message, std::nullopt);

  m = decode_as<PotStatusUpdate>(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","status":null}})");
  EXPECT_EQ(m.status, PotStatus::unknown);
}

TEST(ProtocolDecode, PotStatusUpdateErrors) {
  EXPECT_EQ(message_error(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","status":5}})"),
            "PotStatusUpdate: status is not a string");
  EXPECT_EQ(message_error(R"({"PotStatusUpdate":{"node_id":1,"status":"Running"}})"),
            "PotStatusUpdate: pot_id is missing");
  EXPECT_EQ(message_error(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","message":["a"]}})"),
            "PotStatusUpdate: message is not a string");
  EXPECT_EQ(message_error(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","pot_type":{}}})"),
            "PotStatusUpdate: pot_type is not a string");
}

// ---- PotEvent ----

TEST(ProtocolDecode, PotEventDocumentedShape) {
  const auto m = decode_as<PotEvent>(
      R"({"PotEvent":{"node_id":16298147445003569694,"pot_id":"cowrie-01","pot_type":"cowrie",)"
      R"("event_type":"login","timestamp":"2024-01-15T10:30:00Z","data":{"username":"admin","n":[1,2]}}})");
  EXPECT_EQ(m.node_id, 16298147445003569694ull);
  EXPECT_EQ(m.pot_id, "cowrie-01");
  EXPECT_EQ(m.pot_type, "cowrie");
  EXPECT_EQ(m.event_type, "login");
  EXPECT_EQ(m.timestamp, "2024-01-15T10:30:00Z");
  EXPECT_EQ(m.data, test::parse_json(R"({"username":"admin","n":[1,2]})").as_object());
  EXPECT_EQ(m.event_id, std::nullopt);
}

TEST(ProtocolDecode, PotEventGoShapeIsConverted) {
  const auto m = decode_as<PotEvent>(
      R"({"PotEvent":{"node_id":16298147445003569694,"pot_id":"cowrie-01","event":"cowrie.login.failed",)"
      R"("message":"login attempt [root/123456] failed","metadata":{"src_ip":"203.0.113.7","username":"root"},)"
      R"("timestamp":1705314600}})");
  EXPECT_EQ(m.pot_id, "cowrie-01");
  EXPECT_EQ(m.pot_type, "");
  EXPECT_EQ(m.event_type, "cowrie.login.failed");
  EXPECT_EQ(m.timestamp, "2024-01-15T10:30:00Z");
  EXPECT_EQ(m.data, test::parse_json(R"({"src_ip":"203.0.113.7","username":"root",)"
                                     R"("message":"login attempt [root/123456] failed"})")
                        .as_object());
}

std::string converted_timestamp(std::string_view ts) {
  std::string m = R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e","timestamp":)";
  m.append(ts).append("}}");
  return decode_as<PotEvent>(m).timestamp;
}

TEST(ProtocolDecode, PotEventUnixTimestamps) {
  EXPECT_EQ(converted_timestamp("0"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(converted_timestamp("1705314600"), "2024-01-15T10:30:00Z");
  EXPECT_EQ(converted_timestamp("1705314600.5"), "2024-01-15T10:30:00.5Z");
  EXPECT_EQ(converted_timestamp("1705314600.123"), "2024-01-15T10:30:00.123Z");
  EXPECT_EQ(converted_timestamp("1705314600.000001"), "2024-01-15T10:30:00.000001Z");
  EXPECT_EQ(converted_timestamp("1705314600.0"), "2024-01-15T10:30:00Z");
  EXPECT_EQ(converted_timestamp("1.7053146e9"), "2024-01-15T10:30:00Z");
  EXPECT_EQ(converted_timestamp("1709164800"), "2024-02-29T00:00:00Z");  // leap day
  EXPECT_EQ(converted_timestamp("951782400"), "2000-02-29T00:00:00Z");
  EXPECT_EQ(converted_timestamp("4107542399"), "2100-02-28T23:59:59Z");
  EXPECT_EQ(converted_timestamp("-1"), "1969-12-31T23:59:59Z");
  EXPECT_EQ(converted_timestamp("-0.5"), "1969-12-31T23:59:59.5Z");
  EXPECT_EQ(converted_timestamp("253402300799"), "9999-12-31T23:59:59Z");
  EXPECT_EQ(converted_timestamp("-62167219200"), "0000-01-01T00:00:00Z");
  // A string is kept as sent, whichever shape.
  EXPECT_EQ(converted_timestamp(R"("2024-01-15T10:30:00.25+01:00")"), "2024-01-15T10:30:00.25+01:00");
  EXPECT_EQ(converted_timestamp("null"), "");
}

TEST(ProtocolDecode, PotEventTimestampOutOfRange) {
  const std::string head = R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e","timestamp":)";
  for (const char* ts : {"253402300800", "-62167219201", "1e300", "18446744073709551615", "-1e20"}) {
    EXPECT_EQ(message_error(head + ts + "}}"), "PotEvent: timestamp is out of range (years 0000-9999)") << ts;
  }
  EXPECT_EQ(message_error(head + "true}}"), "PotEvent: timestamp is neither ISO 8601 text nor unix seconds");
}

TEST(ProtocolDecode, PotEventDataThatIsNotAnObjectIsWrapped) {
  const std::string head = R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e","data":)";
  EXPECT_EQ(decode_as<PotEvent>(head + R"("raw line"}})").data,
            test::parse_json(R"({"value":"raw line"})").as_object());
  EXPECT_EQ(decode_as<PotEvent>(head + R"([1,"a"]}})").data, test::parse_json(R"({"value":[1,"a"]})").as_object());
  EXPECT_EQ(decode_as<PotEvent>(head + R"(7}})").data, test::parse_json(R"({"value":7})").as_object());
  EXPECT_TRUE(decode_as<PotEvent>(head + R"(null}})").data.empty());
  EXPECT_TRUE(decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e"}})").data.empty());
}

TEST(ProtocolDecode, PotEventGoMetadataEdgeCases) {
  const std::string head = R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e","timestamp":1,)";
  // Go writes a nil map as null.
  EXPECT_TRUE(decode_as<PotEvent>(head + R"("metadata":null}})").data.empty());
  EXPECT_EQ(decode_as<PotEvent>(head + R"("metadata":"x"}})").data,
            test::parse_json(R"({"metadata":"x"})").as_object());
  // Both shapes at once: data wins over metadata and message.
  EXPECT_EQ(decode_as<PotEvent>(head + R"("data":{"a":"1","message":"m1"},"metadata":{"a":"2","b":"3"},)"
                                       R"("message":"m2"}})")
                .data,
            test::parse_json(R"({"a":"1","message":"m1","b":"3"})").as_object());
}

TEST(ProtocolDecode, PotEventEventIdExtensionInBothShapes) {
  EXPECT_EQ(decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e","timestamp":1,)"
                                R"("event_id":"01HMCZ5Q3V0000000000000000"}})")
                .event_id,
            "01HMCZ5Q3V0000000000000000");
  EXPECT_EQ(decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e","timestamp":"t",)"
                                R"("data":{},"event_id":"abc"}})")
                .event_id,
            "abc");
  EXPECT_EQ(message_error(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e","event_id":5}})"),
            "PotEvent: event_id is not a string");
}

TEST(ProtocolDecode, EventAckExtensionFields) {
  // Announcement: absent, null, a list (names that are not strings skipped).
  auto reg = test::decode_as<NodeRegistration>(
      R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a","port":1,"node_type":"Full"}})");
  EXPECT_TRUE(reg.extensions.empty());
  reg = test::decode_as<NodeRegistration>(
      R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a","port":1,"node_type":"Full","extensions":null}})");
  EXPECT_TRUE(reg.extensions.empty());
  reg = test::decode_as<NodeRegistration>(
      R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a","port":1,"node_type":"Full",)"
      R"("extensions":["event_ack",7,{"x":1},"future"]}})");
  EXPECT_EQ(reg.extensions, (std::vector<std::string>{"event_ack", "future"}));
  EXPECT_NE(test::message_error(R"({"NodeRegistration":{"node_id":1,"node_name":"n","address":"a","port":1,)"
                                R"("node_type":"Full","extensions":"event_ack"}})")
                .find("NodeRegistration: extensions is not a list"),
            std::string::npos);
  const auto ack = test::decode_as<RegistrationAck>(
      R"({"RegistrationAck":{"node_id":1,"accepted":true,"extensions":["event_ack"]}})");
  EXPECT_EQ(ack.extensions, (std::vector<std::string>{"event_ack"}));

  // seq on PotEvent: a u64 (also as a decimal string), else an error.
  auto e = test::decode_as<PotEvent>(
      R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","seq":18446744073709551615}})");
  EXPECT_EQ(e.seq, 18446744073709551615ULL);
  e = test::decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","seq":"12"}})");
  EXPECT_EQ(e.seq, 12u);
  e = test::decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x"}})");
  EXPECT_FALSE(e.seq);
  EXPECT_NE(test::message_error(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"x","seq":-1}})")
                .find("PotEvent: seq is not an unsigned 64-bit integer"),
            std::string::npos);

  // EventAck itself.
  const auto a = test::decode_as<EventAck>(R"({"EventAck":{"node_id":16298147445003569694,"seq":"99"}})");
  EXPECT_EQ(a, (EventAck{16298147445003569694ULL, 99}));
  EXPECT_NE(test::message_error(R"({"EventAck":{"node_id":1}})").find("EventAck: seq is missing"), std::string::npos);
  EXPECT_NE(test::message_error(R"({"EventAck":{"node_id":1,"seq":1.5}})").find("EventAck: seq is not"),
            std::string::npos);
}

TEST(ProtocolDecode, PotEventErrors) {
  EXPECT_EQ(message_error(R"({"PotEvent":{"node_id":1,"pot_id":"p"}})"),
            "PotEvent: event_type is missing (and so is event)");
  EXPECT_EQ(message_error(R"({"PotEvent":{"node_id":1,"pot_id":"p","event":3}})"), "PotEvent: event is not a string");
  EXPECT_EQ(message_error(R"({"PotEvent":{"node_id":1,"event_type":"e"}})"), "PotEvent: pot_id is missing");
  EXPECT_EQ(message_error(R"({"PotEvent":{"node_id":-4,"pot_id":"p","event_type":"e"}})"),
            "PotEvent: node_id is not an unsigned 64-bit integer");
}

TEST(ProtocolDecode, MovingOverloadTakesDataAndKeepsPrecedence) {
  auto v = test::parse_json(envelope(R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e",)"
                                     R"("data":{"a":"1","message":"m1","big":[1,2,3]},"metadata":{"a":"2","b":"3"},)"
                                     R"("message":"m2"}})"));
  auto r = decode(std::move(v));
  ASSERT_TRUE(std::holds_alternative<Decoded>(r));
  EXPECT_EQ(std::get<PotEvent>(std::get<Decoded>(r).message).data,
            test::parse_json(R"({"a":"1","message":"m1","big":[1,2,3],"b":"3"})").as_object());
}

TEST(ProtocolDecode, DecodedDataNeverUsesTheCallersMemoryResource) {
  const auto text = envelope(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e","data":{"k":"v"}}})");
  const auto expected = test::parse_json(R"({"k":"v"})").as_object();
  boost::json::monotonic_resource mr;
  auto v = boost::json::parse(text, &mr);
  auto copied = decode(v);
  auto moved = decode(std::move(v));
  for (auto* r : {&copied, &moved}) {
    ASSERT_TRUE(std::holds_alternative<Decoded>(*r));
    const auto& data = std::get<PotEvent>(std::get<Decoded>(*r).message).data;
    EXPECT_EQ(data, expected);
    EXPECT_EQ(data.storage().get(), boost::json::storage_ptr().get());
  }
}

// decode_borrowed: the core's hot path keeps the record in the caller's
// memory (no copy), with the same precedence and non-finite rules.
TEST(ProtocolDecode, BorrowedDecodeKeepsDataInTheCallersMemoryResource) {
  const auto text = envelope(R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e",)"
                             R"("data":{"a":"1","message":"m1","x":1e400},"metadata":{"a":"2","b":"3"},)"
                             R"("message":"m2"}})");
  boost::json::monotonic_resource mr;
  auto v = boost::json::parse(text, &mr);
  auto r = decode_borrowed(std::move(v));
  ASSERT_TRUE(std::holds_alternative<Decoded>(r));
  const auto& data = std::get<PotEvent>(std::get<Decoded>(r).message).data;
  EXPECT_EQ(data, test::parse_json(R"({"a":"1","message":"m1","x":null,"b":"3"})").as_object());
  EXPECT_EQ(data.storage().get(), &mr);
  // Not a PotEvent, or not on a caller's resource: as decode().
  auto status = boost::json::parse(envelope(R"({"NodeStatusUpdate":{"node_id":7,"status":"Running"}})"), &mr);
  auto s = decode_borrowed(std::move(status));
  ASSERT_TRUE(std::holds_alternative<Decoded>(s));
  EXPECT_EQ(std::get<NodeStatusUpdate>(std::get<Decoded>(s).message).node_id, 7U);
  auto plain = test::parse_json(text);
  auto p = decode_borrowed(std::move(plain));
  ASSERT_TRUE(std::holds_alternative<Decoded>(p));
  EXPECT_EQ(std::get<PotEvent>(std::get<Decoded>(p).message).data.storage().get(), boost::json::storage_ptr().get());
}

TEST(ProtocolDecode, PotEventNumbersBeyondDoubleRangeBecomeNull) {
  // Boost.JSON parses 1e400 as infinity, which has no JSON form.
  const auto m = decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event_type":"e",)"
                                     R"("data":{"a":1e400,"b":[-1e400,1.5,{"c":1e999}],"d":2}}})");
  EXPECT_EQ(m.data, test::parse_json(R"({"a":null,"b":[null,1.5,{"c":null}],"d":2})").as_object());
  const auto go = decode_as<PotEvent>(R"({"PotEvent":{"node_id":1,"pot_id":"p","event":"e","metadata":{"x":1e400}}})");
  EXPECT_EQ(go.data, test::parse_json(R"({"x":null})").as_object());
}

// ---- RegistrationAck ----

TEST(ProtocolDecode, RegistrationAck) {
  auto m = decode_as<RegistrationAck>(
      R"({"RegistrationAck":{"node_id":18446744073709551615,"accepted":true,"message":"welcome",)"
      R"("totp_key":"JBSWY3DPEHPK3PXP"}})");
  EXPECT_EQ(m.node_id, 18446744073709551615ull);
  EXPECT_TRUE(m.accepted);
  EXPECT_EQ(m.message, "welcome");
  EXPECT_EQ(m.totp_key, "JBSWY3DPEHPK3PXP");
  m = decode_as<RegistrationAck>(R"({"RegistrationAck":{"node_id":2,"accepted":false,"message":null}})");
  EXPECT_FALSE(m.accepted);
  EXPECT_EQ(m.message, std::nullopt);
  EXPECT_EQ(m.totp_key, std::nullopt);
  EXPECT_EQ(message_error(R"({"RegistrationAck":{"node_id":2}})"), "RegistrationAck: accepted is missing");
  EXPECT_EQ(message_error(R"({"RegistrationAck":{"node_id":2,"accepted":"yes"}})"),
            "RegistrationAck: accepted is not a boolean");
}

// ---- NodeCommand ----

Command decoded_command(std::string_view command_json) {
  std::string m = R"({"NodeCommand":{"node_id":16298147445003569694,"command":)";
  m.append(command_json).append("}}");
  const auto c = decode_as<NodeCommand>(m);
  EXPECT_EQ(c.node_id, 16298147445003569694ull) << command_json;
  return c.command;
}

TEST(ProtocolDecode, NodeCommandUnitCommandsInEveryForm) {
  const std::pair<const char*, Command::Kind> units[] = {
      {"Restart", Command::Kind::restart},
      {"UpdateConfig", Command::Kind::update_config},
      {"GetInstalledPots", Command::Kind::get_installed_pots},
  };
  for (const auto& [name, kind] : units) {
    const std::string n = name;
    for (const std::string& form : {"\"" + n + "\"", R"({")" + n + R"(":{}})", R"({")" + n + R"(":null})"}) {
      const auto c = decoded_command(form);
      EXPECT_EQ(c.kind, kind) << form;
      EXPECT_EQ(c.pot_id, "") << form;
      EXPECT_EQ(c.install, std::nullopt) << form;
    }
  }
}

TEST(ProtocolDecode, NodeCommandPotCommands) {
  const std::pair<const char*, Command::Kind> pots[] = {
      {"DeployPot", Command::Kind::deploy_pot},          {"StopPot", Command::Kind::stop_pot},
      {"RestartPot", Command::Kind::restart_pot},        {"GetPotStatus", Command::Kind::get_pot_status},
      {"GetPotInfo", Command::Kind::get_pot_info},       {"GetPotLogs", Command::Kind::get_pot_logs},
      {"GetPotMetrics", Command::Kind::get_pot_metrics},
  };
  for (const auto& [name, kind] : pots) {
    const std::string n = name;
    auto c = decoded_command(R"({")" + n + R"(":"cowrie-01"})");
    EXPECT_EQ(c.kind, kind) << n;
    EXPECT_EQ(c.pot_id, "cowrie-01") << n;
    // liberal: a struct with pot_id
    c = decoded_command(R"({")" + n + R"(":{"pot_id":"p2"}})");
    EXPECT_EQ(c.kind, kind) << n;
    EXPECT_EQ(c.pot_id, "p2") << n;
    // a pot command without its pot id
    EXPECT_EQ(message_error(R"({"NodeCommand":{"node_id":1,"command":")" + n + R"("}})"),
              "NodeCommand: " + n + " needs a pot id string");
    EXPECT_EQ(message_error(R"({"NodeCommand":{"node_id":1,"command":{")" + n + R"(":7}}})"),
              "NodeCommand: " + n + " needs a pot id string");
  }
}

TEST(ProtocolDecode, NodeCommandInstallPot) {
  auto c = decoded_command(
      R"({"InstallPot":{"pot_id":"cowrie-01","honeypot_type":"cowrie","git_url":"https://example.org/c.git",)"
      R"("git_branch":"main","config":{"ssh_port":"2222","hostname":"srv"},"auto_start":true}})");
  EXPECT_EQ(c.kind, Command::Kind::install_pot);
  EXPECT_EQ(c.pot_id, "cowrie-01");
  ASSERT_TRUE(c.install.has_value());
  EXPECT_EQ(c.install->pot_id, "cowrie-01");
  EXPECT_EQ(c.install->honeypot_type, "cowrie");
  EXPECT_EQ(c.install->git_url, "https://example.org/c.git");
  EXPECT_EQ(c.install->git_branch, "main");
  EXPECT_EQ(c.install->config, (std::map<std::string, std::string>{{"ssh_port", "2222"}, {"hostname", "srv"}}));
  EXPECT_TRUE(c.install->auto_start);

  c = decoded_command(R"({"InstallPot":{"pot_id":"p","honeypot_type":"t","auto_start":false,"git_url":null}})");
  ASSERT_TRUE(c.install.has_value());
  EXPECT_EQ(c.install->git_url, std::nullopt);
  EXPECT_EQ(c.install->git_branch, std::nullopt);
  EXPECT_EQ(c.install->config, std::nullopt);
  EXPECT_FALSE(c.install->auto_start);
  // liberal: auto_start may be missing (Go omitempty): false
  c = decoded_command(R"({"InstallPot":{"pot_id":"p","honeypot_type":"t"}})");
  ASSERT_TRUE(c.install.has_value());
  EXPECT_FALSE(c.install->auto_start);
}

TEST(ProtocolDecode, NodeCommandErrors) {
  const std::string head = R"({"NodeCommand":{"node_id":1,"command":)";
  EXPECT_EQ(message_error(head + R"("Reboot"}})"), "NodeCommand: unknown command \"Reboot\"");
  EXPECT_EQ(message_error(head + R"({"Reboot":{}}}})"), "NodeCommand: unknown command \"Reboot\"");
  EXPECT_EQ(message_error(head + R"(5}})"), "NodeCommand: command is not a command variant");
  EXPECT_EQ(message_error(head + R"({"Restart":{},"StopPot":"p"}}})"), "NodeCommand: command is not a command variant");
  EXPECT_EQ(message_error(head + R"({"Restart":"now"}}})"), "NodeCommand: Restart takes no value");
  EXPECT_EQ(message_error(head + R"("InstallPot"}})"), "NodeCommand: InstallPot has no fields");
  EXPECT_EQ(message_error(head + R"({"InstallPot":{"pot_id":"p"}}}})"),
            "NodeCommand InstallPot: honeypot_type is missing");
  EXPECT_EQ(message_error(head + R"({"InstallPot":{"pot_id":"p","honeypot_type":"t","config":{"port":2222}}}}})"),
            "NodeCommand InstallPot: config.port is not a string");
  EXPECT_EQ(message_error(head + R"({"InstallPot":{"pot_id":"p","honeypot_type":"t","config":[]}}}})"),
            "NodeCommand InstallPot: config is not an object");
  EXPECT_EQ(message_error(head + R"({"InstallPot":{"pot_id":"p","honeypot_type":"t","auto_start":1}}}})"),
            "NodeCommand InstallPot: auto_start is not a boolean");
  EXPECT_EQ(message_error(head + R"({"InstallPot":"p"}}})"), "NodeCommand InstallPot: expected an object, got string");
  EXPECT_EQ(message_error(R"({"NodeCommand":{"node_id":1}})"), "NodeCommand: command is missing");
}

// ---- samples exactly as observed on the wire (spec §4) ----

TEST(ProtocolDecode, GoNodeSamples) {
  auto d = decode_ok(R"({"version":2,"message":{"NodeDrop":{}}})");
  EXPECT_TRUE(std::holds_alternative<NodeDrop>(d.message));

  d = decode_ok(R"({"version":2,"message":{"NodeEvent":{"type":"Error","message":"unknown command: Reboot"}}})");
  ASSERT_TRUE(std::holds_alternative<NodeEvent>(d.message));
  EXPECT_EQ(std::get<NodeEvent>(d.message), (NodeEvent{NodeEvent::Kind::error, "unknown command: Reboot"}));

  d = decode_ok(R"({"version":2,"message":{"NodeEvent":{"type":"Started"}}})");
  EXPECT_EQ(std::get<NodeEvent>(d.message), (NodeEvent{NodeEvent::Kind::started, ""}));

  d = decode_ok(R"({"version":2,"message":{"NodeStatusUpdate":{"node_id":16298147445003569694,"status":"Running"}}})");
  EXPECT_EQ(std::get<NodeStatusUpdate>(d.message), (NodeStatusUpdate{16298147445003569694ull, NodeStatus::running}));

  // An event-port line forwarded as PotStatusUpdate with the event's empty status.
  d = decode_ok(
      R"({"version":2,"message":{"PotStatusUpdate":{"node_id":16298147445003569694,"pot_id":"srv04","pot_type":"",)"
      R"("status":"","message":"login attempt [root/123456] failed"}}})");
  const auto& psu = std::get<PotStatusUpdate>(d.message);
  EXPECT_EQ(psu.pot_id, "srv04");
  EXPECT_EQ(psu.status, PotStatus::unknown);
  EXPECT_EQ(psu.message, "login attempt [root/123456] failed");

  // Go escapes <, >, &, U+2028 and U+2029.
  d = decode_ok(R"({"version":2,"message":{"PotStatusUpdate":{"node_id":1,"pot_id":"p","pot_type":"","status":"",)"
                R"("message":"\u003cscript\u003e \u0026 \u2028\u2029"}}})");
  EXPECT_EQ(std::get<PotStatusUpdate>(d.message).message, "<script> & \u2028\u2029");
}

TEST(ProtocolDecode, RustCoreSamples) {
  auto d = decode_ok(R"({"version":2,"message":{"NodeCommand":{"node_id":16298147445003569694,"command":"Restart"}}})");
  EXPECT_EQ(std::get<NodeCommand>(d.message).command.kind, Command::Kind::restart);
  d = decode_ok(
      R"({"version":2,"message":{"NodeCommand":{"node_id":16298147445003569694,"command":"GetInstalledPots"}}})");
  EXPECT_EQ(std::get<NodeCommand>(d.message).command.kind, Command::Kind::get_installed_pots);
  d = decode_ok(R"({"version":2,"message":{"RegistrationAck":{"node_id":16298147445003569694,"accepted":true,)"
                R"("message":null,"totp_key":null}}})");
  EXPECT_EQ(std::get<RegistrationAck>(d.message),
            (RegistrationAck{16298147445003569694ull, true, std::nullopt, std::nullopt}));
  d = decode_ok(R"({"version":2,"message":"NodeDrop"})");
  EXPECT_TRUE(std::holds_alternative<NodeDrop>(d.message));
  d = decode_ok(R"({"version":2,"message":{"NodeDrop":null}})");
  EXPECT_TRUE(std::holds_alternative<NodeDrop>(d.message));
}

TEST(ProtocolDecode, VariantNamesAreCaseInsensitive) {
  EXPECT_TRUE(std::holds_alternative<NodeDrop>(decode_ok(envelope(R"("nodedrop")")).message));
  EXPECT_EQ(decode_as<NodeStatusUpdate>(R"({"nodestatusupdate":{"node_id":1,"status":"Stopped"}})").status,
            NodeStatus::stopped);
}

}  // namespace
}  // namespace honeycomb::protocol
