#include "node/node.hpp"

#include "common/json_text.hpp"
#include "common/log.hpp"
#include "common/resident_code.hpp"
#include "host/home.hpp"
#include "host/small_executables.hpp"
#include "node/ack_gate.hpp"
#include "node/core_link.hpp"
#include "node/event_port.hpp"
#include "node/local_outputs.hpp"
#include "node/pot_manager.hpp"
#include "node/pot_spec.hpp"
#include "node/potstore.hpp"
#include "spool/spool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace honeycomb::node {

namespace asio = boost::asio;

namespace {

/// stats.json, replaced atomically: readers never see half. A failure
/// (disk full) only makes the file older. 0600: pots kept out by file modes
/// alone (no mount namespace) must not read it.
void write_stats(const NodeConfig& config, std::string_view text) {
  std::string error;
  host::write_text_file(config.stats_file(), text, error, true);
}

std::string stats_json(std::uint64_t node_id, std::uint16_t port, const EventPortStats& e, const spool::Spool& spool,
                       const CoreLink* link, const PotManager* pots, const LocalOutputs* outputs) {
  const auto s = spool.stats();
  std::string out = fmt::format(
      R"({{"node_id":{},"event_port":{},"connections_open":{},"connections_accepted":{},"connections_refused":{},)"
      R"("events":{},"blank_lines":{},"malformed":{},"oversized":{},"bytes":{},)"
      R"("spool":{{"next_seq":{},"acked_seq":{},"pending_events":{},"bytes":{},"segments":{},"dropped_events":{},)"
      R"("corrupt_records":{},"write_errors":{}}})",
      node_id, port, e.connections_open.load(), e.connections_accepted.load(), e.connections_refused.load(),
      e.events.load(), e.blank_lines.load(), e.malformed.load(), e.oversized.load(), e.bytes.load(), s.next_seq,
      s.acked_seq, s.pending_events, s.bytes, s.segments, s.dropped_events, s.corrupt_records, spool.write_errors());
  if (link != nullptr) {
    const auto& l = link->stats();
    // Which core of the list it is connected to (null: none), since with
    // several the answer changes when one goes down.
    std::string address = "null";
    if (auto connected = link->connected_core(); !connected.empty()) {
      address.clear();
      json_text::append_string(address, connected);
    }
    out +=
        fmt::format(R"(,"core":{{"connected":{},"address":{},"event_ack":{},"registrations":{},"connect_failures":{},)"
                    R"("events_sent":{},"commands":{}}})",
                    l.connected.load(), address, l.core_acks.load(), l.registrations.load(), l.connect_failures.load(),
                    l.events_sent.load(), l.commands.load());
  }
  if (pots != nullptr) {
    out += R"(,"pots":)" + pots->stats_json();
  }
  if (outputs != nullptr) {
    out += R"(,"outputs":)" + outputs->stats_json();
  }
  out += "}\n";
  return out;
}

}  // namespace

int run_node(const NodeConfig& config, const std::function<void(const NodeRunInfo&)>& on_started) {
  auto log = log::get("node");
  std::error_code fec;
  std::filesystem::create_directories(config.data_dir, fec);
  ::chmod(config.data_dir.c_str(), 0700);

  spool::SpoolOptions spool_options;
  spool_options.dir = config.spool_dir();
  spool_options.max_bytes = config.spool_max_bytes;
  spool_options.segment_bytes = config.spool_segment_bytes;
  spool_options.fsync = config.fsync;
  spool_options.fsync_interval = config.fsync_interval;
  std::string error;
  auto spool = spool::Spool::open(spool_options, error);
  if (!spool) {
    std::cerr << "Error: cannot open the spool " << config.spool_dir().string() << ": " << error << "\n";
    return 1;
  }

  // The event port comes up first: a honeypot whose node is down freezes or
  // loses events. It takes events into the spool whether or not the core
  // is reachable.
  // Who deletes spooled events: the core's acks and the local outputs'
  // progress, whichever is behind.
  AckGate gate(*spool, !config.standalone(), !config.outputs.empty());
  asio::io_context event_io(static_cast<int>(config.io_threads));
  asio::io_context link_io(1);
  asio::io_context pot_io(1);
  std::unique_ptr<CoreLink> link;
  std::unique_ptr<LocalOutputs> outputs;
  std::unique_ptr<PotManager> pots;
  EventPort port(event_io, config, *spool, [&link, &outputs]() {
    if (link) {
      link->wake();
    }
    if (outputs) {
      outputs->wake();
    }
  });
  port.count_pot_events([&pots](std::string_view pot_id, std::uint64_t events) {
    if (pots) {
      pots->count_events(pot_id, events);
    }
  });
  port.resolve_origin([&pots](int socket, const asio::ip::tcp::endpoint& remote) {
    if (!pots || !pots->any_running()) {
      return std::string();
    }
    asio::ip::tcp::endpoint local;
    auto length = static_cast<socklen_t>(local.capacity());
    if (::getsockname(socket, local.data(), &length) != 0) {
      return std::string();
    }
    local.resize(length);
    return pots->pot_for_connection(local, remote);
  });
  error = port.start();
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }

  const auto node_id = load_or_create_node_id(config.node_id_file(), error);
  if (!node_id) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }
  if (!config.outputs.empty()) {
    auto created = LocalOutputs::create(config, *node_id, *spool, gate);
    if (auto* output_error = std::get_if<std::string>(&created)) {
      std::cerr << "Error: " << *output_error << "\n";
      return 1;
    }
    outputs = std::move(std::get<std::unique_ptr<LocalOutputs>>(created));
  }

  // The pots: child processes that send their events to the port above.
  PotManagerOptions pot_options;
  pot_options.pots_dir = config.pots_dir();
  pot_options.node_id = *node_id;
  pot_options.event_port = port.port();
  pot_options.log_max_bytes = config.pot_log_max_bytes;
  pot_options.restart_min = config.pot_restart_min;
  pot_options.restart_max = config.pot_restart_max;
  pot_options.stable_after = config.pot_stable_after;
  pot_options.stop_grace = config.pot_stop_grace;
  pot_options.potstore_file = config.potstore.empty() ? default_potstore_file() : config.potstore;
  pot_options.install.honeycomb_exe = host::honeycomb_executable();  // not honeycomb-node: pots run `service run`
  pot_options.install.pots_dir = config.pots_dir();
  pot_options.declared = config.pots;
  pot_options.sandbox = config.pot_sandbox;
  if (!config.config_file.empty()) {
    pot_options.sandbox.conceal.push_back(config.config_file);
  }
  pot_options.install.iamroot = ::geteuid() == 0;  // the node runs as root only with --iamroot
  pots = std::make_unique<PotManager>(pot_io, pot_options, [&link](protocol::Message message) {
    if (link) {
      link->send(std::move(message));
    }
  });
  if (!config.standalone()) {
    link = std::make_unique<CoreLink>(link_io, config, *node_id, *spool, gate, port.port(), pots.get());
  }
  if (auto potstore_error = pots->start(); !potstore_error.empty()) {
    log->warn("no potstore catalog ({}): installed pots run; InstallPot reads it again each time", potstore_error);
  }
  const auto stats0 = spool->stats();
  log->info("node {} started: event port {}:{}, core {}, spool {} ({} events pending, fsync {})", *node_id,
            config.event_listen.address, port.port(), core_addresses_text(config.cores), config.spool_dir().string(),
            stats0.pending_events, to_string(config.fsync));
  if (link) {
    link->start();
  }
  if (outputs) {
    outputs->start();
  }

  // Statistics for `honeycomb node status`, tests and benchmarks, every
  // stats_interval when they changed.
  // The same timer releases the start-up code (common/resident_code.hpp) a
  // few seconds after start and after each registration with a core
  // (enrolment and the TLS handshake run once per connection).
  asio::steady_timer stats_timer(event_io);
  std::string last_stats;
  resident_code::ReleasePolicy code_release(std::chrono::seconds(3), std::chrono::steady_clock::now());
  std::function<void()> schedule_stats = [&]() {
    stats_timer.expires_after(config.stats_interval);
    stats_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      if (code_release.due(link ? link->stats().registrations.load() : 0, std::chrono::steady_clock::now())) {
        if (auto released = resident_code::release_startup_code(); !released.error.empty()) {
          log->debug("start-up code not released: {}", released.error);
        }
      }
      auto text = stats_json(*node_id, port.port(), port.stats(), *spool, link.get(), pots.get(), outputs.get());
      if (text != last_stats) {
        write_stats(config, text);
        last_stats = std::move(text);
      }
      schedule_stats();
    });
  };
  write_stats(config, stats_json(*node_id, port.port(), port.stats(), *spool, link.get(), pots.get(), outputs.get()));
  schedule_stats();

  asio::signal_set signals(event_io, SIGINT, SIGTERM);
  asio::steady_timer shutdown_timer(event_io);
  asio::steady_timer link_deadline(link_io);
  auto deadline = std::chrono::steady_clock::now();
  // Connections append what they read before closing; a deadline bounds it.
  std::function<void()> wait_connections = [&]() {
    if (port.stats().connections_open.load() == 0 || std::chrono::steady_clock::now() > deadline) {
      event_io.stop();
      return;
    }
    shutdown_timer.expires_after(std::chrono::milliseconds(10));
    shutdown_timer.async_wait([&](const boost::system::error_code&) { wait_connections(); });
  };
  std::function<void()> stop_rest;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log->info("node stopping ({})", signal == SIGINT ? "SIGINT" : "SIGTERM");
    // The pots first, while the event port still takes what they send as
    // they stop; then the port and the link.
    pots->stop([&]() { asio::post(event_io, [&]() { stop_rest(); }); });
  });
  stop_rest = [&]() {
    pot_io.stop();
    port.stop();
    stats_timer.cancel();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    wait_connections();
    if (link) {
      // A bounded time to send NodeDrop, then the link's loop stops anyway.
      asio::post(link_io, [&]() {
        link_deadline.expires_after(std::chrono::seconds(3));
        link_deadline.async_wait([&](const boost::system::error_code& e) {
          if (!e) {
            link_io.stop();
          }
        });
      });
      link->stop([&link_io]() { link_io.stop(); });
    } else {
      link_io.stop();
    }
  };

  if (on_started) {
    on_started(NodeRunInfo{*node_id, port.port()});
  }
  std::thread link_thread([&link_io]() {
    auto guard = asio::make_work_guard(link_io);
    link_io.run();
  });
  std::thread pot_thread([&pot_io]() {
    auto guard = asio::make_work_guard(pot_io);
    pot_io.run();
  });
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.io_threads; ++i) {
    threads.emplace_back([&event_io]() { event_io.run(); });
  }
  event_io.run();
  for (auto& t : threads) {
    t.join();
  }
  link_thread.join();
  pot_thread.join();
  if (outputs) {
    outputs->stop();  // after the send in progress; what is left is delivered at the next start
  }
  spool->sync();
  write_stats(config, stats_json(*node_id, port.port(), port.stats(), *spool, link.get(), pots.get(), outputs.get()));
  const auto& st = port.stats();
  log->info("node stopped: {} events read, {} malformed, {} oversized; {} events pending in the spool",
            st.events.load(), st.malformed.load(), st.oversized.load(), spool->stats().pending_events);
  return 0;
}

int print_status(const NodeConfig& config) {
  std::ifstream in(config.stats_file());
  if (!in) {
    std::cerr << "Error: no statistics in " << config.stats_file().string()
              << " (has this node run? see --data-dir / --config)\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(text.str(), ec);
  if (ec || !v.is_object()) {
    std::cerr << "Error: " << config.stats_file().string() << " is not valid JSON\n";
    return 1;
  }
  std::cout << boost::json::serialize(v) << "\n";
  return 0;
}

int print_pots(const NodeConfig& config) {
  std::error_code ec;
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(config.pots_dir(), ec)) {
    if (entry.is_directory()) {
      folders.push_back(entry.path());
    }
  }
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) {
    std::cout << "No pots installed in " << config.pots_dir().string()
              << " (InstallPot from the core, or pots: in node.yml; `honeycomb node pots --catalog` lists what can "
                 "be installed)\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:<20} {:<15} {}\n", "POT", "TYPE", "STATE", "SOURCE");
  for (const auto& folder : folders) {
    const auto text = host::read_text_file(folder / "pot.json");
    auto parsed = text ? pot_spec_from_json(*text) : std::variant<PotSpec, std::string>(std::string("no pot.json"));
    if (auto* error = std::get_if<std::string>(&parsed)) {
      std::cout << fmt::format("{:<24} {}\n", folder.filename().string(), "unreadable: " + *error);
      continue;
    }
    const auto& spec = std::get<PotSpec>(parsed);
    auto state = host::read_text_file(folder / "state").value_or("stopped");
    state = state.substr(0, state.find('\n'));
    std::cout << fmt::format("{:<24} {:<20} {:<15} {}\n", spec.pot_id, spec.honeypot_type, state, spec.source);
  }
  return 0;
}

int print_catalog(const NodeConfig& config) {
  const auto file = config.potstore.empty() ? default_potstore_file() : config.potstore;
  auto loaded = Potstore::load(file);
  if (auto* error = std::get_if<std::string>(&loaded)) {
    std::cerr << "Error: " << *error << "\n";
    return 1;
  }
  const auto& store = std::get<Potstore>(loaded);
  std::cout << "Potstore " << file.string() << "\n";
  for (const auto& entry : store.entries()) {
    std::vector<std::string> keys;
    keys.reserve(entry.config.size());
    for (const auto& key : entry.config) {
      keys.push_back(key.key);
    }
    std::vector<std::string> ports;
    ports.reserve(entry.default_ports.size());
    for (const auto port : entry.default_ports) {
      ports.push_back(std::to_string(port));
    }
    std::cout << fmt::format("\n{} ({}, {})\n  {}\n  ports: {}  config: {}\n", entry.id,
                             entry.kind == CatalogEntry::Kind::honeycomb_service ? "honeycomb service" : "external",
                             entry.version, entry.description,
                             ports.empty() ? "-" : fmt::format("{}", fmt::join(ports, ", ")),
                             keys.empty() ? "-" : fmt::format("{}", fmt::join(keys, ", ")));
  }
  return 0;
}

}  // namespace honeycomb::node
