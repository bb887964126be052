// `honeycomb core`: wires storage, registry, command router, node server,
// REST API and WebSocket stream together and runs them until SIGINT/SIGTERM.
#pragma once

#include "core/config.hpp"

#include <functional>
#include <string>

namespace honeycomb::core {

struct RunInfo {
  std::uint16_t node_port = 0;
  std::uint16_t api_port = 0;
  std::uint16_t ws_port = 0;
  std::string initial_token;  ///< non-empty on first start only
};

/// Runs the core in the foreground. `on_started` (optional) is called once
/// every port is listening. Returns the process exit code.
int run_core(const CoreConfig& config, const std::function<void(const RunInfo&)>& on_started = {});

/// `honeycomb core token ...` on the core's database (works while a core runs).
int token_create(const CoreConfig& config, const std::string& name);
int token_list(const CoreConfig& config);
int token_revoke(const CoreConfig& config, const std::string& id_or_name);

}  // namespace honeycomb::core
