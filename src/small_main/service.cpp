// honeycomb-service: runs one service, as `honeycomb service run` resolved
// it (host/small_executables.hpp says why this is a separate executable). Not
// meant to be started by hand; its arguments are an internal format.
#include "host/runner.hpp"
#include "host/small_executables.hpp"

#include <iostream>
#include <string>
#include <variant>
#include <vector>

int main(int argc, char** argv) {
  namespace host = honeycomb::host;
  host::use_built_in_name_services();
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  std::string error;
  auto request = host::parse_service_exec_arguments(arguments, error);
  if (!request) {
    std::cerr << "honeycomb-service: " << error << "\n"
              << "This program runs a service for `honeycomb service run`; run that instead.\n";
    return 2;
  }
  // This executable is linked statically and cannot load C++ plugin code.
  auto resolved = host::resolve_service(request->home, request->service, request->editable);
  if (const auto* spec = std::get_if<honeycomb::plugin::ServiceSpec>(&resolved);
      spec != nullptr && host::has_native_plugin_code(*spec)) {
    std::cerr << "honeycomb-service: " << spec->name
              << " is a C++ plugin; run it with `honeycomb service run`, which loads it\n";
    return 2;
  }
  return host::run_service(*request);
}
