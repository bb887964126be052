// Public SDK: the base class of a honeycomb service (honeypot) and the one-line
// registration macro. This is the C++ form of the Python framework's
// `ServerCustomService` and `service_class = X`.
//
// Lifecycle (driven by the host):
//   1. the host constructs the service and attaches its context;
//   2. `on_server_start()` runs on a thread of its own; it must call
//      `signal_ready()` once it accepts connections, and may then block until
//      shutdown (e.g. run an io_context);
//   3. on SIGINT/SIGTERM the host calls `on_server_shutdown()` from another
//      thread; it must make `on_server_start()` return soon;
//   4. `test()` (optional) runs in the `honeycomb service test` process against
//      a running instance: it triggers alerts and returns their event types.
//
// Thread-safety: `add_alert_to_queue()` and `logger()` may be called from any
// thread, concurrently. `add_alert_to_queue()` never blocks: when the bounded
// alert queue is full the alert is dropped and counted.
#pragma once

#include <honeycomb/alert.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb {

/// Bumped whenever the layout or virtual table of the SDK types changes; a
/// plugin built against another version is refused at load time.
inline constexpr int sdk_abi_version = 1;

/// A logger whose records go to the host's log (`honeycomb.debug.log`).
class Logger {
 public:
  enum class Level { debug, info, warning, error };
  virtual ~Logger() = default;
  virtual void log(Level level, std::string_view message) = 0;

  void debug(std::string_view message) { log(Level::debug, message); }
  void info(std::string_view message) { log(Level::info, message); }
  void warning(std::string_view message) { log(Level::warning, message); }
  void error(std::string_view message) { log(Level::error, message); }
};

/// What the host gives a running service. Implemented by the host only.
class ServiceContext {
 public:
  virtual ~ServiceContext() = default;
  virtual void signal_ready() = 0;
  [[nodiscard]] virtual const ServiceArgs& args() const = 0;
  virtual Logger& logger() = 0;
  /// Queues an alert; false when it was dropped (unknown type, queue full).
  virtual bool add_alert(Alert&& alert) = 0;
  /// The service's name as installed (e.g. "simple_http").
  [[nodiscard]] virtual std::string_view service_name() const = 0;
};

/// Base class of every service. Derive, override `on_server_start()`, and
/// register with `HONEYCOMB_SERVICE(Class)` in one .cpp file.
class Service {
 public:
  Service() = default;
  virtual ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Runs on its own thread. Must call signal_ready() once listening.
  virtual void on_server_start() = 0;
  /// Called on stop; must make on_server_start() return. May be empty.
  virtual void on_server_shutdown() {}
  /// Optional self-test: trigger alerts against the running instance and
  /// return their event type names; nullopt means "no test()".
  virtual std::optional<std::vector<std::string>> test() { return std::nullopt; }

  /// Called by the host before any other member. Not for plugin code.
  void attach(ServiceContext* context) { context_ = context; }

 protected:
  void signal_ready() { context_->signal_ready(); }
  [[nodiscard]] const ServiceArgs& service_args() const { return context_->args(); }
  Logger& logger() { return context_->logger(); }
  bool add_alert_to_queue(Alert alert) { return context_->add_alert(std::move(alert)); }
  [[nodiscard]] std::string_view service_name() const { return context_->service_name(); }

 private:
  ServiceContext* context_ = nullptr;
};

using ServiceFactory = Service* (*)();

namespace detail {
/// Registers a built-in service factory under `name` (host side only).
bool register_builtin_service(std::string_view name, ServiceFactory factory);
}  // namespace detail

}  // namespace honeycomb

// HONEYCOMB_SERVICE(Class): the one line that makes a service loadable.
// Built-in services (compiled into the honeycomb binary, HONEYCOMB_BUILTIN
// defined by honeycomb_add_service()) register by name in a static registry;
// out-of-tree plugins export C entry points that the host finds with dlsym()
// in `<name>_service.so`.
#define HONEYCOMB_DETAIL_CAT2(a, b) a##b
#define HONEYCOMB_DETAIL_CAT(a, b) HONEYCOMB_DETAIL_CAT2(a, b)
#ifdef HONEYCOMB_BUILTIN
#define HONEYCOMB_SERVICE(Class, name)                                                        \
  namespace {                                                                                 \
  [[maybe_unused]] const bool HONEYCOMB_DETAIL_CAT(honeycomb_registered_, __LINE__) =          \
      ::honeycomb::detail::register_builtin_service(name, []() -> ::honeycomb::Service* { \
        return new Class();                                                                   \
      });                                                                                     \
  }
#else
#define HONEYCOMB_SERVICE(Class, name)                                                             \
  extern "C" __attribute__((visibility("default"))) int honeycomb_sdk_abi() {                      \
    return ::honeycomb::sdk_abi_version;                                                           \
  }                                                                                                \
  extern "C" __attribute__((visibility("default"))) const char* honeycomb_service_name() {         \
    return name;                                                                                   \
  }                                                                                                \
  extern "C" __attribute__((visibility("default"))) ::honeycomb::Service* honeycomb_create_service() { \
    return new Class();                                                                            \
  }
#endif
