#include "node/config.hpp"

#include "security/join_token.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::node {

using config_keys::KeyError;
using config_keys::parse_listen;
using config_keys::scalar;
using config_keys::text;

std::optional<spool::FsyncPolicy> fsync_policy_from(std::string_view t) {
  if (t == "never") {
    return spool::FsyncPolicy::never;
  }
  if (t == "interval") {
    return spool::FsyncPolicy::interval;
  }
  if (t == "always") {
    return spool::FsyncPolicy::always;
  }
  return std::nullopt;
}

const char* to_string(spool::FsyncPolicy policy) {
  switch (policy) {
    case spool::FsyncPolicy::never:
      return "never";
    case spool::FsyncPolicy::interval:
      return "interval";
    case spool::FsyncPolicy::always:
      return "always";
  }
  return "interval";
}

namespace {

/// `pots:` a list of {id, type, config: {key: value}, start: bool}.
std::vector<protocol::InstallPot> parse_pots(const YAML::Node& list) {
  if (!list.IsSequence()) {
    throw KeyError{"pots: expected a list of {id, type, config, start}"};
  }
  std::vector<protocol::InstallPot> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& item = list[i];
    const auto where = fmt::format("pots[{}]", i);
    if (!item.IsMap()) {
      throw KeyError{where + ": expected a mapping with id, type, config, start"};
    }
    protocol::InstallPot pot;
    pot.auto_start = true;
    for (const auto& kv : item) {
      const auto key = kv.first.as<std::string>();
      const auto name = fmt::format("{}.{}", where, key);
      if (key == "id") {
        pot.pot_id = text(kv.second, name);
      } else if (key == "type") {
        pot.honeypot_type = text(kv.second, name);
      } else if (key == "start") {
        pot.auto_start = config_keys::boolean(kv.second, name);
      } else if (key == "config") {
        if (!kv.second.IsMap()) {
          throw KeyError{name + ": expected a mapping of key: value"};
        }
        std::map<std::string, std::string> config;
        for (const auto& entry : kv.second) {
          const auto k = entry.first.as<std::string>();
          config[k] = text(entry.second, fmt::format("{}.{}", name, k));
        }
        pot.config = std::move(config);
      } else {
        throw KeyError{name + ": unknown key (id, type, config, start)"};
      }
    }
    if (pot.pot_id.empty() || pot.honeypot_type.empty()) {
      throw KeyError{where + ": needs an id and a type"};
    }
    out.push_back(std::move(pot));
  }
  return out;
}

/// `pot_user`: an account name as useradd takes it.
std::string account_name(const YAML::Node& v, const std::string& key) {
  auto name = text(v, key);
  const bool ok = !name.empty() && name.size() <= 32 &&
                  (std::islower(static_cast<unsigned char>(name[0])) != 0 || name[0] == '_') &&
                  name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
  if (!name.empty() && !ok) {
    throw KeyError{
        fmt::format("{}: '{}' is not an account name ([a-z_][a-z0-9_-]*, at most 32 characters)", key, name)};
  }
  return name;
}

/// The Pots part's sandbox keys for generate_node_config.
std::string sandbox_yaml(const PotSandboxOptions& d) {
  return fmt::format(R"(
# Sandbox (docs/POTS.md § Sandbox). A node running as root runs each pot
# as its own user: a dynamic uid and gid, pot_uid_base + a slot kept in the
# pot's pot.json, named in no /etc/passwd (give two nodes on one machine
# different bases); or pot_user, one account for every pot. Pots get no
# capability but CAP_NET_BIND_SERVICE, and that only when their config
# listens below 1024; no_new_privs; and a private mount view in which
# data_dir holds only their own folder (pot_private_mounts; where the node
# cannot make one, file modes keep them out). A node that is not root runs
# them as its own user, with the limits below.
# pot_user: nobody
pot_uid_base: {}
# Limits per pot process. Memory is address space (RLIMIT_AS): a JVM or a
# big Python pot may need 4096 or 0 (unlimited). CPU is a total of seconds
# per process, not a rate (a long-lived pot would be killed at it and
# restarted): 0, unlimited, by default. Processes count threads too, per uid.
pot_memory_mb: {}
pot_cpu_seconds: {}
pot_open_files: {}
pot_processes: {}
pot_private_mounts: {}
# Added to the node's niceness for every pot (0..19): a pot busy under
# attack cannot keep the node from accepting its events (a node that loses
# the CPU stops accepting and connecting clients wait for a SYN resent 1 s
# later). 0: pots run at the node's priority.
pot_nice: {}
)",
                     d.uid_base, d.memory_mb, d.cpu_seconds, d.open_files, d.processes, d.private_mounts, d.nice);
}

/// The `core:` value for generate_node_config: a quoted string (a list is
/// comma-separated), or none.
std::string core_yaml(const std::vector<CoreAddress>& cores) {
  std::string out;
  for (const auto& core : cores) {
    out += (out.empty() ? "" : ",") + core.text();
  }
  return out.empty() ? std::string("none") : fmt::format("\"{}\"", out);
}

/// `outputs:` a list of {integration, args: {key: value}}.
std::vector<LocalOutput> parse_outputs(const YAML::Node& list) {
  if (!list.IsSequence()) {
    throw KeyError{"outputs: expected a list of {integration, args}"};
  }
  std::vector<LocalOutput> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& item = list[i];
    const auto where = fmt::format("outputs[{}]", i);
    if (!item.IsMap()) {
      throw KeyError{where + ": expected a mapping with integration and args"};
    }
    LocalOutput output;
    for (const auto& kv : item) {
      const auto key = kv.first.as<std::string>();
      const auto name = fmt::format("{}.{}", where, key);
      if (key == "integration") {
        output.integration = text(kv.second, name);
      } else if (key == "args") {
        if (!kv.second.IsMap()) {
          throw KeyError{name + ": expected a mapping of key: value"};
        }
        for (const auto& entry : kv.second) {
          const auto k = entry.first.as<std::string>();
          output.args.push_back(fmt::format("{}={}", k, text(entry.second, fmt::format("{}.{}", name, k))));
        }
      } else {
        throw KeyError{name + ": unknown key (integration, args)"};
      }
    }
    if (output.integration.empty()) {
      throw KeyError{where + ": needs an integration"};
    }
    out.push_back(std::move(output));
  }
  return out;
}

}  // namespace

std::vector<CoreAddress> parse_core_addresses(const std::string& key, const std::vector<std::string>& values) {
  std::vector<std::string> entries;
  for (const auto& value : values) {
    std::size_t start = 0;
    for (;;) {
      const auto comma = value.find(',', start);
      auto entry = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      const auto first = entry.find_first_not_of(" \t");
      entry =
          first == std::string::npos ? std::string() : entry.substr(first, entry.find_last_not_of(" \t") - first + 1);
      entries.push_back(std::move(entry));
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  if (entries.empty() || (entries.size() == 1 && (entries[0].empty() || entries[0] == "none"))) {
    return {};
  }
  std::vector<CoreAddress> cores;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    const auto name = entries.size() == 1 ? key : fmt::format("{}[{}]", key, i);
    if (entry.empty()) {
      throw KeyError{fmt::format("{}: an empty entry in the list of cores (HOST:PORT,HOST:PORT)", name)};
    }
    if (entry == "none") {
      throw KeyError{fmt::format("{}: 'none' (a standalone node) cannot be listed with cores", name)};
    }
    auto address = parse_listen(name, entry, "127.0.0.1");
    if (address.port == 0) {
      throw KeyError{fmt::format("{}: '{}' needs a port", name, entry)};
    }
    if (address.address.empty()) {
      throw KeyError{fmt::format("{}: '{}' needs a host (HOST:PORT)", name, entry)};
    }
    // The same core twice would only be tried twice per round: a typo, most likely.
    for (const auto& earlier : cores) {
      if (earlier.address == address.address && earlier.port == address.port) {
        throw KeyError{fmt::format("{}: '{}' is listed twice", name, entry)};
      }
    }
    cores.push_back(std::move(address));
  }
  return cores;
}

std::string core_addresses_text(const std::vector<CoreAddress>& cores) {
  if (cores.empty()) {
    return "none (standalone)";
  }
  std::string out;
  for (const auto& core : cores) {
    out += (out.empty() ? "" : ", ") + core.text();
  }
  return out;
}

std::variant<NodeConfig, std::string> load_node_config(const std::filesystem::path& file, const NodeConfig& defaults) {
  NodeConfig c = defaults;
  std::string error;
  auto loaded = config_keys::load_mapping(file, error);
  if (!loaded) {
    return error;
  }
  const YAML::Node& root = *loaded;
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const auto& v = kv.second;
      if (key == "data_dir") {
        c.data_dir = text(v, key);
      } else if (key == "node_name") {
        c.node_name = text(v, key);
      } else if (key == "core") {
        std::vector<std::string> values;
        if (v.IsSequence()) {
          for (std::size_t i = 0; i < v.size(); ++i) {
            values.push_back(text(v[i], fmt::format("{}[{}]", key, i)));
          }
        } else if (!v.IsNull()) {
          values.push_back(text(v, key));
        }
        c.cores = parse_core_addresses(key, values);
      } else if (key == "event_listen") {
        c.event_listen = parse_listen(key, text(v, key), "127.0.0.1");
      } else if (key == "io_threads") {
        c.io_threads = scalar<unsigned>(v, key, 1, 64);
      } else if (key == "max_line_bytes") {
        c.max_line_bytes = scalar<std::size_t>(v, key, 1024, std::size_t{256} << 20);
      } else if (key == "max_connections") {
        c.max_connections = scalar<std::size_t>(v, key, 1, 1'000'000);
      } else if (key == "spool_max_mb") {
        c.spool_max_bytes = scalar<std::uint64_t>(v, key, 1, std::uint64_t{1} << 24) * kMiB;
      } else if (key == "spool_segment_mb") {
        c.spool_segment_bytes = scalar<std::uint64_t>(v, key, 1, 4096) * kMiB;
      } else if (key == "fsync") {
        auto p = fsync_policy_from(text(v, key));
        if (!p) {
          throw KeyError{fmt::format("{}: '{}' is not one of never, interval, always", key, v.Scalar())};
        }
        c.fsync = *p;
      } else if (key == "fsync_interval_ms") {
        c.fsync_interval = config_keys::millis(v, key, 1, 3'600'000);
      } else if (key == "heartbeat_seconds") {
        c.heartbeat = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "heartbeat_ms") {  // tests
        c.heartbeat = config_keys::millis(v, key, 10, 3'600'000);
      } else if (key == "reconnect_min_ms") {
        c.reconnect_min = config_keys::millis(v, key, 10, 3'600'000);
      } else if (key == "reconnect_max_seconds") {
        c.reconnect_max = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "registration_timeout_seconds") {
        c.registration_timeout = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "max_unacked_events") {
        c.max_unacked_events = scalar<std::uint64_t>(v, key, 1, std::uint64_t{1} << 32);
      } else if (key == "forward_without_ack") {
        c.forward_without_ack = config_keys::boolean(v, key);
      } else if (key == "join_token") {
        c.join_token = text(v, key);
        if (!security::parse_join_token(c.join_token)) {
          throw KeyError{
              "join_token: not a join token (hcj1.<secret>.<CA fingerprint>, as printed by "
              "`honeycomb core token create --node NAME`)"};
        }
      } else if (key == "stats_interval_ms") {
        c.stats_interval = config_keys::millis(v, key, 10, 3'600'000);
      } else if (key == "potstore") {
        c.potstore = text(v, key);
      } else if (key == "pots") {
        c.pots = parse_pots(v);
      } else if (key == "outputs") {
        c.outputs = parse_outputs(v);
      } else if (key == "pot_log_max_kb") {
        c.pot_log_max_bytes = scalar<std::uint64_t>(v, key, 4, std::uint64_t{1} << 30) * 1024;
      } else if (key == "pot_restart_min_ms") {
        c.pot_restart_min = config_keys::millis(v, key, 10, 3'600'000);
      } else if (key == "pot_restart_max_seconds") {
        c.pot_restart_max = config_keys::seconds(v, key, 1, 86'400);
      } else if (key == "pot_stable_after_seconds") {
        c.pot_stable_after = config_keys::seconds(v, key, 1, 86'400);
      } else if (key == "pot_stop_grace_seconds") {
        c.pot_stop_grace = config_keys::seconds(v, key, 1, 3600);
      } else if (key == "pot_user") {
        c.pot_sandbox.user = v.IsNull() ? std::string() : account_name(v, key);
      } else if (key == "pot_uid_base") {
        // Above system accounts; the last slot stays below (uid_t)-1.
        c.pot_sandbox.uid_base = scalar<std::uint32_t>(v, key, 1000, 0xFFFF'FFFEU - kPotUidSlots);
      } else if (key == "pot_memory_mb") {
        c.pot_sandbox.memory_mb = scalar<std::uint64_t>(v, key, 0, std::uint64_t{1} << 24);
        if (c.pot_sandbox.memory_mb != 0 && c.pot_sandbox.memory_mb < 64) {
          throw KeyError{
              fmt::format("{}: {} MiB starts no program; at least 64, or 0 (unlimited)", key, c.pot_sandbox.memory_mb)};
        }
      } else if (key == "pot_cpu_seconds") {
        c.pot_sandbox.cpu_seconds = scalar<std::uint64_t>(v, key, 0, std::uint64_t{1} << 32);
      } else if (key == "pot_open_files") {
        c.pot_sandbox.open_files = scalar<std::uint64_t>(v, key, 64, 1 << 20);
      } else if (key == "pot_processes") {
        c.pot_sandbox.processes = scalar<std::uint64_t>(v, key, 8, 1 << 22);
      } else if (key == "pot_private_mounts") {
        c.pot_sandbox.private_mounts = config_keys::boolean(v, key);
      } else if (key == "pot_nice") {
        c.pot_sandbox.nice = scalar<int>(v, key, 0, 19);
      } else if (key == "verbose") {
        c.log_verbose = config_keys::boolean(v, key);
      } else {
        throw KeyError{fmt::format("{}: unknown key (see `honeycomb node --gen-config`)", key)};
      }
    }
  } catch (const KeyError& e) {
    return fmt::format("{}: {}", file.string(), e.message);
  } catch (const YAML::Exception& e) {
    return fmt::format("{}: line {}: {}", file.string(), e.mark.line + 1, e.msg);
  }
  if (c.reconnect_max < c.reconnect_min) {
    c.reconnect_max = c.reconnect_min;
  }
  if (c.pot_restart_max < c.pot_restart_min) {
    c.pot_restart_max = c.pot_restart_min;
  }
  return c;
}

std::string generate_node_config(const NodeConfig& d) {
  return fmt::format(R"(# honeycomb node configuration (honeycomb node --config node.yml).
# Every key is optional; the values below are the defaults.

# Where the node keeps its id, its spool and its statistics.
# data_dir: ~/.config/honeycomb/node
# The name shown by the core (default: the host name).
# node_name: sensor-01

# The core (Protocol v2), HOST:PORT. "none": standalone sensor. Several
# cores on one database (docs/DEPLOYMENT.md): a list, "a:9001,b:9001" or a
# YAML sequence, tried in turn (the first that answers; after a dropped
# connection, the next); every address tried once without success, the
# reconnect backoff below applies. Unconfirmed events go to whichever core
# the node reaches next.
core: {}

# The event port honeypots send JSON lines to. Loopback by default: the
# port trusts whatever connects to it.
event_listen: "{}"
io_threads: {}
# Longer lines become an anomaly event carrying their first bytes (real
# events reach 300 KB).
max_line_bytes: {}
# Concurrent event-port connections; idle ones are never closed (Cowrie
# keeps one open for hours and loses an event whenever it is closed).
max_connections: {}

# The durable spool (docs/SPOOL.md): every event is on disk before it is
# forwarded, and deleted once the core confirms storing it. When full, the
# oldest events are dropped (and counted).
spool_max_mb: {}
spool_segment_mb: {}
# never: the kernel writes back (power loss may lose ~30 s);
# interval: synced every fsync_interval_ms (power loss may lose that long);
# always: every batch is synced before more is read (slowest).
# A node killed by a signal loses nothing under any policy.
fsync: {}
fsync_interval_ms: {}

# Status to the core at once and every heartbeat; reconnect with
# exponential backoff and jitter between the two bounds.
heartbeat_seconds: {}
reconnect_min_ms: {}
reconnect_max_seconds: {}
registration_timeout_seconds: {}
# Events sent to the core and not yet confirmed stored, at most.
max_unacked_events: {}
# A core that does not confirm stored events (no event_ack extension: the
# public Rust core, which has no PotEvent and drops a node that sends one)
# gets status and command answers only; events wait in the spool. true: send
# them anyway, deleting each once written (lost if that core fails).
forward_without_ack: false
# A core with node_auth: certificate (the default) accepts this node only
# with a certificate from its CA. Get one with a one-time join token
# (`honeycomb core token create --node NAME` on the core); the node uses it
# once and keeps its key and certificate in <data_dir>/tls.
# join_token: hcj1....

# Pots (docs/POTS.md): honeypots the node runs as child processes, installed
# from the potstore catalog by the core's InstallPot. Each pot's stdout and
# stderr go to <data_dir>/pots/<id>/logs, each capped (one older file kept).
# A crashed pot restarts after pot_restart_min_ms, doubling up to
# pot_restart_max_seconds; a pot up for pot_stable_after_seconds starts over
# at the shortest delay. StopPot sends SIGTERM, then SIGKILL after the grace.
# potstore: /usr/share/honeycomb/potstore/potstore.json
# Pots to run without a command from the core: each is installed (and, unless
# start is false, started) at start-up when no pot of that id is installed.
# pots:
#   - id: web-01
#     type: simple_http
#     config: {{port: "8080"}}
#     start: true
pot_log_max_kb: {}
pot_restart_min_ms: {}
pot_restart_max_seconds: {}
pot_stable_after_seconds: {}
pot_stop_grace_seconds: {}
{}
# Local outputs (docs/OUTPUTS.md): integrations fed every event, beside the
# core or instead of it (core: none). Events leave the spool once the core
# and every output are done with them.
# outputs:
#   - integration: json_file
#     args: {{filepath: /var/log/honeycomb/events.json}}
#   - integration: syslog
#     args: {{address: 127.0.0.1, port: 514, protocol: udp}}

# How often <data_dir>/stats.json (`honeycomb node status`) is rewritten.
stats_interval_ms: {}
verbose: false
)",
                     core_yaml(d.cores), d.event_listen.text(), d.io_threads, d.max_line_bytes, d.max_connections,
                     d.spool_max_bytes >> 20, d.spool_segment_bytes >> 20, to_string(d.fsync), d.fsync_interval.count(),
                     d.heartbeat.count() / 1000, d.reconnect_min.count(), d.reconnect_max.count() / 1000,
                     d.registration_timeout.count() / 1000, d.max_unacked_events, d.pot_log_max_bytes / 1024,
                     d.pot_restart_min.count(), d.pot_restart_max.count() / 1000, d.pot_stable_after.count() / 1000,
                     d.pot_stop_grace.count() / 1000, sandbox_yaml(d.pot_sandbox), d.stats_interval.count());
}

std::optional<std::uint64_t> load_or_create_node_id(const std::filesystem::path& file, std::string& error) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    std::ifstream in(file);
    std::string t;
    in >> t;
    std::uint64_t id = 0;
    auto [p, perr] = std::from_chars(t.data(), t.data() + t.size(), id);
    if (!in || perr != std::errc{} || p != t.data() + t.size() || id == 0) {
      error = fmt::format("{}: not a node id (a decimal unsigned 64-bit number); delete it to get a new one",
                          file.string());
      return std::nullopt;
    }
    return id;
  }
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) {
    id = (std::uint64_t{rd()} << 32) | rd();
  }
  std::filesystem::create_directories(file.parent_path(), ec);
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << "\n";
    if (!out) {
      error = fmt::format("{}: cannot write the node id", tmp);
      return std::nullopt;
    }
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    error = fmt::format("{}: {}", file.string(), ec.message());
    return std::nullopt;
  }
  return id;
}

}  // namespace honeycomb::node
