// The syslog integration's formatting: RFC 5424 lines, CEF payloads and their
// escaping, RFC 6587 framing, UDP truncation.
#include "syslog/syslog_format.hpp"

#include <gtest/gtest.h>

namespace honeycomb::integrations::syslog {
namespace {

pipeline::AlertRecord http_record() {
  pipeline::AlertRecord r;
  r.id = "0b7e5d4c-1111-4222-8333-944455556666";
  r.timestamp = "2024-05-01T12:34:56.123456Z";
  r.service = "simple_http";
  r.event_type = "simple_http";
  r.event_description = "HTTP Server Interaction";
  r.policy = plugin::Policy::alert;
  r.fields = {{"originating_ip", Value{std::string("10.0.0.1")}},
              {"originating_port", Value{std::int64_t{4444}}},
              {"request", Value{std::string("GET /?a=b HTTP/1.1")}}};
  r.json = R"({"id":"0b7e5d4c-1111-4222-8333-944455556666","event_type":"simple_http"})";
  return r;
}

FormatOptions options() {
  FormatOptions o;
  o.facility = 1;
  o.hostname = "decoy1";
  o.app_name = "honeycomb";
  o.procid = "42";
  o.product_version = "0.1.0";
  return o;
}

TEST(SyslogFormat, Rfc5424LineWithJsonMessage) {
  const auto r = http_record();
  EXPECT_EQ(format_rfc5424(r, options()),
            "<12>1 2024-05-01T12:34:56.123456Z decoy1 honeycomb 42 simple_http "
            "[honeycomb@32473 id=\"0b7e5d4c-1111-4222-8333-944455556666\" service=\"simple_http\" "
            "event_type=\"simple_http\" status=\"Alert\"] " +
                r.json);
}

TEST(SyslogFormat, PriorityFromFacilityAndPolicy) {
  auto r = http_record();
  auto o = options();
  o.facility = *facility_code("local7");
  r.policy = plugin::Policy::mute;
  EXPECT_EQ(format_rfc5424(r, o).rfind("<189>1 ", 0), 0U);  // 23 * 8 + 5 (notice)
  o.facility = *facility_code("kern");
  r.policy = plugin::Policy::alert;
  EXPECT_EQ(format_rfc5424(r, o).rfind("<4>1 ", 0), 0U);  // 0 * 8 + 4 (warning)
}

TEST(SyslogFormat, FacilityNames) {
  EXPECT_EQ(facility_code("kern"), 0);
  EXPECT_EQ(facility_code("user"), 1);
  EXPECT_EQ(facility_code("authpriv"), 10);
  EXPECT_EQ(facility_code("local0"), 16);
  EXPECT_EQ(facility_code("local7"), 23);
  EXPECT_EQ(facility_code("LOCAL0"), std::nullopt);
  EXPECT_EQ(facility_code(""), std::nullopt);
}

TEST(SyslogFormat, HeaderFieldsArePrintableAsciiWithoutSpaces) {
  EXPECT_EQ(header_field("", 48), "-");
  EXPECT_EQ(header_field("my app", 48), "my_app");
  EXPECT_EQ(header_field("caf\xc3\xa9", 48), "caf__");
  EXPECT_EQ(header_field("tab\there\n", 48), "tab_here_");
  EXPECT_EQ(header_field(std::string(100, 'x'), max_msgid), std::string(32, 'x'));

  // A hostile event type cannot break the header apart.
  auto r = http_record();
  r.event_type = "two words";
  auto o = options();
  o.hostname = "";
  o.app_name = "a b";
  const std::string line = format_rfc5424(r, o);
  EXPECT_NE(line.find(" - a_b 42 two_words [honeycomb@32473 "), std::string::npos) << line;
  EXPECT_NE(line.find("event_type=\"two words\""), std::string::npos) << line;
}

TEST(SyslogFormat, StructuredDataValuesAreEscaped) {
  EXPECT_EQ(escape_sd_value(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  EXPECT_EQ(escape_sd_value("plain"), "plain");
  auto r = http_record();
  r.service = R"(x"] y)";
  EXPECT_NE(format_rfc5424(r, options()).find(R"(service="x\"\] y")"), std::string::npos);
}

TEST(SyslogFormat, MessageHasNoRawNewlines) {
  // Attacker-controlled text with CR/LF must not split the message: the
  // JSON form escapes it, the CEF form too.
  plugin::EventTypeSpec event{"simple_http", "HTTP Server Interaction", {}, plugin::Policy::alert};
  Alert alert("simple_http");
  alert.set("request", "GET / HTTP/1.1\r\nHost: x\r\n");
  const auto record = pipeline::make_record(std::move(alert), event, "simple_http");
  auto o = options();
  EXPECT_EQ(format_rfc5424(*record, o).find_first_of("\r\n"), std::string::npos);
  o.cef = true;
  const std::string cef = format_rfc5424(*record, o);
  EXPECT_EQ(cef.find_first_of("\r\n"), std::string::npos);
  EXPECT_NE(cef.find(R"(request=GET / HTTP/1.1\r\nHost: x\r\n)"), std::string::npos) << cef;
}

TEST(SyslogFormat, CefHeaderEscaping) {
  EXPECT_EQ(escape_cef_header(R"(a|b\c)"), R"(a\|b\\c)");
  EXPECT_EQ(escape_cef_header("line1\nline2\r"), "line1 line2 ");
  EXPECT_EQ(escape_cef_header("a=b"), "a=b");  // '=' is only special in the extension
}

TEST(SyslogFormat, CefExtensionValueEscaping) {
  EXPECT_EQ(escape_cef_value(R"(a=b\c)"), R"(a\=b\\c)");
  EXPECT_EQ(escape_cef_value("x\ny\rz"), R"(x\ny\rz)");
  EXPECT_EQ(escape_cef_value("a|b"), "a|b");  // pipes need no escaping in the extension
}

TEST(SyslogFormat, EpochMillis) {
  EXPECT_EQ(epoch_millis("1970-01-01T00:00:01.234567Z"), 1234);
  EXPECT_EQ(epoch_millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(epoch_millis("2024-05-01T12:34:56.123456Z"), 1714566896123);
  EXPECT_EQ(epoch_millis("2024-05-01T12:34:56.5Z"), 1714566896500);
  EXPECT_EQ(epoch_millis("2024-05-01 12:34:56Z"), std::nullopt);
  EXPECT_EQ(epoch_millis("2024-05-01T12:34:56"), std::nullopt);
  EXPECT_EQ(epoch_millis("2024-05-01T12:34:56.Z"), std::nullopt);
  EXPECT_EQ(epoch_millis(""), std::nullopt);
}

TEST(SyslogFormat, CefLine) {
  EXPECT_EQ(format_cef(http_record(), "0.1.0"),
            "CEF:0|Honeycomb|simple_http|0.1.0|simple_http|HTTP Server Interaction|7|"
            "rt=1714566896123 externalId=0b7e5d4c-1111-4222-8333-944455556666 cat=Alert "
            "src=10.0.0.1 spt=4444 request=GET /?a\\=b HTTP/1.1");
}

TEST(SyslogFormat, CefHeaderFieldsOfTheAlertAreEscaped) {
  auto r = http_record();
  r.event_description = R"(Login | attempt \ 1)";
  r.policy = plugin::Policy::mute;
  const std::string cef = format_cef(r, "1.0");
  EXPECT_EQ(cef.rfind(R"(CEF:0|Honeycomb|simple_http|1.0|simple_http|Login \| attempt \\ 1|3|)", 0), 0U) << cef;
  EXPECT_NE(cef.find(" cat=Mute"), std::string::npos);
}

TEST(SyslogFormat, CefFieldMapping) {
  auto r = http_record();
  r.fields = {
      {"originating_ip", Value{std::string("2001:db8::1")}},  // IPv6: not `src`
      {"originating_port", Value{std::string("not-a-port")}},  // not an integer: custom slot
      {"dest_ip", Value{std::string("192.0.2.7")}},
      {"dest_port", Value{std::string("8080")}},              // digits as text are fine
      {"username", Value{std::string("root")}},
      {"password", Value{std::string("toor")}},
      {"cmd", Value{std::string("uname -a")}},
      {"ppid", Value{std::int64_t{1}}},
      {"transport_protocol", Value{std::string("TCP")}},
      {"domain", Value{nullptr}},                             // null: skipped
      {"status", Value{std::string("spoofed")}},              // host stamp: skipped
  };
  const std::string cef = format_cef(r, "0.1.0");
  const std::string ext = cef.substr(cef.find("|7|") + 3);
  EXPECT_EQ(ext,
            "rt=1714566896123 externalId=0b7e5d4c-1111-4222-8333-944455556666 cat=Alert "
            "c6a2=2001:db8::1 c6a2Label=originating_ip "
            "cs2=not-a-port cs2Label=originating_port "
            "dst=192.0.2.7 dpt=8080 suser=root "
            "cs3=toor cs3Label=password "
            "cs1=uname -a cs1Label=cmd "
            "cn1=1 cn1Label=ppid "
            "proto=TCP");
}

TEST(SyslogFormat, CefCustomSlotsOverflowIntoMsgAsJson) {
  auto r = http_record();
  r.fields.clear();
  for (int i = 0; i < 7; ++i) {
    r.fields.emplace_back("s" + std::to_string(i), Value{std::string("v=") + std::to_string(i)});
  }
  for (int i = 0; i < 4; ++i) {
    r.fields.emplace_back("n" + std::to_string(i), Value{std::int64_t{i}});
  }
  r.fields.emplace_back("flag", Value{true});
  const std::string cef = format_cef(r, "0.1.0");
  // Five string slots (cs2..cs6), three number slots; the rest in msg.
  for (int slot = 2; slot <= 6; ++slot) {
    const std::string field = "s" + std::to_string(slot - 2);
    EXPECT_NE(cef.find("cs" + std::to_string(slot) + "=v\\=" + std::to_string(slot - 2) + " cs" +
                       std::to_string(slot) + "Label=" + field),
              std::string::npos)
        << cef;
  }
  EXPECT_NE(cef.find("cn1=0 cn1Label=n0 cn2=1 cn2Label=n1 cn3=2 cn3Label=n2"), std::string::npos) << cef;
  EXPECT_NE(cef.find(R"( msg={"s5":"v\=5","s6":"v\=6","n3":3,"flag":true})"), std::string::npos) << cef;
  EXPECT_EQ(cef.find("cs1="), std::string::npos);  // cs1 stays reserved for cmd
}

TEST(SyslogFormat, CefAsSyslogMessage) {
  auto o = options();
  o.cef = true;
  const auto r = http_record();
  const std::string line = format_rfc5424(r, o);
  EXPECT_NE(line.find("status=\"Alert\"] CEF:0|Honeycomb|simple_http|0.1.0|"), std::string::npos) << line;
  EXPECT_EQ(line.find(r.json), std::string::npos);
}

TEST(SyslogFormat, OctetCountingCountsBytes) {
  std::string out;
  append_octet_counted(out, "hello");
  append_octet_counted(out, "caf\xc3\xa9");
  append_octet_counted(out, "");
  EXPECT_EQ(out, "5 hello5 caf\xc3\xa9" "0 ");
}

TEST(SyslogFormat, TruncateKeepsWholeUtf8Characters) {
  EXPECT_EQ(truncate_utf8("hello", 10), "hello");
  EXPECT_EQ(truncate_utf8("hello", 3), "hel");
  const std::string s = "a\xc3\xa9z";  // a, e-acute (2 bytes), z
  EXPECT_EQ(truncate_utf8(s, 2), "a");
  EXPECT_EQ(truncate_utf8(s, 3), "a\xc3\xa9");
  const std::string euro = "\xe2\x82\xac\xe2\x82\xac";  // two 3-byte characters
  EXPECT_EQ(truncate_utf8(euro, 5), "\xe2\x82\xac");
  EXPECT_EQ(truncate_utf8(euro, 2), "");
  EXPECT_EQ(truncate_utf8(std::string(max_udp_message + 100, 'x'), max_udp_message).size(), max_udp_message);
}

}  // namespace
}  // namespace honeycomb::integrations::syslog
