#include "cli/core_commands.hpp"

#include "cli/global_options.hpp"
#include "common/log.hpp"
#include "core/core.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

namespace honeycomb::cli {

void CoreCommands::add(CLI::App& app) {
  core_ =
      app.add_subcommand("core", "Run the HoneyBee core: node server (9001), REST API (9002), WebSocket stream (9003)");
  core_->require_subcommand(0, 1);
  core_->add_option("--config", config_file_, "YAML configuration (see --gen-config)");
  core_->add_flag("--gen-config", gen_config_, "Print a commented configuration with every default, and exit");
  core_->add_option("--data-dir", data_dir_, "Database and token folder (default: <home>/core)");
  core_->add_option("--node-listen", node_listen_, "ADDRESS:PORT for nodes (default 0.0.0.0:9001)");
  core_->add_option("--api-listen", api_listen_, "ADDRESS:PORT for the REST API (default 127.0.0.1:9002)");
  core_->add_option("--ws-listen", ws_listen_, "ADDRESS:PORT for the WebSocket stream (default 127.0.0.1:9003)");
  core_->footer("Example: honeycomb core --gen-config > core.yml && honeycomb core --config core.yml");

  token_ = core_->add_subcommand("token", "Create, list and revoke API tokens and node join tokens");
  token_->require_subcommand(1);
  token_create_ = token_->add_subcommand(
      "create", "Create an API token, or with --node a one-time join token that enrolls a node (printed once)");
  token_create_->add_option("name", token_name_, "A name to recognise the API token by");
  token_create_->add_option("--scope", token_scope_,
                            "What the API token may do: read (events, nodes, the stream; the default), manage "
                            "(+ commands to nodes), admin (+ tokens, the audit log)");
  token_create_->add_option("--node", join_node_, "Create a join token for the node of this name instead");
  token_create_
      ->add_option("--ttl-minutes", join_ttl_minutes_,
                   "How long the join token is valid (default: the "
                   "core's join_token_minutes, 60)")
      ->check(CLI::Range(1, 30 * 24 * 60));
  token_create_->footer(
      "Examples:\n  honeycomb core token create grafana\n  honeycomb core token create --node sensor-paris-1");
  token_list_ = token_->add_subcommand("list", "List API tokens (never the tokens themselves)");
  token_revoke_ = token_->add_subcommand("revoke", "Revoke an API token by id or name");
  token_revoke_->add_option("token", token_name_, "Token id or name")->required();

  node_ = core_->add_subcommand("node", "Node certificates: list, revoke");
  node_->require_subcommand(1);
  node_certs_ = node_->add_subcommand("certs", "List the node certificates this core issued, and the join tokens");
  node_revoke_ = node_->add_subcommand(
      "revoke",
      "Revoke a node's certificates (by node id, name or certificate serial): its connection is closed "
      "and it cannot connect again until it is enrolled anew");
  node_revoke_->add_option("node", node_target_, "Node id, node name or certificate serial")->required();

  audit_ = core_->add_subcommand("audit", "Show the audit log: token and certificate changes, enrollments, refusals");
  audit_->add_option("--limit", audit_limit_, "How many of the newest records (default 50)")
      ->check(CLI::Range(1, 100000));
}

bool CoreCommands::runs_the_core() const {
  return core_->parsed() && !gen_config_ && !token_->parsed() && !node_->parsed() && !audit_->parsed();
}

bool CoreCommands::small_executable_can_run(const host::Home& home) const {
  if (!runs_the_core()) {
    return false;
  }
  // A configuration that does not load is reported by run(), in this process.
  auto loaded = config(home, /*quiet=*/true);
  const auto* config = std::get_if<core::CoreConfig>(&loaded);
  return config != nullptr && !config->database_is_postgres();
}

namespace {

/// What a core under this home runs with when core.yml leaves it out.
core::CoreConfig defaults_for(const host::Home& home) {
  core::CoreConfig defaults;
  defaults.data_dir = home.root / "core";
  return defaults;
}

}  // namespace

std::variant<int, core::CoreConfig> CoreCommands::config(const host::Home& home, bool quiet) const {
  const core::CoreConfig defaults = defaults_for(home);
  core::CoreConfig config = defaults;
  if (!config_file_.empty()) {
    auto loaded = core::load_core_config(config_file_, defaults);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      if (!quiet) {
        std::cerr << "Error: " << *err << "\n";
      }
      return exit_code::usage;
    }
    config = std::get<core::CoreConfig>(std::move(loaded));
  }
  if (!data_dir_.empty()) {
    config.data_dir = data_dir_;
  }
  // Command-line addresses override the file (handy for tests and `up`).
  const std::pair<const std::string*, core::Listen*> listens[] = {
      {&node_listen_, &config.node_listen}, {&api_listen_, &config.api_listen}, {&ws_listen_, &config.ws_listen}};
  for (const auto& [text, listen] : listens) {
    if (text->empty()) {
      continue;
    }
    auto colon = text->rfind(':');
    unsigned port = 0;
    try {
      port = static_cast<unsigned>(std::stoul(text->substr(colon == std::string::npos ? 0 : colon + 1)));
    } catch (const std::exception&) {
      port = 70000;
    }
    if (port > 65535) {
      if (!quiet) {
        std::cerr << "Error: '" << *text << "' is not ADDRESS:PORT\n";
      }
      return exit_code::usage;
    }
    if (colon != std::string::npos) {
      auto address = text->substr(0, colon);
      if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
      }
      listen->address = address;
    }
    listen->port = static_cast<std::uint16_t>(port);
  }
  return config;
}

int CoreCommands::run(const host::Home& home, bool verbose, bool sqlite_only) {
  if (gen_config_) {
    std::cout << core::generate_core_config(defaults_for(home));
    return exit_code::ok;
  }
  auto loaded = config(home);
  if (const int* code = std::get_if<int>(&loaded)) {
    return *code;
  }
  const core::CoreConfig config = std::get<core::CoreConfig>(std::move(loaded));
  if (sqlite_only && config.database_is_postgres()) {
    // `honeycomb core` keeps a core on PostgreSQL in itself: libpq cannot be
    // loaded into the static honeycomb-core.
    std::cerr << "Error: honeycomb-core runs the core on SQLite only; run `honeycomb core` instead\n";
    return exit_code::usage;
  }

  if (token_create_->parsed()) {
    if (join_node_.empty() == token_name_.empty()) {
      std::cerr << "Error: give either an API token NAME or --node NAME (see --help)\n";
      return exit_code::usage;
    }
    if (!join_node_.empty()) {
      const auto ttl = join_ttl_minutes_ > 0 ? std::chrono::seconds(std::chrono::minutes(join_ttl_minutes_))
                                             : config.join_token_validity;
      return core::join_token_create(config, join_node_, ttl);
    }
    return core::token_create(config, token_name_, token_scope_);
  }
  if (node_certs_->parsed()) {
    return core::node_certificates_list(config);
  }
  if (node_revoke_->parsed()) {
    return core::node_revoke(config, node_target_);
  }
  if (audit_->parsed()) {
    return core::audit_list(config, audit_limit_);
  }
  if (token_list_->parsed()) {
    return core::token_list(config);
  }
  if (token_revoke_->parsed()) {
    return core::token_revoke(config, token_name_);
  }

  log::init({home.root / "core.debug.log", verbose || config.log_verbose, true});
  return core::run_core(config, [&](const core::RunInfo& info) {
    const char* scheme = config.tls.enabled() ? "https" : "http";
    std::cout << fmt::format(
        "[*] honeycomb core is running\n    nodes:     {}:{}\n    API:       {}://{}:{}/\n"
        "    WebSocket: {}://{}:{}/\n    database:  {}\n",
        config.node_listen.address, info.node_port, scheme, config.api_listen.address, info.api_port,
        config.tls.enabled() ? "wss" : "ws", config.ws_listen.address, info.ws_port, config.database_label());
    if (!info.initial_token.empty()) {
      std::cout << "[+] first start: API token created (shown only this once; also saved, mode 0600, in "
                << config.token_file().string() << "):\n    " << info.initial_token << "\n";
    } else {
      std::cout << "    API token: in " << config.token_file().string()
                << " (or create one: honeycomb core token create NAME)\n";
    }
    if (!info.ca_fingerprint.empty()) {
      std::cout << "    nodes enroll with a join token: honeycomb core token create --node NAME\n";
    }
    std::cout << std::flush;
  });
}

int core_main(int argc, char** argv) {
  CoreCommands core;
  return run_one_command(
      "honeycomb core (the small core executable; run `honeycomb core`)", argc, argv,
      [&](CLI::App& app) { core.add(app); },
      [&](const host::Home& home, bool verbose) { return core.run(home, verbose, /*sqlite_only=*/true); });
}

}  // namespace honeycomb::cli
