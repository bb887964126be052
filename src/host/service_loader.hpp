// Finds the code of a service: a built-in compiled into this binary, an
// out-of-tree C++ plugin `<folder>/<name>_service.so` built against the SDK,
// or a Python plugin `<folder>/<name>_service.py` (run in a child process).
#pragma once

#include "plugin/config.hpp"

#include <honeycomb/service.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::host {

/// Owns a service instance and, for plugins, the shared object it came from
/// (closed after the instance is destroyed).
class LoadedService {
 public:
  LoadedService(std::unique_ptr<Service> service, void* library) : service_(std::move(service)), library_(library) {}
  ~LoadedService();
  LoadedService(LoadedService&& other) noexcept;
  LoadedService& operator=(LoadedService&&) = delete;
  LoadedService(const LoadedService&) = delete;
  LoadedService& operator=(const LoadedService&) = delete;

  Service& operator*() { return *service_; }
  Service* operator->() { return service_.get(); }

 private:
  std::unique_ptr<Service> service_;
  void* library_ = nullptr;
};

struct LoadError {
  std::string message;
};

/// Where a service's C++ plugin code would be: `<folder>/<name>_service.so`.
std::filesystem::path native_plugin_file(const plugin::ServiceSpec& spec);

/// Instantiates the service described by `spec`.
std::variant<LoadedService, LoadError> load_service(const plugin::ServiceSpec& spec);

/// Names of the services compiled into this binary, sorted.
std::vector<std::string> builtin_service_names();

}  // namespace honeycomb::host
