#include "core/core.hpp"

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/resident_code.hpp"
#include "common/thread_name.hpp"
#include "core/api/api_server.hpp"
#include "core/api/dashboard.hpp"
#include "core/auth.hpp"
#include "core/cluster.hpp"
#include "core/command_router.hpp"
#include "core/metrics.hpp"
#include "core/node_auth.hpp"
#include "core/node_server.hpp"
#include "core/registry.hpp"
#include "core/stream_hub.hpp"
#include "core/ws/ws_server.hpp"
#include "events/normalize.hpp"
#include "security/join_token.hpp"
#include "security/pki.hpp"
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
  if (config.database_is_postgres()) {
    options.postgres_uri = config.database;
  } else {
    options.path = config.database_path().string();
  }
  return store::open_storage(options, error);
}

}  // namespace

int run_core(const CoreConfig& config, const std::function<void(const RunInfo&)>& on_started) {
  auto log = log::get("core");
  std::string error;
  auto storage = open_storage(config, error);
  if (!storage) {
    std::cerr << "Error: cannot open the database " << config.database_label() << ": " << error << "\n";
    return 1;
  }
  // Blocking database work (queries, registry writes, token checks,
  // enrollment) runs here, never on the I/O threads.
  asio::thread_pool db_pool(2);
  NodeAuthority node_auth(config, *storage, db_pool);
  error = node_auth.start();
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }
  // With node certificates the node port runs on the core's own CA; the
  // `tls` section then serves the API and WebSocket ports only.
  auto node_tls = node_auth.certificates_required() ? node_auth.node_tls() : make_tls(config.tls, true, error);
  auto web_tls = config.tls.enabled() && error.empty() ? make_tls(config.tls, false, error) : nullptr;
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }

  Metrics metrics;
  Auth auth(*storage);
  RunInfo info;
  info.initial_token = auth.ensure_initial(config.token_file());
  info.ca_fingerprint = node_auth.ca_fingerprint();
  Registry registry(*storage, config.heartbeat);
  registry.load();
  registry.set_persist_scheduler([&]() { asio::post(db_pool, [&]() { registry.persist_dirty(); }); });
  CommandRouter router(metrics);
  StreamHub hub;

  // The web dashboard's files, read once now: serving them never reads the disk.
  auto dashboard = api::open_dashboard(config.dashboard_dir, *log, error);
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    return 1;
  }

  asio::io_context io(static_cast<int>(config.io_threads));
  // Several cores on one PostgreSQL database: before the servers start, so
  // that the first session's presence and any command find the hooks set.
  Cluster cluster(ClusterContext{io, db_pool, *storage, router, hub, registry, *log});
  cluster.start();
  NodeServer nodes(io, NodeServerContext{config, registry, *storage, router, hub, metrics, node_auth, db_pool},
                   node_tls);
  ApiServer api(io, ApiContext{config, registry, *storage, router, auth, metrics, db_pool, std::move(dashboard)},
                web_tls);
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
  api.set_ws_port(info.ws_port);  // before the I/O threads run: GET /api/v1/info tells the dashboard
  const char* scheme = web_tls ? "https" : "http";
  log->info("core started: nodes on {}:{}{}, API on {}://{}:{}, WebSocket on {}://{}:{}, database {}",
            config.node_listen.address, info.node_port, node_tls ? " (TLS)" : "", scheme, config.api_listen.address,
            info.api_port, web_tls ? "wss" : "ws", config.ws_listen.address, info.ws_port, config.database_label());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer persist_timer(io);
  asio::steady_timer revocation_timer(io);
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
    revocation_timer.cancel();
    cluster.stop();
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
  // The code of start-up, and of each burst of events, leaves resident
  // memory at the first idle tick, and after a burst at the second
  // (common/resident_code.hpp).
  std::uint64_t events_at_last_tick = 0;
  resident_code::ReleasePolicy code_release(std::chrono::seconds(1), std::chrono::steady_clock::now());
  bool first_tick = true;
  std::function<void()> schedule_persist = [&]() {
    persist_timer.expires_after(first_tick ? std::chrono::seconds(1) : std::chrono::seconds(5));
    first_tick = false;
    persist_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        const auto events_now = metrics.events_received_total.load();
        const bool idle = events_now == events_at_last_tick;
        events_at_last_tick = events_now;
        // Asked on idle ticks only, with the event count as the phase: a
        // burst moves it, so the release comes at the second idle tick after.
        const bool release_code = idle && code_release.due(events_now, std::chrono::steady_clock::now());
        asio::post(db_pool, [&registry, &storage, idle, release_code]() {
          registry.persist_dirty();
          if (idle) {
            storage->release_memory();  // also trims the heap: freed session memory goes back too
          }
          if (release_code) {
            resident_code::release_startup_code();
          }
        });
        schedule_persist();
      }
    });
  };
  schedule_persist();

  // Certificates revoked with the CLI (another process, same database) are
  // picked up within a second and their sessions closed.
  std::function<void()> schedule_revocation_check = [&]() {
    revocation_timer.expires_after(std::chrono::seconds(1));
    revocation_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      asio::post(db_pool, [&]() {
        if (node_auth.refresh()) {
          nodes.close_revoked();
        }
      });
      schedule_revocation_check();
    });
  };
  if (node_auth.certificates_required()) {
    schedule_revocation_check();
  }

  if (on_started) {
    on_started(info);
  }
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.io_threads; ++i) {
    threads.emplace_back([&io]() {
      name_this_thread("core-io");
      io.run();
    });
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
    std::cerr << "Error: cannot open the database " << config.database_label() << ": " << error << "\n";
  }
  return storage;
}
}  // namespace

std::unique_ptr<store::Storage> open_core_storage(const CoreConfig& config) {
  return open_or_report(config);
}

int token_create(const CoreConfig& config, const std::string& name, const std::string& scope_name) {
  const auto scope = scope_from(scope_name);
  if (!scope) {
    std::cerr << "Error: --scope: \"" << scope_name << "\" is not one of read, manage, admin\n";
    return 2;
  }
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  Auth auth(*storage);
  const auto token = auth.create(name, *scope);
  storage->audit(store::AuditRecord{0, 0, "cli", "api_token.create", fmt::format("{} ({})", name, scope_name), "ok"});
  std::cout << "[+] token '" << name << "' (scope " << scope_name << ") created; it is shown only this once:\n"
            << token << "\n";
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
  std::cout << fmt::format("{:<6} {:<24} {:<8} {:<27} {}\n", "ID", "NAME", "SCOPE", "CREATED", "STATUS");
  for (const auto& t : tokens) {
    std::cout << fmt::format("{:<6} {:<24} {:<8} {:<27} {}\n", t.id, t.name, t.scope,
                             events::format_time_us(t.created_us), t.revoked ? "revoked" : "active");
  }
  return 0;
}

int token_revoke(const CoreConfig& config, const std::string& id_or_name) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  const bool revoked = storage->revoke_token(id_or_name);
  storage->audit(store::AuditRecord{0, 0, "cli", "api_token.revoke", id_or_name, revoked ? "ok" : "no such token"});
  if (!revoked) {
    std::cerr << "Error: no active token with id or name '" << id_or_name << "' (see `honeycomb core token list`)\n";
    return 1;
  }
  std::cout << "[*] token '" << id_or_name << "' revoked\n";
  return 0;
}

std::variant<std::string, std::string> create_join_token(store::Storage& storage, const CoreConfig& config,
                                                         const std::string& node_name, std::chrono::seconds validity,
                                                         const std::string& actor) {
  using Result = std::variant<std::string, std::string>;
  if (node_name.empty() || node_name.size() > security::kMaxNodeNameBytes) {
    return Result(std::in_place_index<1>, "--node: a name of 1 to 64 bytes");
  }
  // The token pins the CA: the node checks it is talking to this core
  // before it sends anything. The CA is created here when the core has
  // not started yet (same folder, same files).
  auto ca = security::CertificateAuthority::load_or_create(config.pki_dir());
  if (auto* error = std::get_if<std::string>(&ca)) {
    return Result(std::in_place_index<1>, "the node CA in " + config.pki_dir().string() + ": " + *error);
  }
  const auto token = security::make_join_token(std::get<security::CertificateAuthority>(ca).fingerprint());
  const auto expires_us = unix_now_us() + std::chrono::duration_cast<std::chrono::microseconds>(validity).count();
  if (storage.add_join_token(node_name, security::hash_secret(token.secret), expires_us).id == 0) {
    return Result(std::in_place_index<1>, "the join token could not be stored");
  }
  storage.audit(store::AuditRecord{0, 0, actor, "join_token.create", node_name, "ok"});
  return Result(std::in_place_index<0>, security::format_join_token(token));
}

int join_token_create(const CoreConfig& config, const std::string& node_name, std::chrono::seconds validity) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  auto created = create_join_token(*storage, config, node_name, validity, "cli");
  if (created.index() == 1) {
    std::cerr << "Error: " << std::get<1>(created) << "\n";
    return 1;
  }
  const auto& text = std::get<0>(created);
  const auto expires_us = unix_now_us() + std::chrono::duration_cast<std::chrono::microseconds>(validity).count();
  std::cout << "[+] join token for node '" << node_name << "' (one use, valid until "
            << events::format_time_us(expires_us) << "; shown only this once):\n"
            << text << "\n"
            << "    on the node:  honeycomb node --core <this core's address>:" << config.node_listen.port << " --name "
            << node_name << " --join " << text << "\n"
            << "    (or join_token: in node.yml)\n";
  if (config.node_auth != NodeAuth::certificate) {
    std::cout << "[!] this core runs with node_auth: open; nodes need no token until it is set to certificate\n";
  }
  return 0;
}

int node_certificates_list(const CoreConfig& config) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  const auto certificates = storage->node_certificates();
  const auto tokens = storage->join_tokens();
  std::cout << fmt::format("{:<34} {:<20} {:<20} {:<27} {}\n", "CERTIFICATE", "NODE ID", "NAME", "EXPIRES", "STATUS");
  const auto now = unix_now_us();
  for (const auto& c : certificates) {
    const char* status = c.revoked_us != 0 ? "revoked" : (c.not_after_us < now ? "expired" : "valid");
    std::cout << fmt::format("{:<34} {:<20} {:<20} {:<27} {}\n", c.serial, c.node_id, c.node_name,
                             events::format_time_us(c.not_after_us), status);
  }
  std::cout << "\n" << fmt::format("{:<6} {:<20} {:<27} {}\n", "TOKEN", "FOR NODE", "EXPIRES", "STATUS");
  for (const auto& t : tokens) {
    const auto status = t.used_us != 0 ? fmt::format("used by node {}", t.used_by)
                                       : (t.expires_us < now ? std::string("expired") : std::string("unused"));
    std::cout << fmt::format("{:<6} {:<20} {:<27} {}\n", t.id, t.node_name, events::format_time_us(t.expires_us),
                             status);
  }
  return 0;
}

int node_revoke(const CoreConfig& config, const std::string& node_or_serial) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  const int revoked = storage->revoke_node_certificates(node_or_serial, unix_now_us());
  storage->audit(store::AuditRecord{0, 0, "cli", "node.revoke", node_or_serial,
                                    revoked > 0 ? "ok" : "no valid certificate matched"});
  if (revoked == 0) {
    std::cerr << "Error: no valid certificate of a node or with a serial '" << node_or_serial
              << "' (see `honeycomb core node certs`)\n";
    return 1;
  }
  std::cout << "[*] " << revoked << " certificate(s) of '" << node_or_serial
            << "' revoked; a running core closes their connections within a second\n";
  return 0;
}

int audit_list(const CoreConfig& config, std::size_t limit) {
  auto storage = open_or_report(config);
  if (!storage) {
    return 1;
  }
  std::cout << fmt::format("{:<27} {:<24} {:<20} {:<28} {}\n", "TIME", "WHO", "ACTION", "TARGET", "OUTCOME");
  for (const auto& r : storage->audit_log(limit)) {
    std::cout << fmt::format("{:<27} {:<24} {:<20} {:<28} {}\n", events::format_time_us(r.time_us), r.actor, r.action,
                             r.target, r.outcome);
  }
  return 0;
}

}  // namespace honeycomb::core
