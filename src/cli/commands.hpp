// The `honeycomb` command line: global options and the service/integration
// command groups of the reference CLI.
#pragma once

#include "host/home.hpp"

#include <string>

namespace honeycomb::cli {

/// Options shared by every command.
struct GlobalOptions {
  std::string home;
  bool iamroot = false;
  std::string config;
  bool verbose = false;
};

/// Exit codes (the reference's, where it has one).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;
inline constexpr int usage = 2;
inline constexpr int already_exists = 17;  // EEXIST
}  // namespace exit_code

int main(int argc, char** argv);

/// Runs what a honeycomb.yml lists (install, configure, run). Returns the exit code.
int run_config_file(const host::Home& home, const std::string& path, bool verbose);

}  // namespace honeycomb::cli
