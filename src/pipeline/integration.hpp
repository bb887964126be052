// The interface of an alert output (an "integration") and its registry.
// Built-in integrations live in integrations/<name>/ and register with one
// line: HONEYCOMB_INTEGRATION(Class, "name").
#pragma once

#include "pipeline/alert_record.hpp"
#include "plugin/config.hpp"

#include <honeycomb/alert.hpp>

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::pipeline {

/// The outcome of one send() call.
struct SendResult {
  std::size_t delivered = 0;  ///< records delivered, from the front of the batch
  std::string error;          ///< why the rest were not (empty when all were)
};

/// The outcome of `integration test`.
struct TestResult {
  bool success = false;
  std::string response;
};

/// An alert output. send() and flush() are called from one worker thread
/// of the integration's own; they may block (network, disk) without delaying
/// the service or the other integrations.
class Integration {
 public:
  virtual ~Integration() = default;
  /// Delivers as many records as it can, in order.
  virtual SendResult send(std::span<const AlertRecordPtr> batch) = 0;
  /// Called when the integration's queue has run empty.
  virtual void flush() {}
  /// Checks that the configured destination can be reached.
  virtual TestResult test_connection() = 0;
};

struct IntegrationContext {
  const plugin::IntegrationSpec& spec;
  const ServiceArgs& args;
  std::shared_ptr<spdlog::logger> logger;
};

using IntegrationFactory = std::function<std::unique_ptr<Integration>(const IntegrationContext&)>;

/// Registers a built-in integration; false (and a message on stderr) when the
/// name is taken.
bool register_integration(std::string_view name, IntegrationFactory factory);
/// The factory of a built-in integration, or nullptr.
const IntegrationFactory* find_integration(std::string_view name);
/// The names of all built-in integrations, sorted.
std::vector<std::string> builtin_integration_names();

}  // namespace honeycomb::pipeline

#define HONEYCOMB_INTEGRATION_CAT2(a, b) a##b
#define HONEYCOMB_INTEGRATION_CAT(a, b) HONEYCOMB_INTEGRATION_CAT2(a, b)
/// Registers integration class `Class` (constructible from IntegrationContext) as `name`.
#define HONEYCOMB_INTEGRATION(Class, name)                                                            \
  namespace {                                                                                          \
  [[maybe_unused]] const bool HONEYCOMB_INTEGRATION_CAT(honeycomb_integration_registered_, __LINE__) = \
      ::honeycomb::pipeline::register_integration(                                                     \
          name, [](const ::honeycomb::pipeline::IntegrationContext& c)                                 \
                    -> std::unique_ptr<::honeycomb::pipeline::Integration> { return std::make_unique<Class>(c); }); \
  }
