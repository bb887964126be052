// key=value arguments against a service's parameters: any input gives
// ServiceArgs or a ParamError.
#include "plugin/parameters.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace honeycomb::plugin;
  static const std::vector<ParameterSpec> specs = [] {
    std::vector<ParameterSpec> s(4);
    s[0] = {.name = "port", .type = ParamType::integer, .required = true, .min = 1, .max = 65535};
    s[1] = {.name = "name", .type = ParamType::text, .default_value = honeycomb::Value{std::string("x")}};
    s[2] = {.name = "on", .type = ParamType::boolean, .default_value = honeycomb::Value{false}};
    s[3] = {.name = "proto", .type = ParamType::select, .items = {{"tcp", "TCP"}, {"udp", "UDP"}}};
    return s;
  }();
  // Split the input on NUL into arguments.
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back().push_back(static_cast<char>(data[i]));
    }
  }
  auto r = parse_arguments(specs, args);
  (void)r;
  (void)convert_argument(args.front());
  return 0;
}
