// `honeycomb core ...`: the core's command line (run, --gen-config, token).
#pragma once

#include "core/config.hpp"
#include "host/home.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <variant>

namespace honeycomb::cli {

class CoreCommands {
 public:
  /// Adds `core` (and its `token` subcommands) to `app`.
  void add(CLI::App& app);
  bool parsed() const { return core_->parsed(); }
  /// `core` itself was parsed (not --gen-config, a token, node or audit
  /// command): the core is to run.
  bool runs_the_core() const;
  /// The core is to run and the small executable can run it: its
  /// configuration loads and names a SQLite store (host/small_executables.hpp).
  bool small_executable_can_run(const host::Home& home) const;
  /// Runs what was parsed; returns the exit code. `sqlite_only`: in
  /// honeycomb-core, which refuses a PostgreSQL store.
  int run(const host::Home& home, bool verbose, bool sqlite_only = false);

 private:
  /// The configuration: defaults, the --config file, then the command
  /// line's overrides; an exit code when the file or an option is wrong
  /// (the reason printed unless `quiet`).
  std::variant<int, core::CoreConfig> config(const host::Home& home, bool quiet = false) const;

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

/// `honeycomb-core`: parses `honeycomb core ...` again and runs the core.
int core_main(int argc, char** argv);

}  // namespace honeycomb::cli
