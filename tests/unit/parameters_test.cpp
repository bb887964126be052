// key=value parameters: conversion, validation and the reference's messages.
#include "plugin/parameters.hpp"

#include <gtest/gtest.h>

namespace honeycomb::plugin {
namespace {

std::vector<ParameterSpec> specs() {
  ParameterSpec port{.name = "port", .type = ParamType::integer, .label = "Listening Port", .required = true};
  ParameterSpec version{.name = "version", .type = ParamType::text, .label = "Server", .required = true,
                        .default_value = Value{std::string("nginx")}};
  ParameterSpec threading{.name = "threading", .type = ParamType::boolean, .label = "Threads", .required = true,
                          .default_value = Value{false}};
  ParameterSpec proto{.name = "protocol", .type = ParamType::select, .label = "Protocol", .required = false,
                      .items = {{"tcp", "TCP"}, {"udp", "UDP"}}};
  ParameterSpec bounded{.name = "n", .type = ParamType::integer, .label = "N", .min = 1, .max = 10};
  return {port, version, threading, proto, bounded};
}

std::string error_of(const std::vector<std::string>& args) {
  auto r = parse_arguments(specs(), args);
  if (auto* e = std::get_if<ParamError>(&r)) {
    return e->text;
  }
  return "";
}

TEST(ConvertArgument, ReferenceRules) {
  for (const char* t : {"true", "True", "y", "Y", "yes"}) {
    EXPECT_EQ(convert_argument(t), Value{true}) << t;
  }
  for (const char* f : {"false", "False", "n", "N", "no"}) {
    EXPECT_EQ(convert_argument(f), Value{false}) << f;
  }
  EXPECT_EQ(convert_argument("8080"), Value{std::int64_t{8080}});
  EXPECT_EQ(convert_argument("-1"), Value{std::string("-1")});
  EXPECT_EQ(convert_argument("TRUE"), Value{std::string("TRUE")});
  EXPECT_EQ(convert_argument(""), Value{std::string("")});
}

TEST(ParseArguments, DefaultsAndTypes) {
  auto r = parse_arguments(specs(), {"port=8080", "threading=yes"});
  ASSERT_TRUE(std::holds_alternative<ServiceArgs>(r));
  const auto& a = std::get<ServiceArgs>(r);
  EXPECT_EQ(a.get<int>("port", 0), 8080);
  EXPECT_TRUE(a.get("threading", false));
  EXPECT_EQ(a.get("version", ""), "nginx");
  EXPECT_FALSE(a.contains("protocol"));
}

TEST(ParseArguments, ReferenceMessages) {
  EXPECT_EQ(error_of({}), "Parameters: 'port' is missing (use --show_args to see all parameters)");
  EXPECT_EQ(error_of({"port=abc"}), "Parameters: Bad value for port=abc (must be integer)");
  EXPECT_EQ(error_of({"port=1", "threading=maybe"}), "Parameters: Bad value for threading=maybe (must be boolean)");
  EXPECT_EQ(error_of({"port=1", "protocol=icmp"}), "Parameters: Bad value for protocol=icmp (must be one of: tcp, udp)");
  EXPECT_EQ(error_of({"port=1", "n=0"}), "Parameters: Bad value for n=0 (must be higher than 1)");
  EXPECT_EQ(error_of({"port=1", "n=11"}), "Parameters: Bad value for n=11 (must be lower than 10)");
  EXPECT_EQ(error_of({"port"}), "Invalid parameter 'port', must be in key=value format");
  EXPECT_EQ(error_of({"=5"}), "Invalid parameter '=5', must be in key=value format");
}

TEST(ParseArguments, UnknownNamesReported) {
  std::vector<std::string> unknown;
  auto r = parse_arguments(specs(), {"port=1", "colour=blue"}, &unknown);
  ASSERT_TRUE(std::holds_alternative<ServiceArgs>(r));
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown[0], "colour");
}

TEST(ShowArgs, ReferenceLayout) {
  const std::string table = show_args_table(specs());
  const std::string header = "NAME                 TYPE           DEFAULT      REQUIRED  DESCRIPTION              ";
  ASSERT_EQ(table.substr(0, header.size()), header);
  EXPECT_NE(table.find("\n" + std::string(header.size(), '-') + "\n"), std::string::npos);
  EXPECT_NE(table.find("Protocol (valid options: tcp, udp)"), std::string::npos);
  EXPECT_NE(table.find("nginx"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::plugin
