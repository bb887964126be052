// Every built-in plugin is registered and has a valid config.json in the
// staged plugin library.
#include "host/service_loader.hpp"
#include "pipeline/integration.hpp"
#include "plugin/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#ifndef HONEYCOMB_SOURCE_DIR
#error "HONEYCOMB_SOURCE_DIR must be defined"
#endif

namespace honeycomb {
namespace {

const std::vector<std::string> expected_services = {"simple_http"};
const std::vector<std::string> expected_integrations = {"honeybee", "json_file", "syslog"};

TEST(Registry, EveryBuiltinServiceIsRegistered) {
  const auto names = host::builtin_service_names();
  for (const auto& n : expected_services) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

TEST(Registry, EveryBuiltinIntegrationIsRegistered) {
  const auto names = pipeline::builtin_integration_names();
  for (const auto& n : expected_integrations) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

TEST(Registry, BuiltinConfigsAreValidAndNamedAfterTheirFolder) {
  for (const auto& n : host::builtin_service_names()) {
    auto spec = plugin::load_service_spec(std::filesystem::path(HONEYCOMB_SOURCE_DIR) / "services" / n);
    ASSERT_TRUE(spec.ok()) << spec.error().message();
    EXPECT_EQ(spec->name, n);
  }
  for (const auto& n : pipeline::builtin_integration_names()) {
    auto spec = plugin::load_integration_spec(std::filesystem::path(HONEYCOMB_SOURCE_DIR) / "integrations" / n);
    ASSERT_TRUE(spec.ok()) << spec.error().message();
  }
}

TEST(Registry, LoadsBuiltinService) {
  auto spec = plugin::load_service_spec(std::filesystem::path(HONEYCOMB_SOURCE_DIR) / "services" / "simple_http");
  ASSERT_TRUE(spec.ok());
  auto loaded = host::load_service(*spec);
  EXPECT_TRUE(std::holds_alternative<host::LoadedService>(loaded));
}

}  // namespace
}  // namespace honeycomb
