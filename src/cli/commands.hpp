// The `honeycomb` command line: global options and the service/integration
// command groups of the reference CLI.
#pragma once

#include "cli/global_options.hpp"
#include "host/home.hpp"

#include <string>

namespace honeycomb::cli {

int main(int argc, char** argv);

/// Runs what a honeycomb.yml lists (install, configure, run). Returns the exit code.
int run_config_file(const host::Home& home, const std::string& path, bool verbose);

}  // namespace honeycomb::cli
