// config.json of a service and of an integration: any document must give a
// spec or a ConfigError, never a crash, a hang or an exception.
#include "plugin/config.hpp"

#include <boost/json.hpp>

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 64;
  const auto doc = boost::json::parse(input, ec, {}, opts);
  if (ec) {
    return 0;
  }
  auto service = honeycomb::plugin::parse_service_spec(doc, "fuzz/config.json");
  if (!service.ok()) {
    (void)service.error().message();
  }
  auto integration = honeycomb::plugin::parse_integration_spec(doc, "fuzz/config.json");
  if (!integration.ok()) {
    (void)integration.error().message();
  }
  return 0;
}
