// Validation of service and integration config.json by the reference rules.
#include "plugin/config.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace honeycomb::plugin {
namespace {

boost::json::value service_doc() {
  return boost::json::parse(R"({
    "event_types": [{"name": "simple_http", "label": "HTTP", "fields": ["originating_ip", "request"], "policy": "Alert"}],
    "service": {"allow_many": false, "supported_os_families": "All", "ports": [{"protocol": "TCP", "port": 80}],
                "name": "simple_http", "label": "Simple HTTP", "description": "d", "conflicts_with": []},
    "parameters": [{"type": "integer", "value": "port", "label": "Port", "required": true},
                   {"type": "boolean", "value": "threading", "label": "T", "required": true, "default": false}]
  })");
}

ConfigError service_error(const boost::json::value& doc) {
  auto r = parse_service_spec(doc, "x/config.json");
  EXPECT_FALSE(r.ok());
  return r.ok() ? ConfigError{} : r.error();
}

TEST(ServiceConfig, ValidDocumentParses) {
  auto r = parse_service_spec(service_doc(), "x/config.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->name, "simple_http");
  ASSERT_EQ(r->event_types.size(), 1U);
  EXPECT_EQ(r->event_types[0].policy, Policy::alert);
  ASSERT_EQ(r->ports.size(), 1U);
  EXPECT_EQ(r->ports[0].port, 80);
  ASSERT_EQ(r->parameters.size(), 2U);
  EXPECT_TRUE(std::holds_alternative<bool>(*r->parameters[1].default_value));
}

TEST(ServiceConfig, MissingServiceIsNamed) {
  auto doc = service_doc();
  doc.as_object().erase("service");
  auto e = service_error(doc);
  EXPECT_EQ(e.key, "service");
  EXPECT_EQ(e.file, "x/config.json");
  EXPECT_NE(e.message().find("x/config.json: service: is required"), std::string::npos) << e.message();
}

TEST(ServiceConfig, MissingEventTypesIsNamed) {
  auto doc = service_doc();
  doc.as_object().erase("event_types");
  EXPECT_EQ(service_error(doc).key, "event_types");
}

TEST(ServiceConfig, BadOsFamily) {
  auto doc = service_doc();
  doc.at("service").as_object()["supported_os_families"] = "Solaris";
  auto e = service_error(doc);
  EXPECT_EQ(e.key, "service.supported_os_families");
  EXPECT_NE(e.rule.find("Linux, Windows, Darwin, All"), std::string::npos);
}

TEST(ServiceConfig, AllowManyMustBeBool) {
  auto doc = service_doc();
  doc.at("service").as_object()["allow_many"] = "yes";
  EXPECT_EQ(service_error(doc).key, "service.allow_many");
}

TEST(ServiceConfig, PortProtocolAndNumber) {
  auto doc = service_doc();
  doc.at("service").as_object()["ports"] = boost::json::parse(R"([{"protocol": "SCTP", "port": 1}])");
  EXPECT_EQ(service_error(doc).key, "service.ports[0].protocol");
  doc.at("service").as_object()["ports"] = boost::json::parse(R"([{"protocol": "UDP", "port": "x"}])");
  EXPECT_EQ(service_error(doc).key, "service.ports[0].port");
  doc.at("service").as_object()["ports"] = boost::json::parse(R"([{"protocol": "UDP", "port": "*"}])");
  auto r = parse_service_spec(doc, "f");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ports[0].port.has_value());
}

TEST(ServiceConfig, UnknownAlertField) {
  auto doc = service_doc();
  doc.at("event_types").as_array()[0].as_object()["fields"] = boost::json::parse(R"(["originating_ip", "shoe_size"])");
  auto e = service_error(doc);
  EXPECT_EQ(e.key, "event_types[0].fields[1]");
  EXPECT_NE(e.rule.find("shoe_size"), std::string::npos);
}

TEST(ServiceConfig, BadPolicy) {
  auto doc = service_doc();
  doc.at("event_types").as_array()[0].as_object()["policy"] = "Loud";
  EXPECT_EQ(service_error(doc).key, "event_types[0].policy");
  for (const char* ok : {"Alert", "Mute", "Ignore"}) {
    doc.at("event_types").as_array()[0].as_object()["policy"] = ok;
    EXPECT_TRUE(parse_service_spec(doc, "f").ok()) << ok;
  }
}

TEST(ServiceConfig, ParameterRules) {
  struct Case {
    const char* parameter;
    const char* key;
  };
  const Case cases[] = {
      {R"({"type": "integer", "value": "1port", "label": "x"})", "parameters[0].value"},
      {R"({"type": "integer", "value": "-port", "label": "x"})", "parameters[0].value"},
      {R"({"type": "integer", "value": "_port", "label": "x"})", "parameters[0].value"},
      {R"({"type": "float", "value": "port", "label": "x"})", "parameters[0].type"},
      {R"({"type": "select", "value": "port", "label": "x"})", "parameters[0].type"},
      {R"({"type": "integer", "value": "port", "label": "x", "min": 1})", "parameters[0].min"},
      {R"({"type": "integer", "value": "port", "label": "x", "default": "80"})", "parameters[0].default"},
      {R"({"type": "boolean", "value": "b", "label": "x", "default": 1})", "parameters[0].default"},
      {R"({"type": "text", "value": "t", "label": "x", "default": 5})", "parameters[0].default"},
      {R"({"value": "t", "label": "x"})", "parameters[0].type"},
  };
  for (const auto& c : cases) {
    auto doc = service_doc();
    doc.as_object()["parameters"] = boost::json::array{boost::json::parse(c.parameter)};
    auto e = service_error(doc);
    EXPECT_EQ(e.key, c.key) << c.parameter << " -> " << e.message();
  }
  auto doc = service_doc();
  doc.as_object()["parameters"] = boost::json::parse(R"([{"type": "text", "value": "a-b_c9", "label": "x"}])");
  EXPECT_TRUE(parse_service_spec(doc, "f").ok());
}

TEST(ServiceConfig, NotAnObject) {
  auto e = service_error(boost::json::parse("[1,2]"));
  EXPECT_NE(e.message().find("must contain a JSON object"), std::string::npos);
}

TEST(IntegrationConfig, ValidAndSelect) {
  auto doc = boost::json::parse(R"({
    "display_name": "Syslog", "integration_type": "event_output", "max_send_retries": 5,
    "parameters": [{"type": "select", "value": "protocol", "label": "P", "items": [{"value": "tcp", "label": "TCP"}],
                    "default": "tcp"},
                   {"type": "integer", "value": "port", "label": "Port", "min": 1, "max": 65535, "validator": "port"}]
  })");
  auto r = parse_integration_spec(doc, "f");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->max_send_retries, 5);
  EXPECT_EQ(r->parameters[1].max, 65535);
}

TEST(IntegrationConfig, SelectDefaultMustBeAnItem) {
  auto doc = boost::json::parse(R"({"display_name": "S", "parameters": [{"type": "select", "value": "p", "label": "P",
    "items": [{"value": "tcp", "label": "TCP"}], "default": "udp"}]})");
  auto r = parse_integration_spec(doc, "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().key, "parameters[0].default");
}

TEST(IntegrationConfig, WrongIntegrationType) {
  auto doc = boost::json::parse(R"({"display_name": "S", "integration_type": "event_input"})");
  auto r = parse_integration_spec(doc, "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().key, "integration_type");
}

}  // namespace
}  // namespace honeycomb::plugin
