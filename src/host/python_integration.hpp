// An integration written for the Python Honeycomb framework (`integration.py`
// defining `IntegrationActionsClass`), run unchanged in a child Python
// process (python/honeycomb_child.py in integration mode).
//
// The child is started on first use (send or test_connection), from the
// thread that uses it: that thread (the integration's output worker) lives
// as long as the integration, which matters because the child dies with
// the thread that started it; and nothing is running yet when a daemon
// forks. The constructor checks the plugin in a short-lived child first, so
// an integration.py that does not import fails at `service run`, not at the
// first alert. A child that dies is restarted by the next send(); the
// worker's retries and backoff bound how often.
#pragma once

#include "host/python_child.hpp"
#include "pipeline/integration.hpp"
#include "plugin/config.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace honeycomb::host {

class PythonIntegration final : public pipeline::Integration {
 public:
  static constexpr std::size_t max_alerts_per_call = 256;
  static constexpr std::chrono::seconds call_timeout{30};
  static constexpr std::chrono::seconds check_timeout{30};

  /// Throws std::runtime_error with the Python error when integration.py
  /// cannot be imported or IntegrationActionsClass cannot be constructed.
  PythonIntegration(plugin::IntegrationSpec spec, ServiceArgs args);
  ~PythonIntegration() override;
  PythonIntegration(const PythonIntegration&) = delete;
  PythonIntegration& operator=(const PythonIntegration&) = delete;

  pipeline::SendResult send(std::span<const pipeline::AlertRecordPtr> batch) override;
  pipeline::TestResult test_connection() override;

 private:
  [[nodiscard]] std::string init_json() const;
  [[nodiscard]] std::string logger_name() const;
  bool ensure_child(std::string& error);
  void stop_child(std::chrono::milliseconds grace);
  /// Sends a request and waits for the result with its id; nullopt with
  /// `error` set when the child died or did not answer in time.
  std::optional<boost::json::object> call(std::uint64_t id, const std::string& request, std::string& error);

  plugin::IntegrationSpec spec_;
  ServiceArgs args_;

  std::unique_ptr<PythonChild> child_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, boost::json::object> results_;  // guarded by mutex_
  bool child_done_ = true;                                 // guarded by mutex_
  std::string child_error_;                                // guarded by mutex_
  std::uint64_t next_id_ = 1;
};

}  // namespace honeycomb::host
