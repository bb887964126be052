#include "core/core.hpp"

#include "common/log.hpp"
#include "core/api/api_server.hpp"
#include "core/auth.hpp"
#include "core/command_router.hpp"
#include "core/metrics.hpp"
#include "core/node_server.hpp"
#include "core/registry.hpp"
#include "core/stream_hub.hpp"
#include "core/ws/ws_server.hpp"
#include "events/normalize.hpp"
#include "store/storage.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <iostream>
#include <thread>

namespace honeycomb::core {

namespace asio = boost::asio;

namespace {

/// One TLS setup for the three ports; the node port may also require
/// client certificates (client_ca_file).
std::shared_ptr<asio::ssl::context> make_tls(const TlsConfig& tls, bool verify_clients, std::string& error) {
  if (!tls.enabled()) {
    return nullptr;
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                   ec);
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    error = fmt::format("tls.cert_file {}: {}", tls.cert_file, ec.message());
    return nullptr;
  }
  ctx->use_private_key_file(tls.key_file.empty() ? tls.cert_file : tls.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    error = fmt::format("tls.key_file {}: {}", tls.key_file, ec.message());
    return nullptr;
  }
  if (verify_clients && !tls.client_ca_file.empty()) {
    ctx->load_verify_file(tls.client_ca_file, ec);
    if (ec) {
      error = fmt::format("tls.client_ca_file {}: {}", tls.client_ca_file, ec.message());
      return nullptr;
    }
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

std::unique_ptr<store::Storage> open_storage(const CoreConfig& config, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  std::filesystem::permissions(config.data_dir, std::filesystem::perms::owner_all, ec);
  auto options = config.storage;
  options.path = config.database_path().string();
  return store::open_sqlite(options, error);
}

}  // namespace

int run_core(const CoreConfig& config, const std::function<void(const RunInfo&)>& on_started) {
  auto log = log::get("core");
  std::string error;
  auto storage = open_storage(config, error);
  if (!storage) {
    std::cerr << "Error: cannot open the database " << config.database_path().string() << ": " << error << "\n";
    return 1;
  }
  auto node_tls = make_tls(config.tls, true, error);
  auto web_tls = node_tls ? make_tls(config.tls, false, error) : nullptr;
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }

  Metrics metrics;
  Auth auth(*storage);
  RunInfo info;
  info.initial_token = auth.ensure_initial(config.token_file());

  // Blocking database work (queries, registry writes, token checks) runs
  // here, never on the I/O threads.
  asio::thread_pool db_pool(2);
  Registry registry(*storage, config.heartbeat);
  registry.load();
  registry.set_persist_scheduler([&]() { asio::post(db_pool, [&]() { registry.persist_dirty(); }); });
  CommandRouter router(metrics);
  StreamHub hub;

  asio::io_context io(static_cast<int>(config.io_threads));
  NodeServer nodes(io, NodeServerContext{config, registry, *storage, router, hub, metrics}, node_tls);
  ApiServer api(io, ApiContext{config, registry, *storage, router, auth, metrics, db_pool}, web_tls);
  WsServer ws(io, WsContext{config, hub, auth, metrics, db_pool}, web_tls);
  error = nodes.start();
  if (error.empty()) {
    error = api.start();
  }
  if (error.empty()) {
    error = ws.start();
  }
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    nodes.stop();
    api.stop();
    ws.stop();
    return 1;
  }
  info.node_port = nodes.port();
  info.api_port = api.port();
  info.ws_port = ws.port();
  const char* scheme = web_tls ? "https" : "http";
  log->info("core started: nodes on {}:{}{}, API on {}://{}:{}, WebSocket on {}://{}:{}, database {}",
            config.node_listen.address, info.node_port, node_tls ? " (TLS)" : "", scheme, config.api_listen.address,
            info.api_port, web_tls ? "wss" : "ws", config.ws_listen.address, info.ws_port,
            config.database_path().string());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer persist_timer(io);
  asio::steady_timer shutdown_timer(io);
  const auto shutdown_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
  // Node sessions finish their current read (handing its events to
  // storage) and WebSocket clients get their going-away close frame before
  // the loop stops; a deadline bounds the wait.
  std::function<void()> wait_sessions = [&]() {
    if ((nodes.sessions() == 0 && ws.connections() == 0) || std::chrono::steady_clock::now() > *shutdown_deadline) {
      io.stop();
      return;
    }
    shutdown_timer.expires_after(std::chrono::milliseconds(20));
    shutdown_timer.async_wait([&](const boost::system::error_code&) { wait_sessions(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log->info("core stopping ({})", signal == SIGINT ? "SIGINT" : "SIGTERM");
    nodes.stop();
    api.stop();
    ws.stop();
    persist_timer.cancel();
    *shutdown_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    wait_sessions();
  });

  // Last-seen times are persisted in the background every few seconds.
  // When no event arrived since the last tick, memory the core can rebuild
  // goes back to the system: SQLite page caches, and the heap pages freed
  // by a burst (a flood of events, thousands of nodes gone) that glibc
  // would otherwise keep.
  // The first tick comes after 1 s: what start-up used (schema, migrations)
  // is given back soon.
  std::uint64_t events_at_last_tick = 0;
  bool first_tick = true;
  std::function<void()> schedule_persist = [&]() {
    persist_timer.expires_after(first_tick ? std::chrono::seconds(1) : std::chrono::seconds(5));
    first_tick = false;
    persist_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        const auto events_now = metrics.events_received_total.load();
        const bool idle = events_now == events_at_last_tick;
        events_at_last_tick = events_now;
        asio::post(db_pool, [&registry, &storage, idle]() {
          registry.persist_dirty();
          if (idle) {
            storage->release_memory();  // also trims the heap: freed session memory goes back too
          }
        });
        schedule_persist();
      }
    });
  };
  schedule_persist();

  if (on_started) {
    on_started(info);
  }
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.io_threads; ++i) {
    threads.emplace_back([&io]() { io.run(); });
  }
  io.run();
  for (auto& t : threads) {
    t.join();
  }
  db_pool.join();
  registry.persist_dirty();
  storage->flush();
  const auto c = storage->counters();
  log->info("core stopped: {} events received, {} stored, {} duplicates, {} failed",
            metrics.events_received_total.load(), c.stored, c.duplicates, c.failed);
  return 0;
}

namespace {
std::unique_ptr<store::Storage> open_or_report(const CoreConfig& config) {
  std::string error;
  auto storage = open_storage(config, error);
  if (!storage) {
    std::cerr << "Error: cannot open the database " << config.database_path().string() << ": " << error << "\n";
  }
  return storage;
}
}  // namespace

int token_create(const CoreConfig& config, const std::string& name) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  Auth auth(*storage);
  const auto token = auth.create(name);
  std::cout << "[+] token '" << name << "' created; it is shown only this once:\n" << token << "\n";
  return 0;
}

int token_list(const CoreConfig& config) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  auto tokens = storage->tokens();
  if (tokens.empty()) {
    std::cout << "[*] no API tokens yet (the core creates one at its first start)\n";
    return 0;
  }
  std::cout << fmt::format("{:<6} {:<24} {:<27} {}\n", "ID", "NAME", "CREATED", "STATUS");
  for (const auto& t : tokens) {
    std::cout << fmt::format("{:<6} {:<24} {:<27} {}\n", t.id, t.name, events::format_time_us(t.created_us),
                             t.revoked ? "revoked" : "active");
  }
  return 0;
}

int token_revoke(const CoreConfig& config, const std::string& id_or_name) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  if (!storage->revoke_token(id_or_name)) {
    std::cerr << "Error: no active token with id or name '" << id_or_name << "' (see `honeycomb core token list`)\n";
    return 1;
  }
  std::cout << "[*] token '" << id_or_name << "' revoked\n";
  return 0;
}

}  // namespace honeycomb::core
