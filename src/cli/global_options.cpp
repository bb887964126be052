#include "cli/global_options.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace honeycomb::cli {

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.set_version_flag("--version", std::string("honeycomb ") + HONEYCOMB_VERSION);
  app.add_option("-H,--home", options.home, "Honeycomb home folder (default: ~/.config/honeycomb)");
  app.add_flag("--iamroot", options.iamroot, "Allow running as root (not recommended)");
  app.add_option("-c,--config", options.config, "Run what a honeycomb.yml file lists (install, configure, run)");
  app.add_flag("-v,--verbose", options.verbose, "Show debug messages");
  app.add_option("--python", options.python,
                 "Python interpreter for Python plugins (default: $HONEYCOMB_PYTHON, else python3)");
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "Error: " << e.what() << "\nTry `honeycomb --help` for help.\n";
    return exit_code::usage;
  }
  return std::nullopt;
}

std::variant<host::Home, int> apply_global_options(const GlobalOptions& options) {
  namespace fs = std::filesystem;
  if (!options.python.empty()) {
    // Through the environment: daemons, pip at install and every child
    // process see the same interpreter.
    ::setenv("HONEYCOMB_PYTHON", options.python.c_str(), 1);
  }
  if (::geteuid() == 0 && !options.iamroot) {
    std::cerr << "Error: running as root is not recommended; pass --iamroot if you are sure.\n"
                 "To listen on ports below 1024 without root, grant the binary the capability instead:\n"
                 "  sudo setcap cap_net_bind_service=+ep \"$(command -v honeycomb)\"\n";
    return exit_code::failure;
  }
  host::Home home{options.home.empty() ? host::default_home() : fs::path(options.home), host::default_library()};
  std::error_code ec;
  fs::create_directories(home.root, ec);
  home.root = fs::absolute(home.root, ec);
  return home;
}

int run_one_command(const char* description, int argc, char** argv, const std::function<void(CLI::App&)>& add,
                    const std::function<int(const host::Home&, bool verbose)>& run) {
  CLI::App app{description, "honeycomb"};
  GlobalOptions g;
  add_global_options(app, g);
  app.require_subcommand(1, 1);
  add(app);
  if (auto done = parse_command_line(app, argc, argv)) {
    return *done;
  }
  auto applied = apply_global_options(g);
  if (const int* code = std::get_if<int>(&applied)) {
    return *code;
  }
  return run(std::get<host::Home>(applied), g.verbose);
}

}  // namespace honeycomb::cli
