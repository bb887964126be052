#include "core/config.hpp"

#include "common/config_keys.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace honeycomb::core {

std::filesystem::path CoreConfig::database_path() const {
  return database.empty() ? data_dir / "events.db" : std::filesystem::path(database);
}

bool CoreConfig::database_is_postgres() const {
  return store::is_postgres_uri(database);
}

std::string CoreConfig::database_label() const {
  if (!database_is_postgres()) {
    return database_path().string();
  }
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  std::string label = database;
  const auto authority = label.find("://") + 3;
  const auto end = label.find_first_of("/?", authority);
  const auto at = label.rfind('@', end == std::string::npos ? label.size() : end);
  if (at != std::string::npos && at >= authority) {
    const auto colon = label.find(':', authority);
    if (colon != std::string::npos && colon < at) {
      label.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // A password given as a query parameter (?password=...).
  if (const auto pw = label.find("password="); pw != std::string::npos) {
    const auto stop = label.find('&', pw);
    label.replace(pw + 9, (stop == std::string::npos ? label.size() : stop) - pw - 9, "***");
  }
  return label;
}

using config_keys::KeyError;
using config_keys::parse_listen;
using config_keys::scalar;
using config_keys::text;

std::variant<CoreConfig, std::string> load_core_config(const std::filesystem::path& file, const CoreConfig& defaults) {
  CoreConfig c = defaults;
  std::string error;
  auto loaded = config_keys::load_mapping(file, error);
  if (!loaded) {
    return error;
  }
  const YAML::Node& root = *loaded;
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const auto& v = kv.second;
      if (key == "data_dir") {
        c.data_dir = text(v, key);
      } else if (key == "database") {
        c.database = text(v, key);
      } else if (key == "node_listen") {
        c.node_listen = parse_listen(key, text(v, key));
      } else if (key == "api_listen") {
        c.api_listen = parse_listen(key, text(v, key));
      } else if (key == "ws_listen") {
        c.ws_listen = parse_listen(key, text(v, key));
      } else if (key == "io_threads") {
        c.io_threads = scalar<unsigned>(v, key, 1, 64);
      } else if (key == "tls") {
        if (!v.IsMap()) {
          throw KeyError{"tls: must be a mapping (cert_file, key_file, client_ca_file)"};
        }
        for (const auto& t : v) {
          const auto k = t.first.as<std::string>();
          if (k == "cert_file") {
            c.tls.cert_file = text(t.second, "tls.cert_file");
          } else if (k == "key_file") {
            c.tls.key_file = text(t.second, "tls.key_file");
          } else if (k == "client_ca_file") {
            c.tls.client_ca_file = text(t.second, "tls.client_ca_file");
          } else {
            throw KeyError{fmt::format("tls.{}: unknown key (known: cert_file, key_file, client_ca_file)", k)};
          }
        }
      } else if (key == "max_envelope_bytes") {
        c.max_envelope_bytes = scalar<std::size_t>(v, key, 4096, std::size_t{1} << 30);
      } else if (key == "heartbeat_seconds") {
        c.heartbeat = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "heartbeat_ms") {  // tests: lost-node detection in a second
        c.heartbeat = config_keys::millis(v, key, 10, 3'600'000);
      } else if (key == "registration_timeout_seconds") {
        c.registration_timeout = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "max_malformed_per_peer") {
        c.max_malformed_per_peer = scalar<std::uint32_t>(v, key, 1, 1'000'000);
      } else if (key == "max_nodes") {
        c.max_nodes = scalar<std::size_t>(v, key, 1, 1'000'000);
      } else if (key == "command_timeout_seconds") {
        c.command_timeout = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "node_auth") {
        const auto mode = text(v, key);
        if (mode == "certificate") {
          c.node_auth = NodeAuth::certificate;
        } else if (mode == "open") {
          c.node_auth = NodeAuth::open;
        } else {
          throw KeyError{fmt::format("node_auth: \"{}\" is not one of certificate, open", mode)};
        }
      } else if (key == "node_totp") {
        c.node_totp = config_keys::boolean(v, key);
      } else if (key == "node_cert_days") {
        c.node_cert_validity = std::chrono::hours(24) * scalar<int>(v, key, 1, 3650);
      } else if (key == "node_cert_seconds") {  // tests: certificate renewal in seconds
        c.node_cert_validity = std::chrono::seconds(scalar<int>(v, key, 1, 3650 * 86400));
      } else if (key == "join_token_minutes") {
        c.join_token_validity = std::chrono::minutes(scalar<int>(v, key, 1, 30 * 24 * 60));
      } else if (key == "api_max_body_bytes") {
        c.api_max_body_bytes = scalar<std::size_t>(v, key, 1024, std::size_t{1} << 30);
      } else if (key == "api_rate_per_second") {
        c.api_rate_per_second = scalar<std::uint32_t>(v, key, 0, 1'000'000);
      } else if (key == "api_max_connections") {
        c.api_max_connections = scalar<std::size_t>(v, key, 1, 1'000'000);
      } else if (key == "dashboard_dir") {
        c.dashboard_dir = text(v, key);
        std::error_code ec;
        if (c.dashboard_dir != "none" && !c.dashboard_dir.empty() &&
            !std::filesystem::is_directory(c.dashboard_dir, ec)) {
          throw KeyError{fmt::format(
              "dashboard_dir: '{}' is not a folder (give the built dashboard's folder, \"none\", or leave it out)",
              c.dashboard_dir)};
        }
      } else if (key == "ws_client_queue") {
        c.ws_client_queue = scalar<std::size_t>(v, key, 1, 10'000'000);
      } else if (key == "ws_max_clients") {
        c.ws_max_clients = scalar<std::size_t>(v, key, 1, 100'000);
      } else if (key == "retention_days") {
        c.storage.retention_days = scalar<std::int64_t>(v, key, 0, 100'000);
      } else if (key == "retention_max_mb") {
        c.storage.retention_max_mb = scalar<std::int64_t>(v, key, 0, std::int64_t{1} << 40);
      } else if (key == "ingest_queue") {
        c.storage.queue_capacity = scalar<std::size_t>(v, key, 1024, std::size_t{1} << 30);
      } else if (key == "ingest_batch") {
        c.storage.max_batch = scalar<std::size_t>(v, key, 0, 1'048'576);
      } else if (key == "ingest_writers") {
        c.storage.writers = scalar<std::size_t>(v, key, 0, store::kMaxPostgresWriters);
      } else if (key == "sqlite_cache_window_mb") {
        c.storage.cache_window_mb = scalar<std::int64_t>(v, key, 0, std::int64_t{1} << 30);
      } else if (key == "verbose") {
        c.log_verbose = config_keys::boolean(v, key);
      } else {
        throw KeyError{fmt::format("{}: unknown key (see `honeycomb core --gen-config`)", key)};
      }
    }
  } catch (const KeyError& e) {
    return fmt::format("{}: {}", file.string(), e.message);
  } catch (const YAML::Exception& e) {
    return fmt::format("{}: line {}: {}", file.string(), e.mark.line + 1, e.msg);
  }
  // The queue counts the events being committed: a transaction larger than
  // it would take the whole queue and stall every node while it commits.
  if (c.storage.max_batch > c.storage.queue_capacity) {
    return fmt::format("{}: ingest_batch ({}) is larger than ingest_queue ({}); keep it at most half of it",
                       file.string(), c.storage.max_batch, c.storage.queue_capacity);
  }
  return c;
}

std::string generate_core_config(const CoreConfig& d) {
  return fmt::format(R"(# honeycomb core configuration (honeycomb core --config core.yml).
# Every key is optional; the values below are the defaults.

# Where the core keeps its database and the first API token.
# data_dir: ~/.config/honeycomb/core
# SQLite file (default: <data_dir>/events.db), or a PostgreSQL URI for a
# larger fleet or several cores sharing one database (docs/DEPLOYMENT.md):
# database: /var/lib/honeycomb/events.db
# database: postgresql://honeycomb:secret@db.example:5432/honeycomb?sslmode=verify-full

# Protocol v2 (nodes), REST API + dashboard, WebSocket stream.
node_listen: "{}"
api_listen: "{}"
ws_listen: "{}"
io_threads: {}

# TLS on the API and WebSocket ports when a certificate is given (PEM files);
# on the node port too with node_auth: open (with certificate, the node port
# always uses the core's own CA).
# tls:
#   cert_file: /etc/honeycomb/core.crt
#   key_file: /etc/honeycomb/core.key
#   client_ca_file: /etc/honeycomb/nodes-ca.crt   # require node certificates

# How nodes authenticate (docs/SECURITY.md):
#   certificate: TLS 1.3, each node with a certificate from this core's own CA
#                (created at first start in <data_dir>/pki), obtained once with
#                a one-time join token: honeycomb core token create --node NAME
#   open:        any node may register (plain TCP, or the tls section above);
#                for the public HoneyBee node. Weak: trust on first use.
node_auth: {}
# Require TOTP codes from nodes (RFC 6238; the secret is handed over in the
# first registration's answer).
node_totp: {}
# Lifetime of node certificates; nodes renew theirs when a third is left.
node_cert_days: {}
# Default lifetime of a join token.
join_token_minutes: {}

# Largest Protocol v2 envelope a node may send (real events reach 300 KB).
max_envelope_bytes: {}
# The nodes' heartbeat interval; a node silent for three is shown as lost.
heartbeat_seconds: {}
# A new connection must register within this time.
registration_timeout_seconds: {}
# Malformed messages a node may send before it is disconnected.
max_malformed_per_peer: {}
max_nodes: {}
# How long an API command waits for the node's answer.
command_timeout_seconds: {}

api_max_body_bytes: {}
# Requests per second per client address (0: unlimited).
api_rate_per_second: {}
api_max_connections: {}
# The web dashboard, served at / on the API port (its files need no token;
# its data does). Left out: the first folder that exists of
# $HONEYCOMB_DASHBOARD_DIR, <exe>/../share/honeycomb/dashboard and the source
# tree's web/dist (scripts/build-web.sh builds it). "none": no dashboard.
# dashboard_dir: /usr/share/honeycomb/dashboard

# Messages queued per WebSocket client before it is told it missed some.
ws_client_queue: {}
ws_max_clients: {}

# Events waiting to be written (nodes are slowed down beyond, never dropped).
ingest_queue: {}
# Most events written in one transaction (at most ingest_queue). 0: the
# store's own, 32768 on SQLite (each index page is written once for more
# events), 8192 on PostgreSQL.
ingest_batch: {}
# PostgreSQL: transactions written at once, each by its own connection (the
# server's work for one is serial, so one caps a core's ingest); commits are
# still acknowledged in order. 0: 1. SQLite writes with one.
ingest_writers: {}
# Delete events older than this many days (0: keep forever).
retention_days: {}
# Keep the database under this size, deleting the oldest events (0: no limit).
retention_max_mb: {}
# SQLite: the newest part of the database file, in MB, kept in the OS page
# cache once written; older parts are dropped from it once, as the file
# grows past them, so the kernel reuses that memory for the next writes (on
# a VM that hands unused memory back to the host a new page costs ~20x a
# reused one). What queries read back is cached as usual. 0: leave the
# cache to the kernel.
sqlite_cache_window_mb: {}
)",
                     d.node_listen.text(), d.api_listen.text(), d.ws_listen.text(), d.io_threads,
                     d.node_auth == NodeAuth::certificate ? "certificate" : "open", d.node_totp ? "true" : "false",
                     d.node_cert_validity.count() / 86400, d.join_token_validity.count() / 60, d.max_envelope_bytes,
                     d.heartbeat.count() / 1000, d.registration_timeout.count() / 1000, d.max_malformed_per_peer,
                     d.max_nodes, d.command_timeout.count() / 1000, d.api_max_body_bytes, d.api_rate_per_second,
                     d.api_max_connections, d.ws_client_queue, d.ws_max_clients, d.storage.queue_capacity,
                     d.storage.max_batch, d.storage.writers, d.storage.retention_days, d.storage.retention_max_mb,
                     d.storage.cache_window_mb);
}

}  // namespace honeycomb::core
