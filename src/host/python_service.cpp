#include "host/python_service.hpp"

#include "common/log.hpp"
#include "plugin/parameters.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace honeycomb::host {

std::string PythonService::logger_name() const {
  // The name log::get(spec.name) gives the host's own logger of the service,
  // so the plugin's self.logger records read like a C++ service's.
  return spec_.name.find('.') == std::string::npos ? "honeycomb." + spec_.name : spec_.name;
}

std::string PythonService::init_json() const {
  boost::json::object init;
  init["t"] = "init";
  init["args"] = plugin::args_to_json(service_args());
  boost::json::array types;
  for (const auto& e : spec_.event_types) {
    types.emplace_back(e.name);
  }
  init["alert_types"] = std::move(types);
  init["logger"] = logger_name();
  // The child joins on_server_start's thread for this long after
  // on_server_shutdown(), leaving us time to reap it before we kill it.
  init["stop_grace"] = 2.5;
  return boost::json::serialize(init);
}

void PythonService::relay_alert(const boost::json::object& message) {
  const auto* body = message.if_contains("alert");
  if (body == nullptr || !body->is_object()) {
    bad_alerts_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Alert alert;
  const auto& fields = body->get_object();
  alert.fields.reserve(fields.size());
  for (const auto& [key, value] : fields) {
    if (key == "event_type") {
      // Not a string: an event type no config.json has; the pipeline drops
      // and counts it like any unknown type.
      alert.event_type = value.is_string() ? std::string(value.get_string()) : boost::json::serialize(value);
      continue;
    }
    alert.fields.emplace_back(std::string(key), value_from_json(value));
  }
  add_alert_to_queue(std::move(alert));
}

void PythonService::on_server_start() {
  auto logger = log::get(spec_.name);
  {
    std::lock_guard lock(start_mutex_);
    if (stopping_) {
      return;
    }
    std::string error;
    if (!child_.start({"service", spec_.name, spec_.folder, init_json()}, error)) {
      throw std::runtime_error(error);
    }
  }
  logger->debug("started the Python plugin {}_service.py (pid: {})", spec_.name, child_.pid());

  ChildLogRouter router(logger_name());
  std::string crash;
  child_.run([&](const boost::json::object& message) {
    const std::string_view type = string_member(message, "t");
    if (type == "alert") {
      relay_alert(message);
    } else if (type == "log") {
      router.log(message);
    } else if (type == "ready") {
      signal_ready();
    } else if (type == "crash") {
      crash = std::string(string_member(message, "error", "unknown error"));
      const std::string_view stage = string_member(message, "stage", "the plugin");
      logger->error("{} failed in {}: {}\n{}", spec_.name, stage, crash, string_member(message, "traceback"));
    }
  });

  const auto& c = child_.counters();
  const std::uint64_t dropped = c.oversized.load() + c.malformed.load() + bad_alerts_.load();
  if (dropped > 0) {
    logger->warn("{}: {} messages from the Python child dropped ({} longer than {} bytes, {} malformed, {} bad alerts)",
                 spec_.name, dropped, c.oversized.load(), PythonChild::max_line, c.malformed.load(),
                 bad_alerts_.load());
  }
  bool stopping = false;
  {
    std::lock_guard lock(start_mutex_);
    stopping = stopping_;
  }
  if (!crash.empty()) {
    throw std::runtime_error(crash);
  }
  if (stopping) {
    if (child_.killed_after_grace()) {
      logger->warn("{} did not stop within {} ms of on_server_shutdown(); killed it", spec_.name,
                   stop_grace.count());
    }
    return;
  }
  if (child_.exit_code() != 0) {
    throw std::runtime_error("the Python process of " + spec_.name + " " + child_.exit_description() +
                             (child_.exit_code() == 127 ? " (could not run the interpreter?)" : ""));
  }
  // Exit code 0 without a stop: on_server_start() returned before
  // signal_ready(); the runner reports that.
}

void PythonService::on_server_shutdown() {
  std::lock_guard lock(start_mutex_);
  stopping_ = true;
  child_.stop(stop_grace);
}

std::optional<std::vector<std::string>> PythonService::test() {
  PythonChild child;
  std::string error;
  if (!child.start({"test", spec_.name, spec_.folder, init_json()}, error)) {
    throw std::runtime_error(error);
  }
  auto logger = log::get(spec_.name);
  ChildLogRouter router(logger_name());
  std::optional<std::vector<std::string>> triggered;
  bool answered = false;
  std::string crash;
  child.run(
      [&](const boost::json::object& message) {
        const std::string_view type = string_member(message, "t");
        if (type == "log") {
          router.log(message);
        } else if (type == "crash") {
          crash = std::string(string_member(message, "error", "unknown error"));
          logger->error("{} test() failed: {}\n{}", spec_.name, crash, string_member(message, "traceback"));
        } else if (type == "result" && !answered) {
          answered = true;
          const auto* value = message.if_contains("value");
          if (value != nullptr && value->is_array()) {
            std::vector<std::string> names;
            for (const auto& v : value->get_array()) {
              if (v.is_string()) {
                names.emplace_back(v.get_string());
              }
            }
            triggered = std::move(names);
          }
        }
      },
      PythonChild::Clock::now() + test_timeout);
  if (!crash.empty()) {
    throw std::runtime_error(crash);
  }
  if (!answered) {
    throw std::runtime_error(child.killed_after_grace()
                                 ? "test() did not return within " + std::to_string(test_timeout.count()) + " s"
                                 : "the Python process " + child.exit_description() + " without a result");
  }
  return triggered;
}

}  // namespace honeycomb::host
