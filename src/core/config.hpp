// `honeycomb core` configuration: YAML (core.yml), every key optional with
// the defaults below; `honeycomb core --gen-config` prints a commented file.
#pragma once

#include "common/config_keys.hpp"
#include "store/storage.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>

namespace honeycomb::core {

using Listen = config_keys::Listen;

struct TlsConfig {
  std::string cert_file;  ///< PEM chain; empty: no TLS on 9001/9002/9003
  std::string key_file;
  std::string client_ca_file;  ///< optional: require node client certificates signed by it
  bool enabled() const { return !cert_file.empty(); }
};

/// How nodes authenticate on the Protocol v2 port (docs/SECURITY.md).
enum class NodeAuth {
  /// TLS 1.3 with a client certificate issued by the core's own CA to an
  /// enrolled node (one-time join token), bound to its node id. The default.
  certificate,
  /// Whatever connects may register (the public Go node, plain TCP, or the
  /// `tls` section's certificate); TOFU on the node id, TOTP optional.
  open,
};

struct CoreConfig {
  std::filesystem::path data_dir;  ///< default <home>/core: database, token file
  Listen node_listen{"0.0.0.0", 9001};
  Listen api_listen{"127.0.0.1", 9002};
  Listen ws_listen{"127.0.0.1", 9003};
  TlsConfig tls;
  unsigned io_threads = 2;

  // Protocol v2
  std::size_t max_envelope_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds heartbeat{30'000};             ///< nodes' status interval; lost after 3
  std::chrono::milliseconds registration_timeout{10'000};  ///< first message must come within
  std::uint32_t max_malformed_per_peer = 20;               ///< garbage messages before a peer is disconnected
  std::size_t max_nodes = 20'000;                          ///< concurrent node connections
  std::chrono::milliseconds command_timeout{10'000};
  NodeAuth node_auth = NodeAuth::certificate;
  /// TOTP as a second factor (spec §2): a secret in the first
  /// RegistrationAck, a valid code in every later registration.
  bool node_totp = false;
  std::chrono::seconds node_cert_validity{std::chrono::hours(24 * 90)};
  std::chrono::seconds join_token_validity{std::chrono::hours(1)};  ///< default of `core token create --node`

  // API
  std::size_t api_max_body_bytes = 1024 * 1024;
  std::uint32_t api_rate_per_second = 200;  ///< per client address; 0: unlimited
  std::size_t api_max_connections = 1024;
  /// The web dashboard's folder (docs/API.md "Dashboard"): empty for the
  /// first that exists of $HONEYCOMB_DASHBOARD_DIR,
  /// <exe>/../share/honeycomb/dashboard and the source tree's web/dist;
  /// "none": no dashboard.
  std::string dashboard_dir;

  // WebSocket
  std::size_t ws_client_queue = 4096;  ///< messages queued per client before it misses some
  std::size_t ws_max_clients = 256;

  // Storage
  std::string database;           ///< SQLite file (default <data_dir>/events.db) or a postgresql:// URI
  store::StorageOptions storage;  ///< path or postgres_uri filled from `database`
  bool log_verbose = false;

  std::filesystem::path database_path() const;
  /// `database` is a PostgreSQL URI (postgresql://...) rather than a file.
  bool database_is_postgres() const;
  /// The database as logs and banners show it: the file, or the URI with
  /// its password hidden.
  std::string database_label() const;
  std::filesystem::path token_file() const { return data_dir / "api-token"; }
  std::filesystem::path pki_dir() const { return data_dir / "pki"; }
};

/// Loads a YAML file over the defaults. Error text names the key.
std::variant<CoreConfig, std::string> load_core_config(const std::filesystem::path& file, const CoreConfig& defaults);
/// A commented YAML file with every key at its default.
std::string generate_core_config(const CoreConfig& defaults);

}  // namespace honeycomb::core
