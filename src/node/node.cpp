#include "node/node.hpp"

#include "common/log.hpp"
#include "node/core_link.hpp"
#include "node/event_port.hpp"
#include "spool/spool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace honeycomb::node {

namespace asio = boost::asio;

namespace {

std::string stats_json(std::uint64_t node_id, std::uint16_t port, const EventPortStats& e, const spool::Spool& spool,
                       const CoreLink* link) {
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
    out += fmt::format(
        R"(,"core":{{"connected":{},"event_ack":{},"registrations":{},"connect_failures":{},"events_sent":{},)"
        R"("commands":{}}})",
        l.connected.load(), l.core_acks.load(), l.registrations.load(), l.connect_failures.load(), l.events_sent.load(),
        l.commands.load());
  }
  out += "}\n";
  return out;
}

/// Replaced atomically (temporary file + rename): readers never see half.
void write_stats_file(const std::filesystem::path& file, const std::string& text) {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
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
  asio::io_context event_io(static_cast<int>(config.io_threads));
  asio::io_context link_io(1);
  std::unique_ptr<CoreLink> link;
  EventPort port(event_io, config, *spool, [&link]() {
    if (link) {
      link->wake();
    }
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
  if (!config.standalone()) {
    link = std::make_unique<CoreLink>(link_io, config, *node_id, *spool, port.port(), nullptr);
  }
  const auto stats0 = spool->stats();
  log->info(
      "node {} started: event port {}:{}, core {}, spool {} ({} events pending, fsync {})", *node_id,
      config.event_listen.address, port.port(),
      config.standalone() ? std::string("none (standalone)") : fmt::format("{}:{}", config.core_host, config.core_port),
      config.spool_dir().string(), stats0.pending_events, to_string(config.fsync));
  if (link) {
    link->start();
  }

  // Statistics for `honeycomb node status`, tests and benchmarks, every
  // stats_interval when they changed.
  asio::steady_timer stats_timer(event_io);
  std::string last_stats;
  std::function<void()> schedule_stats = [&]() {
    stats_timer.expires_after(config.stats_interval);
    stats_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      auto text = stats_json(*node_id, port.port(), port.stats(), *spool, link.get());
      if (text != last_stats) {
        write_stats_file(config.stats_file(), text);
        last_stats = std::move(text);
      }
      schedule_stats();
    });
  };
  write_stats_file(config.stats_file(), stats_json(*node_id, port.port(), port.stats(), *spool, link.get()));
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
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log->info("node stopping ({})", signal == SIGINT ? "SIGINT" : "SIGTERM");
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
  });

  if (on_started) {
    on_started(NodeRunInfo{*node_id, port.port()});
  }
  std::thread link_thread([&link_io]() {
    auto guard = asio::make_work_guard(link_io);
    link_io.run();
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
  spool->sync();
  write_stats_file(config.stats_file(), stats_json(*node_id, port.port(), port.stats(), *spool, link.get()));
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

}  // namespace honeycomb::node
