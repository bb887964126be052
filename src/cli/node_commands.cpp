#include "cli/node_commands.hpp"

#include "cli/global_options.hpp"
#include "common/log.hpp"
#include "node/node.hpp"
#include "security/join_token.hpp"

#include <fmt/format.h>

#include <iostream>
#include <unistd.h>

namespace honeycomb::cli {

void NodeCommands::add(CLI::App& app) {
  node_ = app.add_subcommand(
      "node", "Run a HoneyBee node: event port for honeypots (127.0.0.1:9100), durable spool, link to the core");
  node_->require_subcommand(0, 1);
  node_->add_option("--config", config_file_, "YAML configuration (see --gen-config)");
  node_->add_flag("--gen-config", gen_config_, "Print a commented configuration with every default, and exit");
  node_->add_option("--data-dir", data_dir_, "Node id, spool and statistics folder (default: <home>/node)");
  // Every value of every --core is kept (a:9001,b:9001, --core repeated,
  // or both): parse_core_addresses splits and checks them together.
  node_->add_option("--core", cores_,
                    "The core's HOST:PORT (default 127.0.0.1:9001), or several cores on one database, tried in turn "
                    "(a:9001,b:9001, or --core repeated); 'none': standalone");
  node_->add_option("--event-listen", event_listen_, "ADDRESS:PORT of the event port (default 127.0.0.1:9100)");
  node_->add_option("--name", name_, "Node name shown by the core (default: the host name)");
  node_->add_option("--join", join_token_,
                    "One-time join token from `honeycomb core token create --node NAME`: enrolls this node with "
                    "the core (used once; the certificate is kept in <data_dir>/tls)");
  node_->footer(
      "Honeypots send one JSON object per line to the event port; the node spools each on disk and forwards it\n"
      "to the core, deleting it once the core confirms storing it.\n"
      "Example: honeycomb node --gen-config > node.yml && honeycomb node --config node.yml");
  status_ = node_->add_subcommand("status", "Print the node's counters (events, spool, link, pots) as JSON");
  pots_ = node_->add_subcommand("pots", "List the pots installed on this node, or with --catalog those it can install");
  pots_->add_flag("--catalog", catalog_, "List the potstore catalog: what InstallPot (or pots: in node.yml) accepts");
}

int NodeCommands::run(const host::Home& home, bool verbose) {
  node::NodeConfig defaults;
  defaults.data_dir = home.root / "node";
  char host[256] = {};
  defaults.node_name = ::gethostname(host, sizeof host - 1) == 0 ? host : "honeycomb-node";
  if (gen_config_) {
    std::cout << node::generate_node_config(defaults);
    return exit_code::ok;
  }
  node::NodeConfig config = defaults;
  if (!config_file_.empty()) {
    auto loaded = node::load_node_config(config_file_, defaults);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::cerr << "Error: " << *err << "\n";
      return exit_code::usage;
    }
    config = std::get<node::NodeConfig>(std::move(loaded));
    std::error_code ec;
    config.config_file = std::filesystem::absolute(config_file_, ec);
  }
  // Command-line values override the file (handy for tests and `up`).
  try {
    if (!data_dir_.empty()) {
      config.data_dir = data_dir_;
    }
    if (!name_.empty()) {
      config.node_name = name_;
    }
    if (!cores_.empty()) {
      config.cores = node::parse_core_addresses("--core", cores_);
    }
    if (!join_token_.empty()) {
      if (!security::parse_join_token(join_token_)) {
        std::cerr << "Error: --join: not a join token (hcj1.<secret>.<CA fingerprint>, as printed by "
                     "`honeycomb core token create --node NAME`)\n";
        return exit_code::usage;
      }
      config.join_token = join_token_;
    }
    if (!event_listen_.empty()) {
      config.event_listen = config_keys::parse_listen("--event-listen", event_listen_, "127.0.0.1");
    }
  } catch (const config_keys::KeyError& e) {
    std::cerr << "Error: " << e.message << "\n";
    return exit_code::usage;
  }

  if (status_->parsed()) {
    return node::print_status(config);
  }
  if (pots_->parsed()) {
    return catalog_ ? node::print_catalog(config) : node::print_pots(config);
  }

  log::init({home.root / "node.debug.log", verbose || config.log_verbose, true});
  return node::run_node(config, [&](const node::NodeRunInfo& info) {
    std::cout << fmt::format(
        "[*] honeycomb node is running\n    node id:    {}\n    event port: {}:{}\n    core:       {}\n"
        "    spool:      {}\n",
        info.node_id, config.event_listen.address, info.event_port, node::core_addresses_text(config.cores),
        config.spool_dir().string());
    std::cout << std::flush;
  });
}

int node_main(int argc, char** argv) {
  NodeCommands node;
  return run_one_command(
      "honeycomb node (the small node executable; run `honeycomb node`)", argc, argv,
      [&](CLI::App& app) { node.add(app); },
      [&](const host::Home& home, bool verbose) { return node.run(home, verbose); });
}

}  // namespace honeycomb::cli
