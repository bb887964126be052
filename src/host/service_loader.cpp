#include "host/service_loader.hpp"

#include "host/python_service.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <map>

namespace honeycomb {
namespace {
std::map<std::string, ServiceFactory, std::less<>>& builtin_registry() {
  static std::map<std::string, ServiceFactory, std::less<>> r;
  return r;
}
}  // namespace

bool detail::register_builtin_service(std::string_view name, ServiceFactory factory) {
  auto [it, inserted] = builtin_registry().emplace(std::string(name), factory);
  if (!inserted) {
    std::fprintf(stderr, "honeycomb: service '%.*s' registered twice\n", static_cast<int>(name.size()), name.data());
  }
  return inserted;
}

namespace host {

LoadedService::~LoadedService() {
  service_.reset();
  if (library_ != nullptr) {
    ::dlclose(library_);
  }
}

LoadedService::LoadedService(LoadedService&& other) noexcept
    : service_(std::move(other.service_)), library_(other.library_) {
  other.library_ = nullptr;
}

std::vector<std::string> builtin_service_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : builtin_registry()) {
    names.push_back(k);
  }
  return names;
}

std::filesystem::path native_plugin_file(const plugin::ServiceSpec& spec) {
  return spec.folder / (spec.name + "_service.so");
}

std::variant<LoadedService, LoadError> load_service(const plugin::ServiceSpec& spec) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path so = native_plugin_file(spec);
  if (fs::is_regular_file(so, ec)) {
    void* lib = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      return LoadError{"cannot load " + so.string() + ": " + ::dlerror()};
    }
    auto abi = reinterpret_cast<int (*)()>(::dlsym(lib, "honeycomb_sdk_abi"));  // NOLINT
    auto create = reinterpret_cast<Service* (*)()>(::dlsym(lib, "honeycomb_create_service"));  // NOLINT
    if (abi == nullptr || create == nullptr) {
      ::dlclose(lib);
      return LoadError{so.string() + ": not a honeycomb service plugin (no HONEYCOMB_SERVICE(...) entry points)"};
    }
    if (abi() != sdk_abi_version) {
      const int got = abi();
      ::dlclose(lib);
      return LoadError{so.string() + ": built against SDK ABI " + std::to_string(got) + ", this honeycomb has " +
                       std::to_string(sdk_abi_version) + "; rebuild the plugin"};
    }
    std::unique_ptr<Service> service(create());
    if (!service) {
      ::dlclose(lib);
      return LoadError{so.string() + ": honeycomb_create_service() returned null"};
    }
    return LoadedService(std::move(service), lib);
  }
  if (fs::is_regular_file(spec.folder / (spec.name + "_service.py"), ec)) {
    // A plugin written for the Python framework: its code wins over a
    // built-in of the same name (the user installed that code).
    return LoadedService(std::make_unique<PythonService>(spec), nullptr);
  }
  auto& registry = builtin_registry();
  auto it = registry.find(spec.name);
  if (it == registry.end()) {
    return LoadError{"service " + spec.name + " has no code: no " + so.filename().string() + " in " +
                     spec.folder.string() + " and no built-in service of that name"};
  }
  return LoadedService(std::unique_ptr<Service>(it->second()), nullptr);
}

}  // namespace host
}  // namespace honeycomb
