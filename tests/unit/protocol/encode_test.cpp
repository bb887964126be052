// encode(): strict, compact, one envelope per line; and the round-trip
// property decode(parse(encode(m))) == m for every message type.
#include "protocol/codec.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace honeycomb::protocol {
namespace {

constexpr NodeId kBigId = 16298147445003569694ull;
constexpr NodeId kMaxId = 18446744073709551615ull;

TEST(ProtocolEncode, NodeDropIsAlwaysTheBareString) {
  EXPECT_EQ(encode(NodeDrop{}), "{\"version\":2,\"message\":\"NodeDrop\"}\n");
  EXPECT_EQ(encode(NodeDrop{}, UnitStyle::bare_string), "{\"version\":2,\"message\":\"NodeDrop\"}\n");
}

TEST(ProtocolEncode, UnitCommandsFollowTheUnitStyle) {
  const NodeCommand restart{kBigId, Command{.kind = Command::Kind::restart}};
  EXPECT_EQ(encode(restart),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":16298147445003569694,"
            "\"command\":{\"Restart\":{}}}}}\n");
  EXPECT_EQ(encode(restart, UnitStyle::empty_object), encode(restart));
  EXPECT_EQ(encode(restart, UnitStyle::bare_string),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":16298147445003569694,"
            "\"command\":\"Restart\"}}}\n");
  const NodeCommand list{1, Command{.kind = Command::Kind::get_installed_pots}};
  EXPECT_EQ(encode(list, UnitStyle::bare_string),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":1,\"command\":\"GetInstalledPots\"}}}\n");
  const NodeCommand update{1, Command{.kind = Command::Kind::update_config}};
  EXPECT_EQ(encode(update),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":1,\"command\":{\"UpdateConfig\":{}}}}}\n");
}

TEST(ProtocolEncode, PotCommandsAreNewtypes) {
  const NodeCommand stop{7, Command{.kind = Command::Kind::stop_pot, .pot_id = "cowrie-01"}};
  EXPECT_EQ(encode(stop, UnitStyle::bare_string),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":7,\"command\":{\"StopPot\":\"cowrie-01\"}}}}\n");
  EXPECT_EQ(encode(stop, UnitStyle::empty_object), encode(stop, UnitStyle::bare_string));
}

TEST(ProtocolEncode, InstallPotOmitsUnsetOptionals) {
  InstallPot install{.pot_id = "p", .honeypot_type = "cowrie", .auto_start = true};
  NodeCommand cmd{1, Command{.kind = Command::Kind::install_pot, .pot_id = "p", .install = install}};
  EXPECT_EQ(encode(cmd),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":1,\"command\":{\"InstallPot\":"
            "{\"pot_id\":\"p\",\"honeypot_type\":\"cowrie\",\"auto_start\":true}}}}}\n");
  install.git_url = "https://example.org/c.git";
  install.git_branch = "main";
  install.config = std::map<std::string, std::string>{{"b", "2"}, {"a", "1"}};
  cmd.command.install = install;
  EXPECT_EQ(encode(cmd),
            "{\"version\":2,\"message\":{\"NodeCommand\":{\"node_id\":1,\"command\":{\"InstallPot\":"
            "{\"pot_id\":\"p\",\"honeypot_type\":\"cowrie\",\"git_url\":\"https://example.org/c.git\","
            "\"git_branch\":\"main\",\"config\":{\"a\":\"1\",\"b\":\"2\"},\"auto_start\":true}}}}}\n");
}

TEST(ProtocolEncode, NodeRegistrationAndAck) {
  NodeRegistration reg{kMaxId, "edge-1", "192.0.2.10", 9001, NodeType::agent, std::nullopt};
  EXPECT_EQ(encode(reg),
            "{\"version\":2,\"message\":{\"NodeRegistration\":{\"node_id\":18446744073709551615,"
            "\"node_name\":\"edge-1\",\"address\":\"192.0.2.10\",\"port\":9001,\"node_type\":\"Agent\"}}}\n");
  reg.totp_code = "123456";
  EXPECT_NE(encode(reg).find(",\"totp_code\":\"123456\"}"), std::string::npos);

  RegistrationAck ack{kBigId, true, std::nullopt, std::nullopt};
  EXPECT_EQ(encode(ack),
            "{\"version\":2,\"message\":{\"RegistrationAck\":{\"node_id\":16298147445003569694,"
            "\"accepted\":true}}}\n");
  ack.accepted = false;
  ack.message = "bad totp";
  EXPECT_EQ(encode(ack),
            "{\"version\":2,\"message\":{\"RegistrationAck\":{\"node_id\":16298147445003569694,"
            "\"accepted\":false,\"message\":\"bad totp\"}}}\n");
}

TEST(ProtocolEncode, NodeStatusAndNodeEventsInSerdeForm) {
  EXPECT_EQ(encode(NodeStatusUpdate{3, NodeStatus::running}),
            "{\"version\":2,\"message\":{\"NodeStatusUpdate\":{\"node_id\":3,\"status\":\"Running\"}}}\n");
  EXPECT_EQ(encode(NodeEvent{NodeEvent::Kind::started, ""}),
            "{\"version\":2,\"message\":{\"NodeEvent\":\"Started\"}}\n");
  EXPECT_EQ(encode(NodeEvent{NodeEvent::Kind::stopped, ""}),
            "{\"version\":2,\"message\":{\"NodeEvent\":\"Stopped\"}}\n");
  EXPECT_EQ(encode(NodeEvent{NodeEvent::Kind::alarm, "disk full"}),
            "{\"version\":2,\"message\":{\"NodeEvent\":{\"Alarm\":{\"description\":\"disk full\"}}}}\n");
  EXPECT_EQ(encode(NodeEvent{NodeEvent::Kind::error, "x"}),
            "{\"version\":2,\"message\":{\"NodeEvent\":{\"Error\":{\"message\":\"x\"}}}}\n");
}

TEST(ProtocolEncode, PotStatusUpdateWritesTheCanonicalOrTheKeptStatus) {
  PotStatusUpdate m{.node_id = 1,
                    .pot_id = "p",
                    .pot_type = "cowrie",
                    .status = PotStatus::failed,
                    .status_text = "ignored when known",
                    .message = "exit 1"};
  EXPECT_EQ(encode(m),
            "{\"version\":2,\"message\":{\"PotStatusUpdate\":{\"node_id\":1,\"pot_id\":\"p\",\"pot_type\":\"cowrie\","
            "\"status\":\"Failed\",\"message\":\"exit 1\"}}}\n");
  m.status = PotStatus::unknown;
  m.status_text = "";
  m.message.reset();
  EXPECT_EQ(encode(m),
            "{\"version\":2,\"message\":{\"PotStatusUpdate\":{\"node_id\":1,\"pot_id\":\"p\",\"pot_type\":\"cowrie\","
            "\"status\":\"\"}}}\n");
}

TEST(ProtocolEncode, PotEventInTheDocumentedShape) {
  PotEvent e{.node_id = kBigId,
             .pot_id = "cowrie-01",
             .pot_type = "cowrie",
             .event_type = "login",
             .timestamp = "2024-01-15T10:30:00Z"};
  e.data["username"] = "admin";
  EXPECT_EQ(encode(e),
            "{\"version\":2,\"message\":{\"PotEvent\":{\"node_id\":16298147445003569694,\"pot_id\":\"cowrie-01\","
            "\"pot_type\":\"cowrie\",\"event_type\":\"login\",\"timestamp\":\"2024-01-15T10:30:00Z\","
            "\"data\":{\"username\":\"admin\"}}}}\n");
  e.event_id = "evt-1";
  EXPECT_NE(encode(e).find("\"data\":{\"username\":\"admin\"},\"event_id\":\"evt-1\"}}}\n"), std::string::npos);
}

TEST(ProtocolEncode, StringsAreEscapedAndOneLine) {
  NodeEvent e{NodeEvent::Kind::error,
              "quote \" backslash \\ newline \n tab \t nul " + std::string(1, '\0') + " <&> \xE2\x80\xA8 caf\xC3\xA9"};
  const auto text = encode(e);
  EXPECT_EQ(text.find('\n'), text.size() - 1);
  const auto d = test::decode_ok(text);
  EXPECT_EQ(std::get<NodeEvent>(d.message), e);
}

TEST(ProtocolEncode, LargeDataIsWrittenCompletely) {
  PotEvent e{.node_id = 1, .pot_id = "p", .event_type = "cowrie.command.input"};
  e.data["input"] = std::string(300 * 1024, 'A');  // a 300 KB POSTed password (spec §1)
  const auto text = encode(e);
  EXPECT_GT(text.size(), 300u * 1024);
  EXPECT_EQ(std::get<PotEvent>(test::decode_ok(text).message), e);
}

TEST(ProtocolEncode, NonFiniteNumbersAreWrittenAsNull) {
  PotEvent e{.node_id = 1, .pot_id = "p", .event_type = "e"};
  e.data["inf"] = std::numeric_limits<double>::infinity();
  e.data["nested"] = boost::json::array{1.5, -std::numeric_limits<double>::infinity(),
                                        boost::json::object{{"nan", std::numeric_limits<double>::quiet_NaN()}}};
  const auto text = encode(e);
  EXPECT_NE(text.find("\"data\":{\"inf\":null,\"nested\":[1.5E0,null,{\"nan\":null}]}"), std::string::npos) << text;
  const auto d = test::decode_ok(text);  // valid JSON
  EXPECT_EQ(std::get<PotEvent>(d.message).data,
            test::parse_json(R"({"inf":null,"nested":[1.5,null,{"nan":null}]})").as_object());
  EXPECT_TRUE(e.data["inf"].is_double());  // the message itself is unchanged
}

std::vector<Message> every_message() {
  std::vector<Message> all;
  all.emplace_back(NodeRegistration{kBigId, "edge-1", "192.0.2.10", 9001, NodeType::full, "654321"});
  all.emplace_back(NodeRegistration{0, "", "::1", 0, NodeType::agent, std::nullopt});
  for (auto s : {NodeStatus::connected, NodeStatus::deploying, NodeStatus::running, NodeStatus::stopped,
                 NodeStatus::failed, NodeStatus::unknown}) {
    all.emplace_back(NodeStatusUpdate{kMaxId, s});
  }
  all.emplace_back(NodeEvent{NodeEvent::Kind::started, ""});
  all.emplace_back(NodeEvent{NodeEvent::Kind::stopped, ""});
  all.emplace_back(NodeEvent{NodeEvent::Kind::alarm, "tamper detected"});
  all.emplace_back(NodeEvent{NodeEvent::Kind::error, ""});
  all.emplace_back(NodeDrop{});
  for (auto s : {PotStatus::installing, PotStatus::running, PotStatus::stopped, PotStatus::failed}) {
    all.emplace_back(PotStatusUpdate{kBigId, "cowrie-01", "cowrie", s, to_string(s), "ok"});
  }
  all.emplace_back(PotStatusUpdate{1, "p", "", PotStatus::unknown, "", std::nullopt});
  all.emplace_back(PotStatusUpdate{1, "p", "", PotStatus::unknown, "cowrie.session.closed", "bye"});
  PotEvent e{kBigId, "cowrie-01", "cowrie", "cowrie.login.failed", "2024-01-15T10:30:00.123Z", {}, std::nullopt};
  e.data["username"] = "root";
  e.data["src_port"] = 51234;
  e.data["time"] = 1705314600.123;
  e.data["big"] = kMaxId;
  e.data["nested"] = boost::json::object{{"list", boost::json::array{1, "two", nullptr, true}}};
  all.emplace_back(e);
  e.event_id = "01HMCZ5Q3V0000000000000000";
  e.data.clear();
  all.emplace_back(e);
  all.emplace_back(RegistrationAck{kBigId, true, "welcome", "JBSWY3DPEHPK3PXP"});
  all.emplace_back(RegistrationAck{1, false, "rejected", std::nullopt});
  all.emplace_back(RegistrationAck{1, false, std::nullopt, std::nullopt});
  all.emplace_back(RegistrationAck{kBigId, true, "registered", std::nullopt, {"event_ack"}});
  all.emplace_back(NodeRegistration{kBigId, "n", "::1", 9100, NodeType::full, std::nullopt, {"event_ack", "x"}});
  e.seq = kMaxId;
  all.emplace_back(e);
  e.seq = 1;
  e.event_id.reset();
  all.emplace_back(e);
  all.emplace_back(EventAck{kBigId, 1});
  all.emplace_back(EventAck{1, kMaxId});
  for (auto k : {Command::Kind::restart, Command::Kind::update_config, Command::Kind::get_installed_pots}) {
    all.emplace_back(NodeCommand{kBigId, Command{.kind = k}});
  }
  for (auto k :
       {Command::Kind::deploy_pot, Command::Kind::stop_pot, Command::Kind::restart_pot, Command::Kind::get_pot_status,
        Command::Kind::get_pot_info, Command::Kind::get_pot_logs, Command::Kind::get_pot_metrics}) {
    all.emplace_back(NodeCommand{kBigId, Command{.kind = k, .pot_id = "cowrie-01"}});
  }
  InstallPot install{"cowrie-01",
                     "cowrie",
                     "https://example.org/cowrie.git",
                     "main",
                     std::map<std::string, std::string>{{"hostname", "srv04"}, {"ssh_port", "2222"}},
                     true};
  all.emplace_back(NodeCommand{1, Command{Command::Kind::install_pot, "cowrie-01", install}});
  all.emplace_back(Enroll{kBigId, "sensor-1", "secret", "-----BEGIN CERTIFICATE REQUEST-----\nx\n"});
  all.emplace_back(Enroll{kBigId, "sensor-1", "", "csr"});  // a renewal: no token
  all.emplace_back(EnrollAck{kBigId, true, std::nullopt, "cert", "ca"});
  all.emplace_back(EnrollAck{kBigId, false, "join token already used", "", ""});
  all.emplace_back(
      NodeCommand{1, Command{Command::Kind::install_pot, "x",
                             InstallPot{"x", "dionaea", std::nullopt, std::nullopt, std::nullopt, false}}});
  all.emplace_back(NodeCommand{
      1, Command{Command::Kind::install_pot, "x",
                 InstallPot{"x", "dionaea", std::nullopt, std::nullopt, std::map<std::string, std::string>{}, false}}});
  return all;
}

// The extension fields are written only when set: a public peer (which
// never announced an extension) never sees them.
TEST(ProtocolEncode, ExtensionFieldsOnlyWhenSet) {
  const auto reg = encode(NodeRegistration{7, "n", "10.0.0.1", 9100, NodeType::full, std::nullopt, {}});
  EXPECT_EQ(reg.find("extensions"), std::string::npos) << reg;
  const auto ack = encode(RegistrationAck{7, true, "registered", std::nullopt, {}});
  EXPECT_EQ(ack.find("extensions"), std::string::npos) << ack;
  EXPECT_EQ(encode(RegistrationAck{7, true, std::nullopt, std::nullopt, {"event_ack"}}),
            R"({"version":2,"message":{"RegistrationAck":{"node_id":7,"accepted":true,"extensions":["event_ack"]}}})"
            "\n");
  PotEvent e{7, "p", "t", "e", "2024-01-15T10:30:00Z", {}, std::nullopt};
  EXPECT_EQ(encode(e).find("seq"), std::string::npos);
  e.seq = 18446744073709551615ULL;
  EXPECT_NE(encode(e).find(R"(,"seq":18446744073709551615})"), std::string::npos) << encode(e);
  EXPECT_EQ(encode(EventAck{16298147445003569694ULL, 42}),
            R"({"version":2,"message":{"EventAck":{"node_id":16298147445003569694,"seq":42}}})"
            "\n");
}

// Enrollment: the token is written only when there is one; a refusal
// carries no certificate fields.
TEST(ProtocolEncode, EnrollMessages) {
  EXPECT_EQ(encode(Enroll{7, "n", "", "csr"}),
            R"({"version":2,"message":{"Enroll":{"node_id":7,"node_name":"n","csr":"csr"}}})"
            "\n");
  EXPECT_EQ(encode(EnrollAck{7, false, "no", "ignored", "ignored"}),
            R"({"version":2,"message":{"EnrollAck":{"node_id":7,"accepted":false,"message":"no"}}})"
            "\n");
  EXPECT_NE(test::message_error(R"({"Enroll":{"node_id":1,"node_name":"n"}})").find("Enroll: csr is missing"),
            std::string::npos);
  EXPECT_NE(test::message_error(R"({"Enroll":{"node_id":1,"node_name":"n","csr":"x","join_token":5}})")
                .find("Enroll: join_token is not a string"),
            std::string::npos);
}

TEST(ProtocolEncode, RoundTripsEveryMessageInBothUnitStyles) {
  const auto all = every_message();
  ASSERT_GE(all.size(), 35u);
  std::vector<bool> seen(std::variant_size_v<Message>, false);
  for (const auto style : {UnitStyle::empty_object, UnitStyle::bare_string}) {
    for (const auto& m : all) {
      seen[m.index()] = true;
      const auto text = encode(m, style);
      ASSERT_FALSE(text.empty());
      EXPECT_EQ(text.back(), '\n');
      EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
      EXPECT_EQ(text.find(": "), std::string::npos) << "not compact: " << text;
      EXPECT_EQ(text.find(".0E"), std::string::npos) << text;
      const auto d = test::decode_ok(text);
      EXPECT_EQ(d.version, 2);
      EXPECT_EQ(d.message, m) << text;
    }
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(seen[i]) << "no round-trip case for variant #" << i;
  }
}

TEST(ProtocolEncode, DecodedGoShapesReencodeInTheDocumentedShapeAndRoundTrip) {
  const auto go = test::decode_ok(
      R"({"version":2,"message":{"PotEvent":{"node_id":16298147445003569694,"pot_id":"cowrie-01",)"
      R"("event":"cowrie.login.failed","message":"m","metadata":{"src_ip":"203.0.113.7"},"timestamp":1705314600.5}}})");
  const auto text = encode(go.message);
  EXPECT_EQ(text,
            "{\"version\":2,\"message\":{\"PotEvent\":{\"node_id\":16298147445003569694,\"pot_id\":\"cowrie-01\","
            "\"pot_type\":\"\",\"event_type\":\"cowrie.login.failed\",\"timestamp\":\"2024-01-15T10:30:00.5Z\","
            "\"data\":{\"src_ip\":\"203.0.113.7\",\"message\":\"m\"}}}}\n");
  EXPECT_EQ(test::decode_ok(text).message, go.message);

  // A lower-case known status is normalised, so the decoded form round-trips.
  const auto psu =
      test::decode_ok(test::envelope(R"({"PotStatusUpdate":{"node_id":1,"pot_id":"p","status":"running"}})"));
  EXPECT_EQ(test::decode_ok(encode(psu.message)).message, psu.message);
  // node_id sent as a decimal string is written as an integer.
  const auto s =
      test::decode_ok(test::envelope(R"({"NodeStatusUpdate":{"node_id":"18446744073709551615","status":"Running"}})"));
  EXPECT_NE(encode(s.message).find("\"node_id\":18446744073709551615,"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::protocol
