// A service written for the Python Honeycomb framework (`<name>_service.py`
// with `service_class = X`, importing `from base_service import
// ServerCustomService`), run unchanged in a child Python process
// (python/honeycomb_child.py). The host keeps what it does for C++
// services: parameter and alert validation, policies, integrations, logging
// and the lifecycle; the child only runs the plugin's code.
#pragma once

#include "host/python_child.hpp"
#include "plugin/config.hpp"

#include <honeycomb/service.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace honeycomb::host {

class PythonService final : public Service {
 public:
  /// How long the child has to stop after on_server_shutdown() before its
  /// process group is killed (within the runner's 5 s).
  static constexpr std::chrono::milliseconds stop_grace{3500};
  /// How long `service test` waits for the plugin's test().
  static constexpr std::chrono::seconds test_timeout{60};

  explicit PythonService(plugin::ServiceSpec spec) : spec_(std::move(spec)) {}

  /// Starts the child and relays its messages until it exits; throws (with
  /// the Python error) when the plugin crashed or the child died.
  void on_server_start() override;
  /// Asks the child to call the plugin's on_server_shutdown() and exit.
  void on_server_shutdown() override;
  /// Runs the plugin's test() in a child of its own.
  std::optional<std::vector<std::string>> test() override;

 private:
  [[nodiscard]] std::string init_json() const;
  [[nodiscard]] std::string logger_name() const;
  void relay_alert(const boost::json::object& message);

  plugin::ServiceSpec spec_;
  PythonChild child_;
  std::mutex start_mutex_;  ///< orders a stop against a start in progress
  bool stopping_ = false;   ///< guarded by start_mutex_
  std::atomic<std::uint64_t> bad_alerts_{0};
};

}  // namespace honeycomb::host
