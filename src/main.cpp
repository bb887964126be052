// The honeycomb binary: every job is a subcommand (see src/cli/).
#include "cli/commands.hpp"

int main(int argc, char** argv) { return honeycomb::cli::main(argc, argv); }
