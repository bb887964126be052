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
#include "cli/commands.hpp"
#include "host/runner.hpp"
#include "plugin/parameters.hpp"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <csignal>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

namespace honeycomb::cli {
namespace {

struct PluginEntry {
  std::string name;
  std::vector<std::string> args;  // key=value, converted like command-line args
};

std::string where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

bool read_entries(const std::string& path, const YAML::Node& section, const char* what,
                  std::vector<PluginEntry>& out) {
  if (!section) {
    return true;
  }
  if (!section.IsMap()) {
    std::cerr << "Error: " << where(path, section) << ": " << what << ": must be a mapping of names to settings\n";
    return false;
  }
  for (const auto& item : section) {
    PluginEntry e;
    e.name = item.first.as<std::string>();
    const YAML::Node& settings = item.second;
    if (settings && !settings.IsNull()) {
      if (!settings.IsMap()) {
        std::cerr << "Error: " << where(path, settings) << ": " << what << "." << e.name << ": must be a mapping\n";
        return false;
      }
      const YAML::Node params = settings["parameters"];
      if (params && !params.IsNull()) {
        if (!params.IsMap()) {
          std::cerr << "Error: " << where(path, params) << ": " << what << "." << e.name
                    << ".parameters: must be a mapping of key: value\n";
          return false;
        }
        for (const auto& p : params) {
          if (!p.second.IsScalar()) {
            std::cerr << "Error: " << where(path, p.second) << ": " << what << "." << e.name << ".parameters."
                      << p.first.as<std::string>() << ": must be a scalar value\n";
            return false;
          }
          e.args.push_back(p.first.as<std::string>() + "=" + p.second.as<std::string>());
        }
      }
    }
    out.push_back(std::move(e));
  }
  return true;
}

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
  if (!doc.IsMap()) {
    std::cerr << "Error: " << path << ": must be a mapping with version, services and integrations\n";
    return exit_code::failure;
  }
  // Checked as a scalar first: as<std::string>() throws on a list or a map.
  const YAML::Node version = doc["version"];
  if (!version || !version.IsScalar() || version.Scalar() != "1") {
    std::cerr << "Error: " << path << ": version: must be 1\n";
    return exit_code::failure;
  }
  std::vector<PluginEntry> services;
  std::vector<PluginEntry> integrations;
  try {
    if (!read_entries(path, doc["services"], "services", services) ||
        !read_entries(path, doc["integrations"], "integrations", integrations)) {
      return exit_code::failure;
    }
  } catch (const YAML::Exception& e) {
    std::cerr << "Error: " << path << ": " << e.what() << "\n";
    return exit_code::failure;
  }
  if (services.empty()) {
    std::cerr << "Error: " << path << ": services: lists no service to run\n";
    return exit_code::failure;
  }

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

  auto request_for = [&](const PluginEntry& s) {
    host::RunRequest req;
    req.home = home;
    req.service = s.name;
    req.args = s.args;
    req.integrations = integration_names;
    req.verbose = verbose;
    return req;
  };
  if (services.size() == 1) {
    return host::run_service(request_for(services.front()));
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
      ::_exit(host::run_service(request_for(s)));
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
