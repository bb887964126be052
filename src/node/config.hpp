// `honeycomb node` configuration: YAML (node.yml), every key optional with
// the defaults below; `honeycomb node --gen-config` prints a commented file.
#pragma once

#include "common/config_keys.hpp"
#include "node/pot_sandbox.hpp"
#include "protocol/messages.hpp"
#include "spool/spool.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::node {

using Listen = config_keys::Listen;
/// A core's Protocol v2 address, HOST:PORT.
using CoreAddress = config_keys::Listen;

/// A local output (issue: a standalone sensor): a built-in or library
/// integration the node feeds every event to, with its parameters.
struct LocalOutput {
  std::string integration;        ///< json_file, syslog, ...
  std::vector<std::string> args;  ///< key=value, validated by the integration's config.json

  bool operator==(const LocalOutput&) const = default;
};

struct NodeConfig {
  std::filesystem::path data_dir;  ///< default <home>/node: node id, spool, stats
  /// The file this was read from (--config), absolute; empty: none. Pots
  /// with a private view see it empty.
  std::filesystem::path config_file;
  std::string node_name;  ///< default: the host name
  /// The cores' Protocol v2 addresses, tried in turn (several cores on one
  /// database: docs/DEPLOYMENT.md); empty: standalone (events stay in the
  /// spool, bounded, and go to the local outputs only).
  std::vector<CoreAddress> cores{{"127.0.0.1", 9001}};
  Listen event_listen{"127.0.0.1", 9100};
  unsigned io_threads = 1;  ///< event-port threads (the link to the core has its own)

  // Event port
  std::size_t max_line_bytes = std::size_t{1} << 20;  ///< longer lines become an anomaly event
  std::size_t max_connections = 4096;                 ///< a cap, not an idle timeout (Cowrie idles for hours)

  // Spool (docs/SPOOL.md)
  std::uint64_t spool_max_bytes = std::uint64_t{1} << 30;
  std::uint64_t spool_segment_bytes = std::uint64_t{64} << 20;
  spool::FsyncPolicy fsync = spool::FsyncPolicy::interval;
  std::chrono::milliseconds fsync_interval{1000};

  // Link to the core
  std::chrono::milliseconds heartbeat{30'000};
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{30'000};
  std::chrono::milliseconds registration_timeout{10'000};
  std::uint64_t max_unacked_events = 200'000;  ///< sent but not yet confirmed; the sender waits beyond it
  /// Send events to a core that did not confirm `event_ack` (an older or
  /// third-party core that takes PotEvents); they leave the spool once
  /// written. Off: they wait in the spool (the public Rust core drops a
  /// node that sends a PotEvent).
  bool forward_without_ack = false;
  /// A one-time join token from `honeycomb core token create --node NAME`:
  /// used once, when the node has no certificate yet, to enroll with a
  /// core that requires node certificates (docs/SECURITY.md).
  std::string join_token;
  std::chrono::milliseconds stats_interval{1000};  ///< how often stats.json is rewritten (when it changed)

  // Pots (docs/POTS.md)
  std::filesystem::path potstore;  ///< the catalog; empty: the one shipped with honeycomb
  /// Pots this node runs without being told: installed (and started) at
  /// start-up when no pot of that id is installed yet.
  std::vector<protocol::InstallPot> pots;
  /// Integrations fed every event (docs/OUTPUTS.md), beside or instead of the core.
  std::vector<LocalOutput> outputs;
  std::uint64_t pot_log_max_bytes = std::uint64_t{1} << 20;  ///< per stream (stdout, stderr); one older file kept
  std::chrono::milliseconds pot_restart_min{1000};           ///< first restart delay after a crash; doubles
  std::chrono::milliseconds pot_restart_max{60'000};         ///< longest restart delay
  std::chrono::milliseconds pot_stable_after{60'000};  ///< a pot up this long restarts at the shortest delay again
  std::chrono::milliseconds pot_stop_grace{5'000};     ///< SIGTERM, then SIGKILL after this long
  /// Who pots run as and their limits: pot_user, pot_uid_base, pot_memory_mb,
  /// pot_cpu_seconds, pot_open_files, pot_processes, pot_private_mounts, pot_nice.
  PotSandboxOptions pot_sandbox;
  bool log_verbose = false;

  bool standalone() const { return cores.empty(); }
  std::filesystem::path spool_dir() const { return data_dir / "spool"; }
  std::filesystem::path node_id_file() const { return data_dir / "node_id"; }
  std::filesystem::path stats_file() const { return data_dir / "stats.json"; }
  std::filesystem::path pots_dir() const { return data_dir / "pots"; }
  /// The node's key, its certificate and the core's CA (enrollment), and
  /// the TOTP secret a core handed out; mode 0700.
  std::filesystem::path tls_dir() const { return data_dir / "tls"; }
  /// The seq up to which the local outputs delivered everything.
  std::filesystem::path outputs_position_file() const { return data_dir / "outputs.position"; }
};

/// The core addresses of `core:` or `--core`: each entry HOST:PORT (a bare
/// PORT means 127.0.0.1), or a comma-separated list of them; entries from
/// several values (a YAML sequence, a repeated option) add up. "none" alone
/// (or nothing): standalone, an empty list. Throws config_keys::KeyError
/// naming `key` (`key[i]` for the i-th of several) and the bad entry.
std::vector<CoreAddress> parse_core_addresses(const std::string& key, const std::vector<std::string>& values);
/// "host:port, host:port" (or "none (standalone)" when empty), for logs.
std::string core_addresses_text(const std::vector<CoreAddress>& cores);

/// Loads a YAML file over the defaults. Error text names the file and key.
std::variant<NodeConfig, std::string> load_node_config(const std::filesystem::path& file, const NodeConfig& defaults);
/// A commented YAML file with every key at its default.
std::string generate_node_config(const NodeConfig& defaults);
/// "never" | "interval" | "always"; nullopt otherwise.
std::optional<spool::FsyncPolicy> fsync_policy_from(std::string_view text);
const char* to_string(spool::FsyncPolicy policy);

/// The node id: read from `file`, or generated (random u64, never 0) and
/// written there (mode 0600) on first start. Empty optional + `error` when
/// the file is unreadable or not a decimal u64.
std::optional<std::uint64_t> load_or_create_node_id(const std::filesystem::path& file, std::string& error);

}  // namespace honeycomb::node
