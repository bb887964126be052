#include "host/python_integration.hpp"

#include "common/log.hpp"
#include "plugin/parameters.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace honeycomb::host {

using pipeline::AlertRecordPtr;
using pipeline::SendResult;
using pipeline::TestResult;

PythonIntegration::PythonIntegration(plugin::IntegrationSpec spec, ServiceArgs args)
    : spec_(std::move(spec)), args_(std::move(args)) {
  // Import and construct the plugin once, in a child that stops right after.
  PythonChild check;
  std::string error;
  if (!check.start({"integration", spec_.name, spec_.folder, init_json()}, error)) {
    throw std::runtime_error(error);
  }
  (void)check.write_line(R"({"t":"shutdown"})", PythonChild::Clock::now() + std::chrono::seconds(5));
  bool hello = false;
  std::string crash;
  std::string traceback;
  check.run(
      [&](const boost::json::object& message) {
        const std::string_view type = string_member(message, "t");
        if (type == "hello") {
          hello = true;
        } else if (type == "crash") {
          crash = std::string(string_member(message, "error", "unknown error"));
          traceback = std::string(string_member(message, "traceback"));
        }
      },
      PythonChild::Clock::now() + check_timeout);
  if (!crash.empty()) {
    throw std::runtime_error(crash + (traceback.empty() ? "" : "\n" + traceback));
  }
  if (!hello) {
    throw std::runtime_error("its Python process " + check.exit_description() + " before it was ready");
  }
}

PythonIntegration::~PythonIntegration() { stop_child(std::chrono::milliseconds(2000)); }

std::string PythonIntegration::logger_name() const { return "integration." + spec_.name; }

std::string PythonIntegration::init_json() const {
  boost::json::object init;
  init["t"] = "init";
  init["args"] = plugin::args_to_json(args_);
  init["logger"] = logger_name();
  init["polling_enabled"] = spec_.polling_enabled;
  init["polling_duration"] = spec_.polling_duration;
  return boost::json::serialize(init);
}

void PythonIntegration::stop_child(std::chrono::milliseconds grace) {
  if (child_) {
    child_->stop(grace);
  }
  if (reader_.joinable()) {
    reader_.join();
  }
  child_.reset();
}

bool PythonIntegration::ensure_child(std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (child_ && !child_done_) {
      return true;
    }
  }
  if (reader_.joinable()) {
    reader_.join();  // the previous child is gone; its reader has returned
  }
  child_ = std::make_unique<PythonChild>();
  if (!child_->start({"integration", spec_.name, spec_.folder, init_json()}, error)) {
    child_.reset();
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    child_done_ = false;
    child_error_.clear();
    results_.clear();
  }
  reader_ = std::thread([this, child = child_.get()] {
    ChildLogRouter router(logger_name());
    std::string crash;
    child->run([&](const boost::json::object& message) {
      const std::string_view type = string_member(message, "t");
      if (type == "log") {
        router.log(message);
      } else if (type == "result") {
        const auto* id = message.if_contains("id");
        if (id != nullptr && id->is_int64()) {
          std::lock_guard lock(mutex_);
          results_.insert_or_assign(static_cast<std::uint64_t>(id->get_int64()), message);
          changed_.notify_all();
        }
      } else if (type == "crash") {
        crash = std::string(string_member(message, "error", "unknown error"));
        // Looked up now, not kept: log::init() replaces loggers (daemons).
        log::get(logger_name())
            ->error("integration {} failed: {}\n{}", spec_.name, crash, string_member(message, "traceback"));
      }
    });
    std::lock_guard lock(mutex_);
    child_done_ = true;
    child_error_ = crash.empty() ? "its Python process " + child->exit_description() : crash;
    changed_.notify_all();
  });
  return true;
}

std::optional<boost::json::object> PythonIntegration::call(std::uint64_t id, const std::string& request,
                                                           std::string& error) {
  const auto deadline = PythonChild::Clock::now() + call_timeout;
  if (!child_->write_line(request, deadline)) {
    error = "cannot write to the Python process of " + spec_.name;
    stop_child(std::chrono::milliseconds(0));
    return std::nullopt;
  }
  std::unique_lock lock(mutex_);
  const bool done = changed_.wait_until(lock, deadline, [&] { return results_.count(id) > 0 || child_done_; });
  if (auto it = results_.find(id); it != results_.end()) {
    boost::json::object result = std::move(it->second);
    results_.erase(it);
    return result;
  }
  if (!done) {
    error = "no answer from integration.py within " + std::to_string(call_timeout.count()) + " s";
    lock.unlock();
    stop_child(std::chrono::milliseconds(0));  // restarted by the next call
    return std::nullopt;
  }
  error = child_error_;
  return std::nullopt;
}

SendResult PythonIntegration::send(std::span<const AlertRecordPtr> batch) {
  std::string error;
  if (!ensure_child(error)) {
    return {0, error};
  }
  std::size_t delivered = 0;
  while (delivered < batch.size()) {
    const std::size_t n = std::min(max_alerts_per_call, batch.size() - delivered);
    const std::uint64_t id = next_id_++;
    // The records are already JSON: splice them in, no re-rendering.
    std::string request = R"({"t":"send","id":)" + std::to_string(id) + R"(,"alerts":[)";
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) {
        request.push_back(',');
      }
      request += batch[delivered + i]->json;
    }
    request += "]}";
    auto result = call(id, request, error);
    if (!result) {
      return {delivered, error};
    }
    std::size_t done = 0;
    if (const auto* d = result->if_contains("delivered"); d != nullptr && d->is_int64() && d->get_int64() > 0) {
      done = std::min(static_cast<std::size_t>(d->get_int64()), n);
    }
    delivered += done;
    if (done < n) {
      const std::string_view why = string_member(*result, "error");
      return {delivered, why.empty() ? "send_event failed" : std::string(why)};
    }
  }
  return {delivered, {}};
}

TestResult PythonIntegration::test_connection() {
  std::string error;
  if (!ensure_child(error)) {
    return {false, error};
  }
  const std::uint64_t id = next_id_++;
  auto result = call(id, R"({"t":"test","id":)" + std::to_string(id) + "}", error);
  if (!result) {
    return {false, error};
  }
  const auto* success = result->if_contains("success");
  return {success != nullptr && success->is_bool() && success->get_bool(),
          std::string(string_member(*result, "response"))};
}

}  // namespace honeycomb::host
