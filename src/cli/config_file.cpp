// `honeycomb --config honeycomb.yml`: installs, configures and runs what the
// file lists, as the reference does.
//
//   version: 1
//   services:
//     simple_http:
//       parameters: {port: 1234}
//   integrations:
//     syslog:
//       parameters: {address: "127.0.0.1", port: 5514, protocol: tcp}
#include "cli/config_file.hpp"

#include "cli/commands.hpp"
#include "host/runner.hpp"
#include "host/small_executables.hpp"
#include "plugin/parameters.hpp"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <csignal>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

namespace honeycomb::cli {
namespace {

bool ensure_installed(const std::string& path, const host::PluginPaths& paths, const std::string& name) {
  if (paths.is_installed(name)) {
    return true;
  }
  auto outcome = host::install_plugin(paths, name);
  if (outcome.status == host::InstallStatus::failed) {
    // Name the file and the entry: the user fixes the YAML, not a command line.
    std::cerr << "Error: " << path << ": " << paths.noun() << "s." << name << ": " << outcome.message << "\n";
    return false;
  }
  std::cout << "[+] " << name << " has been installed successfully (" << paths.noun() << ")\n";
  return true;
}

}  // namespace

int run_config_file(const host::Home& home, const std::string& path, bool verbose) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    std::cerr << "Error: " << path << ": cannot be read\n";
    return exit_code::failure;
  } catch (const YAML::Exception& e) {
    std::cerr << "Error: " << path << ": not valid YAML (" << e.what() << ")\n";
    return exit_code::failure;
  }
  auto contents = parse_config_document(doc, path);
  if (auto* error = std::get_if<std::string>(&contents)) {
    std::cerr << "Error: " << *error << "\n";
    return exit_code::failure;
  }
  const auto& services = std::get<ConfigFileContents>(contents).services;
  const auto& integrations = std::get<ConfigFileContents>(contents).integrations;

  std::vector<std::string> integration_names;
  for (const auto& i : integrations) {
    if (!ensure_installed(path, home.integrations(), i.name)) {
      return exit_code::failure;
    }
    auto loaded = host::load_integration(home, i.name, false, &i.args);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::cerr << "Error: " << path << ": integrations." << i.name << ": " << *err << "\n";
      return exit_code::failure;
    }
    const auto& li = std::get<host::LoadedIntegration>(loaded);
    std::string error;
    host::write_text_file(li.spec.folder / ".args.json", boost::json::serialize(plugin::args_to_json(li.args)), error);
    integration_names.push_back(i.name);
  }
  for (const auto& s : services) {
    if (!ensure_installed(path, home.services(), s.name)) {
      return exit_code::failure;
    }
  }

  auto request_for = [&](const ConfigFileEntry& s) {
    host::RunRequest req;
    req.home = home;
    req.service = s.name;
    req.args = s.args;
    req.integrations = integration_names;
    req.verbose = verbose;
    return req;
  };
  if (services.size() == 1) {
    const auto request = request_for(services.front());
    host::exec_service_executable(request);  // returns only if the service stays in this process
    return host::run_service(request);
  }

  // Several services: one child process each, stopped together.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  std::vector<pid_t> children;
  for (const auto& s : services) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      sigprocmask(SIG_UNBLOCK, &signals, nullptr);
      const auto request = request_for(s);
      host::exec_service_executable(request);
      ::_exit(host::run_service(request));
    }
    if (pid > 0) {
      children.push_back(pid);
    }
  }
  int rc = exit_code::ok;
  std::size_t alive = children.size();
  bool stopping = false;
  while (alive > 0) {
    int sig = 0;
    sigwait(&signals, &sig);
    if ((sig == SIGINT || sig == SIGTERM) && !stopping) {
      stopping = true;
      for (pid_t c : children) {
        ::kill(c, sig);
      }
    }
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(-1, &status, WNOHANG)) > 0) {
      --alive;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = exit_code::failure;
      }
      if (!stopping) {
        // One service failing stops the set, like a failing foreground run.
        stopping = true;
        for (pid_t c : children) {
          ::kill(c, SIGTERM);
        }
      }
    }
  }
  return rc;
}

}  // namespace honeycomb::cli
