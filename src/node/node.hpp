// `honeycomb node`: wires the event port, the durable spool, the link to the
// core and the pot manager together and runs them until SIGINT/SIGTERM.
#pragma once

#include "node/config.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace honeycomb::node {

struct NodeRunInfo {
  std::uint64_t node_id = 0;
  std::uint16_t event_port = 0;
};

/// Runs the node in the foreground. `on_started` (optional) is called once
/// the event port is listening. Returns the process exit code.
int run_node(const NodeConfig& config, const std::function<void(const NodeRunInfo&)>& on_started = {});

/// `honeycomb node status`: prints the running node's statistics file.
int print_status(const NodeConfig& config);
/// `honeycomb node pots`: the installed pots (id, type, what should become
/// of them, where from), read from <data_dir>/pots.
int print_pots(const NodeConfig& config);
/// `honeycomb node pots --catalog`: what the potstore offers.
int print_catalog(const NodeConfig& config);

}  // namespace honeycomb::node
