// What every `honeycomb` command line shares: the global options and the
// exit codes. Also used by the small node executable (honeycomb-node),
// which parses the same command line again.
#pragma once

#include "host/home.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace honeycomb::cli {

/// Options shared by every command.
struct GlobalOptions {
  std::string home;
  bool iamroot = false;
  std::string config;
  bool verbose = false;
  std::string python;
};

/// Exit codes (the reference's, where it has one).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;
inline constexpr int usage = 2;
inline constexpr int already_exists = 17;  // EEXIST
}  // namespace exit_code

/// Adds --home, --iamroot, --config, --verbose, --python and --version.
void add_global_options(CLI::App& app, GlobalOptions& options);

/// Parses argv into `app`; an exit code when parsing ended the run (help,
/// version, or an error already printed).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

/// What the global options mean once parsed: --python exported, root
/// refused without --iamroot, the home folder made. The home, or the exit
/// code (its error printed).
std::variant<host::Home, int> apply_global_options(const GlobalOptions& options);

/// A small executable's main(): a command line of the global options and
/// the one command `add` puts on `app`, parsed and applied; then `run` with
/// the home and --verbose. Returns the exit code.
int run_one_command(const char* description, int argc, char** argv, const std::function<void(CLI::App&)>& add,
                    const std::function<int(const host::Home&, bool verbose)>& run);

}  // namespace honeycomb::cli
