#include "cli/commands.hpp"

#include "cli/core_commands.hpp"
#include "cli/node_commands.hpp"
#include "cli/up_command.hpp"
#include "common/log.hpp"
#include "host/process.hpp"
#include "host/runner.hpp"
#include "host/service_loader.hpp"
#include "host/small_executables.hpp"
#include "plugin/parameters.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#ifndef HONEYCOMB_VERSION
#define HONEYCOMB_VERSION "0.0.0"
#endif

namespace honeycomb::cli {
namespace {

using host::Home;
using host::PluginPaths;
using plugin::PluginKind;
namespace fs = std::filesystem;

std::string ports_text(const plugin::ServiceSpec& spec) {
  if (spec.ports.empty()) {
    return "Undefined";
  }
  std::string out;
  for (const auto& p : spec.ports) {
    out += (out.empty() ? "" : ", ") + (p.port ? std::to_string(*p.port) : std::string("*")) + "/" + p.protocol;
  }
  return out;
}

int cmd_install(const PluginPaths& paths, const std::vector<std::string>& sources) {
  int rc = exit_code::ok;
  for (const auto& source : sources) {
    auto outcome = host::install_plugin(paths, source);
    switch (outcome.status) {
      case host::InstallStatus::installed:
        std::cout << "[+] " << outcome.name << " has been installed successfully (" << paths.noun() << ")\n";
        for (const auto& note : outcome.notes) {
          std::cout << note << "\n";
        }
        break;
      case host::InstallStatus::already_installed:
        std::cerr << outcome.name << " is already installed\n";
        rc = exit_code::already_exists;
        break;
      case host::InstallStatus::failed:
        std::cerr << "Error: " << outcome.message << "\n";
        if (rc == exit_code::ok) {
          rc = exit_code::failure;
        }
        break;
    }
  }
  return rc;
}

bool confirm(const std::string& question) {
  std::cout << question << " [y/N]: " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) {
    std::cout << "\n";
    return false;
  }
  return answer == "y" || answer == "Y" || answer == "yes";
}

int cmd_uninstall(const Home& home, const PluginPaths& paths, const std::vector<std::string>& names, bool yes) {
  int rc = exit_code::ok;
  for (const auto& name : names) {
    if (!paths.is_installed(name)) {
      std::cerr << "[-] doh! I cannot seem to find `" << name << "`, are you sure it's installed?\n";
      rc = exit_code::failure;
      continue;
    }
    if (paths.kind == PluginKind::service &&
        host::daemon_state(home.pidfile(name), nullptr) == host::DaemonState::running) {
      std::cerr << "Error: " << name << " is running; stop it first with `honeycomb service stop " << name << "`\n";
      rc = exit_code::failure;
      continue;
    }
    if (!yes && !confirm("[?] Are you sure you want to delete `" + name + "` from honeycomb?")) {
      std::cout << "Aborted!\n";
      rc = exit_code::failure;
      continue;
    }
    std::error_code ec;
    fs::remove_all(paths.installed(name), ec);
    fs::remove(home.pidfile(name), ec);
    if (ec) {
      std::cerr << "Error: cannot delete " << paths.installed(name).string() << ": " << ec.message() << "\n";
      rc = exit_code::failure;
      continue;
    }
    std::cout << "[*] " << name << " has been uninstalled successfully\n";
  }
  return rc;
}

int cmd_list(const PluginPaths& paths, bool remote) {
  const auto names = paths.installed_names();
  const bool services = paths.kind == PluginKind::service;
  if (names.empty()) {
    std::cout << "[*] You do not have any " << paths.noun() << "s installed, try installing one with `honeycomb "
              << paths.noun() << " install`\n";
  } else {
    std::cout << "[*] Installed " << paths.noun() << "s:\n";
    for (const auto& name : names) {
      if (services) {
        auto spec = plugin::load_service_spec(paths.installed(name));
        if (!spec) {
          std::cout << name << " (invalid: " << spec.error().message() << ")\n";
          continue;
        }
        std::string alerts;
        for (const auto& e : spec->event_types) {
          alerts += (alerts.empty() ? "" : ", ") + e.name;
        }
        std::cout << name << " (Ports: " << ports_text(*spec) << ") [Alerts: " << alerts << "]\n";
      } else {
        auto spec = plugin::load_integration_spec(paths.installed(name));
        std::cout << name;
        if (spec) {
          std::cout << " (" << spec->display_name << ")";
        }
        std::cout << "\n";
      }
    }
  }
  if (remote) {
    std::cout << "[*] " << (services ? "Services" : "Integrations") << " in the honeycomb library:\n";
    for (const auto& name : paths.library_names()) {
      std::cout << name << (paths.is_installed(name) ? " (installed)" : "") << "\n";
    }
  }
  return exit_code::ok;
}

int cmd_show(const PluginPaths& paths, const std::string& name, bool remote) {
  fs::path folder;
  bool installed = false;
  if (!remote && paths.is_installed(name)) {
    folder = paths.installed(name);
    installed = true;
  } else if (fs::is_regular_file(paths.in_library(name) / "config.json")) {
    folder = paths.in_library(name);
    installed = paths.is_installed(name);
  } else {
    std::cerr << "Error: Cannot find " << paths.noun() << " `" << name << "` installed or in the honeycomb library\n";
    return exit_code::failure;
  }
  std::string summary;
  if (paths.kind == PluginKind::service) {
    auto spec = plugin::load_service_spec(folder);
    if (!spec) {
      std::cerr << "Error: " << spec.error().message() << "\n";
      return exit_code::failure;
    }
    summary = spec->label;
  } else {
    auto spec = plugin::load_integration_spec(folder);
    if (!spec) {
      std::cerr << "Error: " << spec.error().message() << "\n";
      return exit_code::failure;
    }
    summary = spec->display_name;
  }
  std::error_code ec;
  const auto mtime = fs::last_write_time(folder / "config.json", ec);
  std::string updated = "unknown";
  if (!ec) {
    const auto sys = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        mtime - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
    const std::time_t t = std::chrono::system_clock::to_time_t(sys);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    updated = buf;
  }
  std::string requires_text;
  if (auto req = host::read_text_file(folder / "requirements.txt")) {
    std::istringstream in(*req);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') {
        requires_text += (requires_text.empty() ? "" : ", ") + line;
      }
    }
  }
  std::cout << "Name: " << name << "\n"
            << "Installed: " << (installed ? "True" : "False") << "\n"
            << "Version: " << HONEYCOMB_VERSION << " Updated: " << updated << "\n"
            << "Summary: " << summary << "\n"
            << "Location: " << folder.string() << "\n"
            << "Requires: " << requires_text << "\n";
  return exit_code::ok;
}

int cmd_status(const Home& home, std::vector<std::string> names, bool show_all) {
  if (names.empty() && !show_all) {
    std::cerr << "You must specify a service name or use --show-all\n";
    return exit_code::usage;
  }
  if (show_all) {
    names = home.services().installed_names();
    if (names.empty()) {
      std::cout << "[*] You do not have any services installed, try installing one with `honeycomb service install`\n";
    }
  }
  for (const auto& name : names) {
    if (!home.services().is_installed(name)) {
      std::cout << name << " - no such service\n";
      continue;
    }
    pid_t pid = 0;
    switch (host::daemon_state(home.pidfile(name), &pid)) {
      case host::DaemonState::running:
        std::cout << name << " - running (pid: " << pid << ")\n";
        break;
      case host::DaemonState::not_running:
        std::cout << name << " - not running\n";
        break;
      case host::DaemonState::stale_pidfile:
        std::cout << name << " - not running (stale pidfile)\n";
        break;
    }
  }
  return exit_code::ok;
}

int cmd_stop(const Home& home, const std::string& name, bool editable) {
  const std::string service = editable ? host::normalized_folder(name).filename().string() : name;
  pid_t pid = 0;
  const auto state = host::daemon_state(home.pidfile(service), &pid);
  if (state != host::DaemonState::running) {
    std::error_code ec;
    if (state == host::DaemonState::stale_pidfile) {
      fs::remove(home.pidfile(service), ec);
    }
    std::cerr << "[-] " << service << " is not running\n";
    return exit_code::failure;
  }
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (host::process_alive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (host::process_alive(pid)) {
    std::cerr << "Error: " << service << " (pid: " << pid << ") did not stop within 15 s; sending SIGKILL\n";
    ::kill(pid, SIGKILL);
  }
  std::error_code ec;
  fs::remove(home.pidfile(service), ec);
  std::cout << "[*] " << service << " has been stopped\n";
  return exit_code::ok;
}

std::vector<std::string> last_lines(const fs::path& file, std::size_t n, std::streamoff& end_offset) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > n) {
      lines.erase(lines.begin());
    }
  }
  in.clear();
  in.seekg(0, std::ios::end);
  end_offset = in.tellg();
  return lines;
}

int cmd_logs(const Home& home, const std::vector<std::string>& names, std::size_t num, bool follow) {
  if (names.empty()) {
    std::cerr << "You must specify at least one service name\n";
    return exit_code::usage;
  }
  std::vector<std::pair<fs::path, std::streamoff>> files;
  for (const auto& name : names) {
    const fs::path log = home.logs_dir(name) / "stdout.log";
    if (!fs::exists(log)) {
      std::cerr << "[-] no logs for " << name << " (" << log.string() << " does not exist)\n";
      continue;
    }
    std::streamoff end = 0;
    for (const auto& l : last_lines(log, num, end)) {
      std::cout << (names.size() > 1 ? name + ": " : "") << l << "\n";
    }
    files.emplace_back(log, end);
  }
  std::cout << std::flush;
  if (files.empty()) {
    return exit_code::failure;
  }
  while (follow) {
    // Follow mode is for people: a short poll is fine here.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (auto& [path, offset] : files) {
      std::ifstream in(path, std::ios::binary);
      in.seekg(0, std::ios::end);
      const auto size = in.tellg();
      if (size < offset) {
        offset = 0;  // rotated or truncated
      }
      if (size > offset) {
        in.seekg(offset);
        std::string chunk(static_cast<std::size_t>(size - offset), '\0');
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        std::cout << chunk << std::flush;
        offset = size;
      }
    }
  }
  return exit_code::ok;
}

// The context of a service's test() in the CLI process: alerts raised there
// are not sent anywhere (test() talks to the running instance, whose alerts
// land in the debug log).
class TestContext final : public ServiceContext {
 public:
  TestContext(std::string name, ServiceArgs args) : name_(std::move(name)), args_(std::move(args)) {}
  void signal_ready() override {}
  [[nodiscard]] const ServiceArgs& args() const override { return args_; }
  Logger& logger() override { return logger_; }
  bool add_alert(Alert&& /*alert*/) override { return false; }
  [[nodiscard]] std::string_view service_name() const override { return name_; }

 private:
  class StderrLogger final : public Logger {
   public:
    void log(Level level, std::string_view message) override {
      if (level != Level::debug) {
        std::cerr << message << "\n";
      }
    }
  };
  std::string name_;
  ServiceArgs args_;
  StderrLogger logger_;
};

// Scans the debug log from `offset` for alert records of `event_type`.
bool debug_log_has_alert(const fs::path& log_file, std::streamoff offset, const std::string& service,
                         const std::string& event_type) {
  std::ifstream in(log_file, std::ios::binary);
  in.seekg(offset);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(event_type) == std::string::npos) {
      continue;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) {
      continue;
    }
    const auto& o = v.get_object();
    const auto* et = o.if_contains("event_type");
    const auto* svc = o.if_contains("service");
    if (et != nullptr && et->is_string() && et->get_string() == event_type &&
        (svc == nullptr || (svc->is_string() && svc->get_string() == service))) {
      return true;
    }
  }
  return false;
}

bool tcp_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;  // NOLINT
  ::close(fd);
  return ok;
}

int cmd_test(const Home& home, const std::vector<std::string>& names, bool force, bool editable) {
  int rc = exit_code::ok;
  for (const auto& name : names) {
    auto resolved = host::resolve_service(home, name, editable);
    if (auto* err = std::get_if<std::string>(&resolved)) {
      std::cerr << "Error: " << *err << "\n";
      rc = exit_code::failure;
      continue;
    }
    const auto spec = std::get<plugin::ServiceSpec>(std::move(resolved));
    if (!force && host::daemon_state(home.pidfile(spec.name), nullptr) != host::DaemonState::running) {
      std::cerr << "Unable to test " << spec.name << " because it is not running\n";
      rc = exit_code::failure;
      continue;
    }
    std::map<std::string, Value, std::less<>> saved;
    if (auto text = host::read_text_file(spec.folder / ".args.json")) {
      boost::system::error_code ec;
      saved = plugin::args_from_json(boost::json::parse(*text, ec));
    }
    auto args = plugin::validate_values(spec.parameters, saved);
    if (auto* e = std::get_if<plugin::ParamError>(&args)) {
      std::cerr << "Error: " << e->text << "\n";
      rc = exit_code::failure;
      continue;
    }
    auto loaded = host::load_service(spec);
    if (auto* err = std::get_if<host::LoadError>(&loaded)) {
      std::cerr << "Error: " << err->message << "\n";
      rc = exit_code::failure;
      continue;
    }
    auto instance = std::get<host::LoadedService>(std::move(loaded));
    TestContext context(spec.name, std::get<ServiceArgs>(std::move(args)));
    instance->attach(&context);

    std::error_code ec;
    const auto log_file = home.debug_log();
    const std::streamoff offset =
        fs::exists(log_file, ec) ? static_cast<std::streamoff>(fs::file_size(log_file, ec)) : 0;
    std::optional<std::vector<std::string>> triggered;
    try {
      triggered = instance->test();
    } catch (const std::exception& e) {
      std::cerr << "Error: " << spec.name << " test() failed: " << e.what() << "\n";
      rc = exit_code::failure;
      continue;
    }
    if (!triggered) {
      // No test(): check that the declared ports accept connections.
      bool ok = true;
      for (const auto& p : spec.ports) {
        if (p.protocol == "TCP" && p.port && *p.port > 0) {
          const bool up = tcp_connect(*p.port);
          std::cout << "Port " << *p.port << "/TCP " << (up ? "is open" : "is not accepting connections") << "\n";
          ok = ok && up;
        }
      }
      if (!ok) {
        rc = exit_code::failure;
      }
      continue;
    }
    for (const auto& event_type : *triggered) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      bool found = false;
      while (!(found = debug_log_has_alert(log_file, offset, spec.name, event_type)) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (found) {
        std::cout << event_type << " alert tested successfully\n";
      } else {
        std::cerr << event_type << " alert was not found in " << log_file.string() << " within 10 s\n";
        rc = exit_code::failure;
      }
    }
  }
  return rc;
}

int cmd_configure(const Home& home, const std::string& name, const std::vector<std::string>& args, bool show_args,
                  bool editable) {
  const fs::path folder = editable ? host::normalized_folder(name) : home.integrations().installed(name);
  if (!editable && !home.integrations().is_installed(name)) {
    std::cerr << "[-] doh! I cannot seem to find `" << name << "`, are you sure it's installed?\n";
    return exit_code::failure;
  }
  auto spec = plugin::load_integration_spec(folder);
  if (!spec) {
    std::cerr << "Error: " << spec.error().message() << "\n";
    return exit_code::failure;
  }
  if (show_args) {
    std::cout << plugin::show_args_table(spec->parameters);
    return exit_code::ok;
  }
  auto parsed = plugin::parse_arguments(spec->parameters, args);
  if (auto* e = std::get_if<plugin::ParamError>(&parsed)) {
    std::cerr << "Error: " << e->text << "\n";
    return exit_code::failure;
  }
  std::string error;
  if (!host::write_text_file(folder / ".args.json",
                             boost::json::serialize(plugin::args_to_json(std::get<ServiceArgs>(parsed))), error)) {
    std::cerr << "Error: " << error << "\n";
    return exit_code::failure;
  }
  std::cout << "[*] " << spec->name << " has been configured, make sure to test it with `honeycomb integration test "
            << spec->name << "`\n";
  return exit_code::ok;
}

int cmd_integration_test(const Home& home, const std::vector<std::string>& names, bool editable) {
  int rc = exit_code::ok;
  for (const auto& name : names) {
    auto loaded = host::load_integration(home, name, editable);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::cerr << "Error: " << *err << "\n";
      rc = exit_code::failure;
      continue;
    }
    auto& integration = std::get<host::LoadedIntegration>(loaded);
    pipeline::TestResult result;
    try {
      result = integration.instance->test_connection();
    } catch (const std::exception& e) {
      result = {false, e.what()};
    }
    if (result.success) {
      std::cout << "[*] " << integration.spec.name << " test succeeded: " << result.response << "\n";
    } else {
      std::cerr << "[-] " << integration.spec.name << " test failed: " << result.response << "\n";
      rc = exit_code::failure;
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"honeycomb: a honeypot framework (plugin host, node and core)", "honeycomb"};
  app.set_help_all_flag("--help-all", "Show help for every command");
  GlobalOptions g;
  add_global_options(app, g);
  app.footer("Commands: up, core, service, integration. `honeycomb COMMAND --help` for more.");

  // ---- service ----
  auto* service = app.add_subcommand("service", "Install, run and manage honeypot services");
  service->require_subcommand(1);
  std::vector<std::string> names;
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> integrations;
  bool remote = false;
  bool yes = false;
  bool daemon = false;
  bool editable = false;
  bool show_args = false;
  bool show_all = false;
  bool follow = false;
  bool force = false;
  std::size_t num = 10;
  std::string ready_timeout;

  auto* s_install = service->add_subcommand("install", "Install services (a folder, a zip file, or a library name)");
  s_install->add_option("services", names, "What to install")->required();
  auto* s_uninstall = service->add_subcommand("uninstall", "Uninstall services");
  s_uninstall->add_option("services", names)->required();
  s_uninstall->add_flag("-y,--yes", yes, "Don't ask for confirmation");
  auto* s_list = service->add_subcommand("list", "List installed services");
  s_list->add_flag("-r,--remote", remote, "Include the services in the honeycomb library");
  auto* s_show = service->add_subcommand("show", "Show a service's details");
  s_show->add_option("service", name)->required();
  s_show->add_flag("-r,--remote", remote, "Show the library's copy");
  auto* s_run = service->add_subcommand("run", "Run a service (parameters as key=value)");
  s_run->add_option("service", name, "Service name (or folder with -e)")->required();
  s_run->add_option("args", args, "Parameters, key=value");
  s_run->add_flag("-d,--daemon", daemon, "Run in the background");
  s_run->add_flag("-e,--editable", editable, "Run from a folder without installing");
  s_run->add_flag("-a,--show-args,--show_args", show_args, "Show the service's parameters and exit");
  // One name per -i, as in the reference (`-i a -i b`): a vector option would
  // otherwise swallow the key=value arguments that follow it.
  s_run->add_option("-i,--integration", integrations, "Send alerts to this integration (repeatable)")
      ->allow_extra_args(false);
  s_run
      ->add_option("--ready-timeout", ready_timeout,
                   "Seconds the service has to signal ready before it is stopped (default: "
                   "$HONEYCOMB_READY_TIMEOUT, else 30)")
      ->allow_extra_args(false);
  auto* s_stop = service->add_subcommand("stop", "Stop a running service daemon");
  s_stop->add_option("service", name)->required();
  s_stop->add_flag("-e,--editable", editable, "The service was run from a folder");
  auto* s_status = service->add_subcommand("status", "Show whether services are running");
  s_status->add_option("services", names);
  s_status->add_flag("-a,--show-all", show_all, "All installed services");
  auto* s_logs = service->add_subcommand("logs", "Show the logs of service daemons");
  s_logs->add_option("services", names);
  s_logs->add_option("-n,--num", num, "Number of lines")->capture_default_str();
  s_logs->add_flag("-f,--follow", follow, "Follow the logs");
  auto* s_test = service->add_subcommand("test", "Test running services (their test() or their ports)");
  s_test->add_option("services", names)->required();
  s_test->add_flag("-f,--force", force, "Test even if the service does not seem to be running");
  s_test->add_flag("-e,--editable", editable, "Services given as folders");

  // ---- integration ----
  auto* integration = app.add_subcommand("integration", "Install, configure and test alert integrations");
  integration->require_subcommand(1);
  auto* i_install = integration->add_subcommand("install", "Install integrations (a folder, a zip, or a library name)");
  i_install->add_option("integrations", names)->required();
  auto* i_uninstall = integration->add_subcommand("uninstall", "Uninstall integrations");
  i_uninstall->add_option("integrations", names)->required();
  i_uninstall->add_flag("-y,--yes", yes, "Don't ask for confirmation");
  auto* i_list = integration->add_subcommand("list", "List installed integrations");
  i_list->add_flag("-r,--remote", remote, "Include the integrations in the honeycomb library");
  auto* i_show = integration->add_subcommand("show", "Show an integration's details");
  i_show->add_option("integration", name)->required();
  i_show->add_flag("-r,--remote", remote, "Show the library's copy");
  auto* i_configure = integration->add_subcommand("configure", "Save an integration's parameters (key=value)");
  i_configure->add_option("integration", name)->required();
  i_configure->add_option("args", args, "Parameters, key=value");
  i_configure->add_flag("-a,--show_args,--show-args", show_args, "Show the integration's parameters");
  i_configure->add_flag("-e,--editable", editable, "Integration given as a folder");
  auto* i_test = integration->add_subcommand("test", "Test integrations' connections");
  i_test->add_option("integrations", names)->required();
  i_test->add_flag("-e,--editable", editable, "Integrations given as folders");

  CoreCommands core;
  core.add(app);
  NodeCommands node;
  node.add(app);
  UpCommand up;
  up.add(app);

  if (auto done = parse_command_line(app, argc, argv)) {
    return *done;
  }
  auto applied = apply_global_options(g);
  if (const int* code = std::get_if<int>(&applied)) {
    return *code;
  }
  const Home home = std::get<Home>(std::move(applied));

  if (core.parsed()) {
    if (core.small_executable_can_run(home)) {
      // The same command line, parsed again by the small core executable.
      host::exec_small_executable(host::core_executable_name, std::vector<std::string>(argv + 1, argv + argc));
    }
    return core.run(home, g.verbose);
  }
  if (node.parsed()) {
    if (node.runs_the_node()) {
      // The same command line, parsed again by the small node executable.
      host::exec_small_executable(host::node_executable_name, std::vector<std::string>(argv + 1, argv + argc));
    }
    return node.run(home, g.verbose);
  }
  if (up.parsed()) {
    return up.run(home, g.iamroot, g.verbose);
  }
  if (!g.config.empty()) {
    return run_config_file(home, g.config, g.verbose);
  }
  // Commands other than `run` log to the console only, plus the debug log.
  log::init({home.debug_log(), g.verbose, true});

  if (service->parsed()) {
    const auto paths = home.services();
    if (s_install->parsed()) {
      return cmd_install(paths, names);
    }
    if (s_uninstall->parsed()) {
      return cmd_uninstall(home, paths, names, yes);
    }
    if (s_list->parsed()) {
      return cmd_list(paths, remote);
    }
    if (s_show->parsed()) {
      return cmd_show(paths, name, remote);
    }
    if (s_run->parsed()) {
      if (show_args) {
        auto resolved = host::resolve_service(home, name, editable);
        if (auto* err = std::get_if<std::string>(&resolved)) {
          std::cerr << "Error: " << *err << "\n";
          return exit_code::failure;
        }
        std::cout << plugin::show_args_table(std::get<plugin::ServiceSpec>(resolved).parameters);
        return exit_code::ok;
      }
      host::RunRequest req;
      req.home = home;
      req.service = name;
      req.editable = editable;
      req.daemon = daemon;
      req.args = args;
      req.integrations = integrations;
      req.verbose = g.verbose;
      if (!ready_timeout.empty()) {
        auto t = host::parse_ready_timeout(ready_timeout);
        if (!t) {
          std::cerr << "Error: --ready-timeout must be a number of seconds greater than 0 (got '" << ready_timeout
                    << "')\n";
          return exit_code::usage;
        }
        req.ready_timeout = *t;
      }
      host::exec_service_executable(req);  // returns only if the service stays in this process
      return host::run_service(req);
    }
    if (s_stop->parsed()) {
      return cmd_stop(home, name, editable);
    }
    if (s_status->parsed()) {
      return cmd_status(home, names, show_all);
    }
    if (s_logs->parsed()) {
      return cmd_logs(home, names, num, follow);
    }
    if (s_test->parsed()) {
      return cmd_test(home, names, force, editable);
    }
  }
  if (integration->parsed()) {
    const auto paths = home.integrations();
    if (i_install->parsed()) {
      return cmd_install(paths, names);
    }
    if (i_uninstall->parsed()) {
      return cmd_uninstall(home, paths, names, yes);
    }
    if (i_list->parsed()) {
      return cmd_list(paths, remote);
    }
    if (i_show->parsed()) {
      return cmd_show(paths, name, remote);
    }
    if (i_configure->parsed()) {
      return cmd_configure(home, name, args, show_args, editable);
    }
    if (i_test->parsed()) {
      return cmd_integration_test(home, names, editable);
    }
  }
  std::cout << app.help();
  return exit_code::usage;
}

}  // namespace honeycomb::cli
