#include "cli/core_commands.hpp"

#include "cli/commands.hpp"
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

  token_ = core_->add_subcommand("token", "Create, list and revoke API tokens");
  token_->require_subcommand(1);
  token_create_ = token_->add_subcommand("create", "Create an API token (printed once)");
  token_create_->add_option("name", token_name_, "A name to recognise it by")->required();
  token_list_ = token_->add_subcommand("list", "List API tokens (never the tokens themselves)");
  token_revoke_ = token_->add_subcommand("revoke", "Revoke an API token by id or name");
  token_revoke_->add_option("token", token_name_, "Token id or name")->required();
}

int CoreCommands::run(const host::Home& home, bool verbose) {
  core::CoreConfig defaults;
  defaults.data_dir = home.root / "core";
  if (gen_config_) {
    std::cout << core::generate_core_config(defaults);
    return exit_code::ok;
  }
  core::CoreConfig config = defaults;
  if (!config_file_.empty()) {
    auto loaded = core::load_core_config(config_file_, defaults);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::cerr << "Error: " << *err << "\n";
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
      std::cerr << "Error: '" << *text << "' is not ADDRESS:PORT\n";
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

  if (token_create_->parsed()) {
    return core::token_create(config, token_name_);
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
        config.tls.enabled() ? "wss" : "ws", config.ws_listen.address, info.ws_port, config.database_path().string());
    if (!info.initial_token.empty()) {
      std::cout << "[+] first start: API token created (shown only this once; also saved, mode 0600, in "
                << config.token_file().string() << "):\n    " << info.initial_token << "\n";
    } else {
      std::cout << "    API token: in " << config.token_file().string()
                << " (or create one: honeycomb core token create NAME)\n";
    }
    std::cout << std::flush;
  });
}

}  // namespace honeycomb::cli
