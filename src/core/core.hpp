// `honeycomb core`: wires storage, registry, command router, node server,
// REST API and WebSocket stream together and runs them until SIGINT/SIGTERM.
#pragma once

#include "core/config.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <variant>

namespace honeycomb::store {
class Storage;
}

namespace honeycomb::core {

struct RunInfo {
  std::uint16_t node_port = 0;
  std::uint16_t api_port = 0;
  std::uint16_t ws_port = 0;
  std::string initial_token;   ///< non-empty on first start only
  std::string ca_fingerprint;  ///< of the node CA (node_auth: certificate), else empty
};

/// Runs the core in the foreground. `on_started` (optional) is called once
/// every port is listening. Returns the process exit code.
int run_core(const CoreConfig& config, const std::function<void(const RunInfo&)>& on_started = {});

/// `honeycomb core token ...` on the core's database (works while a core runs).
int token_create(const CoreConfig& config, const std::string& name, const std::string& scope);
int token_list(const CoreConfig& config);
int token_revoke(const CoreConfig& config, const std::string& id_or_name);
/// `honeycomb core token create --node NAME`: a one-time join token for a
/// node (printed once, with the command that uses it).
/// A join token for `node_name` stored in `storage` (the CA created if the
/// core never ran): the token text (index 0) or an error (index 1).
std::variant<std::string, std::string> create_join_token(store::Storage& storage, const CoreConfig& config,
                                                         const std::string& node_name, std::chrono::seconds validity,
                                                         const std::string& actor);
/// Opens the core's database (the CLI's way; works while a core runs);
/// null after printing why not.
std::unique_ptr<store::Storage> open_core_storage(const CoreConfig& config);
int join_token_create(const CoreConfig& config, const std::string& node_name, std::chrono::seconds validity);
/// `honeycomb core node certs` / `honeycomb core node revoke NODE|SERIAL`.
int node_certificates_list(const CoreConfig& config);
int node_revoke(const CoreConfig& config, const std::string& node_or_serial);
/// `honeycomb core audit`: the newest audit records.
int audit_list(const CoreConfig& config, std::size_t limit);

}  // namespace honeycomb::core
