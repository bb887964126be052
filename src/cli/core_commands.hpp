// `honeycomb core ...`: the core's command line (run, --gen-config, token).
#pragma once

#include "host/home.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace honeycomb::cli {

class CoreCommands {
 public:
  /// Adds `core` (and its `token` subcommands) to `app`.
  void add(CLI::App& app);
  bool parsed() const { return core_->parsed(); }
  /// Runs what was parsed; returns the exit code.
  int run(const host::Home& home, bool verbose);

 private:
  CLI::App* core_ = nullptr;
  CLI::App* token_ = nullptr;
  CLI::App* token_create_ = nullptr;
  CLI::App* token_list_ = nullptr;
  CLI::App* token_revoke_ = nullptr;
  std::string config_file_;
  bool gen_config_ = false;
  std::string data_dir_;
  std::string node_listen_;
  std::string api_listen_;
  std::string ws_listen_;
  std::string token_name_;
  std::string join_node_;
  std::string token_scope_ = "read";
  int join_ttl_minutes_ = 0;
  CLI::App* node_ = nullptr;
  CLI::App* node_certs_ = nullptr;
  CLI::App* node_revoke_ = nullptr;
  std::string node_target_;
  CLI::App* audit_ = nullptr;
  std::size_t audit_limit_ = 50;
};

}  // namespace honeycomb::cli
