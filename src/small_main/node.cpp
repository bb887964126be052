// honeycomb-node: the node, run by `honeycomb node` once it has parsed its
// command line (host/small_executables.hpp says why this is a separate
// executable). It parses the same command line again.
#include "cli/node_commands.hpp"
#include "host/small_executables.hpp"

int main(int argc, char** argv) {
  honeycomb::host::use_built_in_name_services();
  return honeycomb::cli::node_main(argc, argv);
}
