#include "pipeline/integration.hpp"

#include <cstdio>
#include <map>

namespace honeycomb::pipeline {
namespace {
// Function-local static: safe from static-initialisation order, since the
// registering objects live in other translation units.
std::map<std::string, IntegrationFactory, std::less<>>& registry() {
  static std::map<std::string, IntegrationFactory, std::less<>> r;
  return r;
}
}  // namespace

bool register_integration(std::string_view name, IntegrationFactory factory) {
  auto [it, inserted] = registry().emplace(std::string(name), std::move(factory));
  if (!inserted) {
    std::fprintf(stderr, "honeycomb: integration '%.*s' registered twice\n", static_cast<int>(name.size()),
                 name.data());
  }
  return inserted;
}

const IntegrationFactory* find_integration(std::string_view name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> builtin_integration_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : registry()) {
    names.push_back(k);
  }
  return names;
}

}  // namespace honeycomb::pipeline
