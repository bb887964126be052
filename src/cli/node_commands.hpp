// `honeycomb node ...`: the node's command line (run, --gen-config, status, pots).
#pragma once

#include "host/home.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace honeycomb::cli {

class NodeCommands {
 public:
  /// Adds `node` (and `node status`) to `app`.
  void add(CLI::App& app);
  bool parsed() const { return node_->parsed(); }
  /// Parsed, and runs the node (not --gen-config, status or pots).
  bool runs_the_node() const { return node_->parsed() && !gen_config_ && !status_->parsed() && !pots_->parsed(); }
  /// Runs what was parsed; returns the exit code.
  int run(const host::Home& home, bool verbose);

 private:
  CLI::App* node_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* pots_ = nullptr;
  bool catalog_ = false;
  std::string config_file_;
  bool gen_config_ = false;
  std::string data_dir_;
  std::vector<std::string> cores_;  ///< --core, each a HOST:PORT list; empty: not given
  std::string event_listen_;
  std::string name_;
  std::string join_token_;
};

/// The small node executable's whole command line: the global options and
/// `node ...`, as `honeycomb` took them (host/small_executables.hpp).
int node_main(int argc, char** argv);

}  // namespace honeycomb::cli
