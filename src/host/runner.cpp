#include "host/runner.hpp"

#include "common/log.hpp"
#include "common/resident_code.hpp"
#include "host/process.hpp"
#include "host/python_integration.hpp"
#include "host/service_loader.hpp"
#include "plugin/parameters.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <thread>
#include <unistd.h>

namespace honeycomb::host {
namespace {

spdlog::level::level_enum to_spdlog(Logger::Level level) {
  switch (level) {
    case Logger::Level::debug:
      return spdlog::level::debug;
    case Logger::Level::info:
      return spdlog::level::info;
    case Logger::Level::warning:
      return spdlog::level::warn;
    case Logger::Level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

class SpdlogAdapter final : public Logger {
 public:
  explicit SpdlogAdapter(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  void log(Level level, std::string_view message) override { logger_->log(to_spdlog(level), "{}", message); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

// What the host gives the running service.
class HostContext final : public ServiceContext {
 public:
  HostContext(std::string name, ServiceArgs args, std::shared_ptr<spdlog::logger> logger,
              pipeline::AlertPipeline* pipeline)
      : name_(std::move(name)), args_(std::move(args)), spd_(std::move(logger)), logger_(spd_), pipeline_(pipeline) {}

  void signal_ready() override {
    if (!ready_.exchange(true)) {
      spd_->debug("service is ready");
      ::kill(::getpid(), SIGUSR2);  // wakes the main thread
    }
  }
  [[nodiscard]] const ServiceArgs& args() const override { return args_; }
  Logger& logger() override { return logger_; }
  bool add_alert(Alert&& alert) override {
    if (pipeline_ == nullptr) {
      return false;
    }
    return pipeline_->submit(std::move(alert));
  }
  [[nodiscard]] std::string_view service_name() const override { return name_; }
  [[nodiscard]] bool ready() const { return ready_.load(); }

 private:
  std::string name_;
  ServiceArgs args_;
  std::shared_ptr<spdlog::logger> spd_;
  SpdlogAdapter logger_;
  pipeline::AlertPipeline* pipeline_;
  std::atomic<bool> ready_{false};
};

}  // namespace

std::optional<std::chrono::milliseconds> parse_ready_timeout(const std::string& seconds) {
  char* end = nullptr;
  const double value = std::strtod(seconds.c_str(), &end);
  if (seconds.empty() || end == nullptr || *end != '\0' || !(value > 0) || value > 86400.0 * 365) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(value * 1000.0 + 0.5));
}

std::chrono::milliseconds default_ready_timeout() {
  if (const char* env = std::getenv("HONEYCOMB_READY_TIMEOUT"); env != nullptr && *env != '\0') {
    if (auto t = parse_ready_timeout(env)) {
      return *t;
    }
  }
  return std::chrono::seconds(30);
}

std::variant<plugin::ServiceSpec, std::string> resolve_service(const Home& home, const std::string& name,
                                                               bool editable) {
  auto folder = plugin_folder(home.services(), name, editable);
  if (auto* err = std::get_if<std::string>(&folder)) {
    return *err;
  }
  auto spec = plugin::load_service_spec(std::get<fs::path>(folder));
  if (!spec) {
    return spec.error().message();
  }
  return std::move(spec.value());
}

std::variant<LoadedIntegration, std::string> load_integration(const Home& home, const std::string& name, bool editable,
                                                              const std::vector<std::string>* override_args) {
  auto found = plugin_folder(home.integrations(), name, editable);
  if (auto* err = std::get_if<std::string>(&found)) {
    return *err;
  }
  const fs::path folder = std::get<fs::path>(found);
  std::error_code ec;
  auto spec = plugin::load_integration_spec(folder);
  if (!spec) {
    return spec.error().message();
  }
  std::variant<ServiceArgs, plugin::ParamError> args;
  if (override_args != nullptr) {
    args = plugin::parse_arguments(spec->parameters, *override_args);
  } else {
    std::map<std::string, Value, std::less<>> saved;
    if (auto text = read_text_file(folder / ".args.json")) {
      boost::system::error_code jec;
      auto doc = boost::json::parse(*text, jec);
      if (jec) {
        return (folder / ".args.json").string() + ": not valid JSON; configure the integration again";
      }
      saved = plugin::args_from_json(doc);
    }
    args = plugin::validate_values(spec->parameters, std::move(saved));
  }
  if (auto* e = std::get_if<plugin::ParamError>(&args)) {
    return "Integration " + spec->name + " is not configured: " + e->text +
           "; configure it with `honeycomb integration configure " + spec->name + " key=value ...`";
  }
  const auto* factory = pipeline::find_integration(spec->name);
  if (factory == nullptr) {
    if (!fs::exists(folder / "integration.py", ec)) {
      return "integration " + spec->name + " has no code: no built-in integration of that name and no integration.py";
    }
    // Written for the Python framework: run in a child process.
    LoadedIntegration out{std::move(spec.value()), std::get<ServiceArgs>(std::move(args)), nullptr};
    try {
      out.instance = std::make_unique<PythonIntegration>(out.spec, out.args);
    } catch (const std::exception& e) {
      return "integration " + out.spec.name + " failed to start: " + e.what();
    }
    return out;
  }
  LoadedIntegration out{std::move(spec.value()), std::get<ServiceArgs>(std::move(args)), nullptr};
  try {
    out.instance = (*factory)({out.spec, out.args, log::get("integration." + out.spec.name)});
  } catch (const std::exception& e) {
    return "integration " + out.spec.name + " failed to start: " + e.what();
  }
  return out;
}

int run_service(const RunRequest& req) {
  // Signals are taken synchronously by the main thread (sigtimedwait), so
  // block them before any thread exists; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // the service thread ended
  sigaddset(&signals, SIGUSR2);  // the service signalled ready
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto resolved = resolve_service(req.home, req.service, req.editable);
  if (auto* err = std::get_if<std::string>(&resolved)) {
    std::cerr << "Error: " << *err << "\n";
    return 1;
  }
  const plugin::ServiceSpec spec = std::get<plugin::ServiceSpec>(std::move(resolved));

  std::vector<std::string> unknown;
  auto parsed = plugin::parse_arguments(spec.parameters, req.args, &unknown);
  if (auto* e = std::get_if<plugin::ParamError>(&parsed)) {
    std::cerr << "Error: " << e->text << "\n";
    return 1;
  }
  ServiceArgs args = std::get<ServiceArgs>(std::move(parsed));

  const fs::path pidfile = req.home.pidfile(spec.name);
  pid_t running_pid = 0;
  if (daemon_state(pidfile, &running_pid) == DaemonState::running) {
    std::cerr << "Error: " << spec.name << " is already running (pid: " << running_pid << ")\n";
    return 1;
  }

  std::vector<LoadedIntegration> integrations;
  std::set<std::string> seen_integrations;
  for (const auto& name : req.integrations) {
    // `-i x -i x` means x once: a second instance would write every alert twice.
    if (!seen_integrations.insert(name).second) {
      continue;
    }
    auto loaded = load_integration(req.home, name, false);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::cerr << "Error: " << *err << "\n";
      return 1;
    }
    integrations.push_back(std::get<LoadedIntegration>(std::move(loaded)));
  }

  auto service = load_service(spec);
  if (auto* err = std::get_if<LoadError>(&service)) {
    std::cerr << "Error: " << err->message << "\n";
    return 1;
  }
  LoadedService instance = std::get<LoadedService>(std::move(service));

  std::string write_error;
  write_text_file(spec.folder / ".args.json", boost::json::serialize(plugin::args_to_json(args)), write_error);

  int status_fd = -1;
  if (req.daemon) {
    const pid_t pid =
        daemonize(req.home.logs_dir(spec.name) / "stdout.log", req.home.logs_dir(spec.name) / "stderr.log", status_fd);
    if (pid < 0) {
      std::cerr << "Error: cannot start a daemon: " << std::strerror(errno) << "\n";
      return 1;
    }
    if (pid > 0) {
      const bool ok = wait_for_startup(status_fd, static_cast<int>(req.ready_timeout.count() + 2000));
      if (!ok) {
        std::cerr << "Error: " << spec.name << " failed to start; see `honeycomb service logs " << spec.name << "` and "
                  << req.home.debug_log().string() << "\n";
        return 1;
      }
      std::cout << "[+] " << spec.name << " is running in the background (pid: " << pid << ")\n";
      return 0;
    }
    if (!write_pidfile(pidfile, write_error)) {
      std::cerr << "Error: " << write_error << "\n";
    }
  }

  // Daemons log human-readable records to stdout.log; foreground runs to stderr.
  log::init({req.home.debug_log(), req.verbose, true, req.daemon});
  auto logger = log::get(spec.name);
  for (const auto& u : unknown) {
    logger->warn("ignoring parameter '{}': {} has no such parameter", u, spec.name);
  }

  pipeline::AlertPipeline pipeline(spec, req.limits, logger);
  for (auto& i : integrations) {
    logger->debug("sending alerts to integration {}", i.spec.name);
    pipeline.add_integration(std::move(i.spec), std::move(i.instance));
  }

  HostContext context(spec.name, std::move(args), logger, &pipeline);
  instance->attach(&context);

  std::promise<void> finished;
  auto finished_future = finished.get_future();
  std::atomic<bool> crashed{false};
  std::thread service_thread([&] {
    try {
      instance->on_server_start();
    } catch (const std::exception& e) {
      crashed = true;
      logger->error("service {} failed: {}", spec.name, e.what());
    } catch (...) {
      crashed = true;
      logger->error("service {} failed with an unknown exception", spec.name);
    }
    finished.set_value();
    ::kill(::getpid(), SIGUSR1);
  });

  auto notify_parent = [&](bool ok) {
    if (status_fd >= 0) {
      const char byte = ok ? '1' : '0';
      (void)!::write(status_fd, &byte, 1);
      ::close(status_fd);
      status_fd = -1;
    }
  };

  const auto ready_deadline = std::chrono::steady_clock::now() + req.ready_timeout;
  int exit_code = 0;
  bool thread_done = false;
  // A few seconds after ready, the start-up code leaves resident memory
  // (common/resident_code.hpp): an idle honeypot waits for connections.
  std::optional<std::chrono::steady_clock::time_point> release_code_at;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (release_code_at && now >= *release_code_at) {
      release_code_at.reset();
      if (auto released = resident_code::release_startup_code(); !released.error.empty()) {
        logger->debug("start-up code not released: {}", released.error);
      }
    }
    // Wait for a signal until the next thing due: the ready deadline, the
    // release, or (nothing due) an hour.
    std::optional<std::chrono::steady_clock::time_point> until;
    if (!context.ready()) {
      if (now >= ready_deadline) {
        logger->error("service {} did not signal ready within {} s; stopping it", spec.name,
                      static_cast<double>(req.ready_timeout.count()) / 1000.0);
        exit_code = 1;
        break;
      }
      until = ready_deadline;
    } else {
      until = release_code_at;
    }
    timespec wait{};
    wait.tv_sec = 3600;
    if (until) {
      const auto ms =
          std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(*until - now).count(), 1);
      wait.tv_sec = ms / 1000;
      wait.tv_nsec = (ms % 1000) * 1'000'000;
    }
    const int sig = ::sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGUSR2) {
      notify_parent(true);
      release_code_at = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      continue;
    }
    if (sig == SIGINT) {
      logger->info("Caught KeyboardInterrupt, shutting service down gracefully");
      break;
    }
    if (sig == SIGTERM) {
      logger->info("Caught SIGTERM, shutting service down gracefully");
      break;
    }
    if (sig == SIGUSR1) {
      thread_done = true;
      if (crashed || !context.ready()) {
        if (!crashed) {
          logger->error("service {} stopped before it signalled ready", spec.name);
        }
        exit_code = 1;
        break;
      }
      // The reference keeps running when on_server_start() returns after
      // signal_ready(); so do we, until a signal.
      continue;
    }
  }
  const bool started = exit_code == 0 && context.ready();
  if (req.daemon && !started) {
    // The parent reports the failure as soon as it hears of it; by then the
    // pidfile must be gone, or `service status` right after would still
    // call the service running (or stale).
    std::error_code ec;
    fs::remove(pidfile, ec);
  }
  notify_parent(started);

  if (!thread_done || !crashed) {
    try {
      instance->on_server_shutdown();
    } catch (const std::exception& e) {
      logger->error("on_server_shutdown failed: {}", e.what());
    }
  }
  const bool joined = finished_future.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (joined) {
    service_thread.join();
  } else {
    logger->warn("service {} did not stop within 5 s of on_server_shutdown(); exiting anyway", spec.name);
    service_thread.detach();
  }
  pipeline.stop();
  const auto c = pipeline.counters();
  logger->info("alerts: {} accepted, {} dropped (unknown type), {} dropped (queue full), {} failed", c.accepted,
               c.dropped_unknown_type, c.dropped_queue_full, c.failed);
  log::flush();
  if (req.daemon) {
    std::error_code ec;
    fs::remove(pidfile, ec);
  }
  if (!joined) {
    std::fflush(nullptr);
    std::_Exit(exit_code);  // a stuck service thread must not keep us alive
  }
  return exit_code;
}

}  // namespace honeycomb::host
