#include "host/small_executables.hpp"

#include "common/proc_status.hpp"
#include "host/process.hpp"
#include "host/service_loader.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nss.h>
#include <set>
#include <sstream>
#include <unistd.h>

namespace honeycomb::host {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view k_home = "--home";
constexpr std::string_view k_library = "--library";
constexpr std::string_view k_service = "--service";
constexpr std::string_view k_integration = "--integration";
constexpr std::string_view k_ready_timeout = "--ready-timeout-ms";
constexpr std::string_view k_editable = "--editable";
constexpr std::string_view k_daemon = "--daemon";
constexpr std::string_view k_verbose = "--verbose";
constexpr std::string_view k_args = "--";

/// True when this process holds capabilities it would lose at exec: not
/// root, but a capability in its effective set (file capabilities).
bool holds_file_capabilities() {
  if (::geteuid() == 0) {
    return false;
  }
  const auto effective = self_status_field("CapEff");
  return effective && effective->find_first_not_of('0') != std::string::npos;
}

}  // namespace

bool small_executable_resolves_names(const std::string& nsswitch_conf) {
  std::istringstream lines(nsswitch_conf);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::istringstream words(line.substr(0, colon));
    std::string database;
    words >> database;
    std::set<std::string> allowed;
    if (database == "passwd" || database == "group") {
      allowed = {"files", "systemd"};
    } else if (database == "hosts") {
      allowed = {"files", "dns"};
    } else {
      continue;
    }
    std::istringstream sources(line.substr(colon + 1));
    std::string source;
    while (sources >> source) {
      if (source.starts_with('[')) {  // an action ([NOTFOUND=return]), not a source
        while (!source.ends_with(']') && sources >> source) {
        }
        continue;
      }
      if (!allowed.contains(source)) {
        return false;
      }
    }
  }
  return true;
}

void use_built_in_name_services() {
  ::__nss_configure_lookup("passwd", "files");
  ::__nss_configure_lookup("group", "files");
  ::__nss_configure_lookup("shadow", "files");
  ::__nss_configure_lookup("hosts", "files dns");
}

std::vector<std::string> service_exec_arguments(const RunRequest& request) {
  std::vector<std::string> out{std::string(k_home),          request.home.root.string(),
                               std::string(k_library),       request.home.library.string(),
                               std::string(k_service),       request.service,
                               std::string(k_ready_timeout), std::to_string(request.ready_timeout.count())};
  for (const auto& name : request.integrations) {
    out.emplace_back(k_integration);
    out.push_back(name);
  }
  if (request.editable) {
    out.emplace_back(k_editable);
  }
  if (request.daemon) {
    out.emplace_back(k_daemon);
  }
  if (request.verbose) {
    out.emplace_back(k_verbose);
  }
  out.emplace_back(k_args);
  out.insert(out.end(), request.args.begin(), request.args.end());
  return out;
}

std::optional<RunRequest> parse_service_exec_arguments(const std::vector<std::string>& arguments, std::string& error) {
  RunRequest request;
  bool have_home = false;
  bool have_library = false;
  bool have_service = false;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view flag = arguments[i];
    if (flag == k_args) {
      request.args.assign(arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1, arguments.end());
      break;
    }
    if (flag == k_editable || flag == k_daemon || flag == k_verbose) {
      (flag == k_editable ? request.editable : flag == k_daemon ? request.daemon : request.verbose) = true;
      continue;
    }
    if (flag != k_home && flag != k_library && flag != k_service && flag != k_integration && flag != k_ready_timeout) {
      error = "unknown argument '" + std::string(flag) + "'";
      return std::nullopt;
    }
    if (i + 1 >= arguments.size()) {
      error = std::string(flag) + " needs a value";
      return std::nullopt;
    }
    const std::string& value = arguments[++i];
    if (flag == k_home) {
      request.home.root = value;
      have_home = true;
    } else if (flag == k_library) {
      request.home.library = value;
      have_library = true;
    } else if (flag == k_service) {
      request.service = value;
      have_service = !value.empty();
    } else if (flag == k_integration) {
      request.integrations.push_back(value);
    } else {
      long long ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end != value.data() + value.size() || ms <= 0) {
        error = std::string(k_ready_timeout) + " must be a number of milliseconds greater than 0";
        return std::nullopt;
      }
      request.ready_timeout = std::chrono::milliseconds(ms);
    }
  }
  if (!have_home || !have_library || !have_service) {
    error = "--home, --library and --service are required";
    return std::nullopt;
  }
  return request;
}

bool has_native_plugin_code(const plugin::ServiceSpec& spec) {
  std::error_code ec;
  return fs::exists(native_plugin_file(spec), ec);
}

void exec_small_executable(const char* name, const std::vector<std::string>& arguments) {
  if (const char* flag = std::getenv("HONEYCOMB_SMALL_EXEC"); flag != nullptr && std::string_view(flag) == "0") {
    return;
  }
  std::error_code ec;
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec).parent_path() / name;
  if (ec || ::access(executable.c_str(), X_OK) != 0 || holds_file_capabilities() ||
      !small_executable_resolves_names(read_text_file("/etc/nsswitch.conf").value_or(""))) {
    return;
  }
  std::vector<std::string> strings{executable.string()};
  strings.insert(strings.end(), arguments.begin(), arguments.end());
  const std::vector<char*> argv = exec_argv(strings);
  std::cout.flush();
  std::cerr.flush();
  ::execv(argv[0], argv.data());
  // Not fatal: the job runs in this process instead.
  std::cerr << "warning: cannot run " << strings[0] << " (" << std::strerror(errno) << "); staying in this process\n";
}

void exec_service_executable(const RunRequest& request) {
  // Only the big image can host C++ plugin code; errors in resolving are
  // left to run_service() in this process, which words them.
  auto resolved = resolve_service(request.home, request.service, request.editable);
  const auto* spec = std::get_if<plugin::ServiceSpec>(&resolved);
  if (spec == nullptr || has_native_plugin_code(*spec)) {
    return;
  }
  exec_small_executable(service_executable_name, service_exec_arguments(request));
}

fs::path honeycomb_executable() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const auto name = self.filename();
  for (const char* small : {service_executable_name, node_executable_name, core_executable_name}) {
    if (name == small) {
      return self.parent_path() / "honeycomb";  // installed side by side
    }
  }
  return self;
}

}  // namespace honeycomb::host
