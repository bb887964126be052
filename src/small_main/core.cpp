// honeycomb-core: the core on SQLite, run by `honeycomb core` once it has
// parsed its command line and configuration (host/small_executables.hpp says
// why this is a separate executable). It parses the same command line again.
#include "cli/core_commands.hpp"
#include "host/small_executables.hpp"

int main(int argc, char** argv) {
  honeycomb::host::use_built_in_name_services();
  return honeycomb::cli::core_main(argc, argv);
}
