// The core's REST API on hostile requests: bytes parsed by Beast's
// request_parser with the API server's limits (pipelined requests on one
// connection), and each request handled by api::handle (auth, routing, query
// parameters, filters, cursors, JSON command bodies, export, the
// dashboard's static files with their conditional and HEAD requests) against a real
// SQLite storage in a temporary folder holding a few events, a registry with
// a connected node (which answers every command at once) and an offline one.
// Also the per-client rate limiter, with fuzzed clients and clock steps.
//
// Input: the first byte chooses the shape. Even: the rest is raw HTTP (the
// seeds carry "Authorization: Bearer hc_fuzz"). Odd: METHOD \0 TARGET \0
// BODY, sent with the valid token (bit 1 clear) or with the next piece as
// the Authorization value (bit 1 set). Bits 2-7 size the reads.
//
// Nothing may crash or leak; every application/json answer must be valid
// JSON (UTF-8 included) with its status inside when it is an error, and a
// 4xx rather than a 500 (a 500 is an unexpected exception or a storage
// error: a bug for any input); an export must run to its end; a command
// the API sends a node must be a valid Protocol v2 NodeCommand.
// REST_FUZZ_DEBUG=1 prints every reply (status and body) when reproducing
// an input.
#include "core/api/dashboard.hpp"
#include "core/api/rate_limiter.hpp"
#include "core/api/routes.hpp"
#include "core/api/state.hpp"
#include "core/auth.hpp"
#include "core/command_router.hpp"
#include "core/metrics.hpp"
#include "core/registry.hpp"
#include "memory_stream.hpp"
#include "protocol/codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace honeycomb;  // NOLINT(google-build-using-namespace)

constexpr protocol::NodeId kConnected = 16298147445003569694ULL;  // above 2^63
constexpr protocol::NodeId kOffline = 42;
constexpr std::string_view kToken = "hc_fuzz";
constexpr std::size_t kMaxRequestsPerInput = 16;

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

events::Event make_event(std::int64_t i) {
  events::Event e;
  e.received_us = now_us();
  e.event_us = 1'700'000'000'000'000 + i * 3'600'000'000;
  e.node_id = i % 3 == 0 ? kOffline : kConnected;
  e.pot_id = i % 2 == 0 ? "cowrie-01" : "web-01";
  e.pot_type = i % 2 == 0 ? "cowrie" : "http";
  e.event_type = i % 4 == 0 ? "cowrie.login.failed" : "http.request";
  e.event_id = "fuzz-" + std::to_string(i);
  e.src_ip = i % 5 == 0 ? "2001:db8::" + std::to_string(i) : "192.0.2." + std::to_string(i);
  e.src_port = 40000 + static_cast<std::int32_t>(i);
  e.dst_ip = "198.51.100.1";
  e.dst_port = 22;
  e.username = i % 3 == 0 ? "root" : "=cmd|' /C calc'!A0";
  // Valid UTF-8 only: the core stores what Boost.JSON parsed (validated).
  e.password = "p\xc3\xa4ss\",\\" + std::to_string(i);
  e.command = "uname -a; wget http://x/\r\n";
  e.session = "s" + std::to_string(i / 2);
  e.url = "/wp-login.php?x=%00";
  e.message = "line\nbreak";
  json::object raw{{"eventid", e.event_type}, {"src_ip", e.src_ip}, {"n", i}, {"text", "needle \xe2\x82\xac"}};
  e.raw_json = json::serialize(raw);
  return e;
}

/// Everything the API needs, built once per process (never destroyed: the
/// storage's threads run until exit).
struct World {
  std::filesystem::path dir;
  core::CoreConfig config;
  core::Metrics metrics;
  asio::io_context io{1};
  asio::thread_pool pool{1};
  std::unique_ptr<store::Storage> storage;
  std::unique_ptr<core::Registry> registry;
  std::unique_ptr<core::CommandRouter> router;
  std::unique_ptr<core::Auth> auth;
  std::shared_ptr<core::api::State> state;

  World() {
    char tmpl[] = "/tmp/honeycomb-rest-fuzz-XXXXXX";
    require(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    store::StorageOptions options;
    options.path = (dir / "events.db").string();
    std::string error;
    storage = store::open_sqlite(options, error);
    require(storage != nullptr);
    std::vector<events::Event> batch;
    for (std::int64_t i = 0; i < 40; ++i) {
      batch.push_back(make_event(i));
    }
    require(storage->append(batch));
    storage->flush();
    storage->add_token("fuzz", core::Auth::hash(kToken));

    registry = std::make_unique<core::Registry>(*storage, std::chrono::seconds(30));
    router = std::make_unique<core::CommandRouter>(metrics);
    auth = std::make_unique<core::Auth>(*storage);
    for (const auto id : {kConnected, kOffline}) {
      protocol::NodeRegistration reg;
      reg.node_id = id;
      reg.node_name = id == kOffline ? "offline-\"node\"" : "sensor-1";
      reg.address = "192.0.2.10";
      reg.port = 9100;
      const auto session = registry->on_registered(reg, now_us());
      registry->on_status(id, protocol::NodeStatus::running, now_us());
      protocol::PotStatusUpdate pot;
      pot.node_id = id;
      pot.pot_id = "cowrie-01";
      pot.pot_type = "cowrie";
      pot.status = protocol::PotStatus::running;
      pot.message = "up \x01";
      registry->on_pot_status(pot, now_us());
      if (id == kOffline) {
        registry->on_disconnected(id, session, false, now_us());
      }
    }
    router->attach(kConnected, [this](std::string envelope) { answer(std::move(envelope)); });

    config.api_rate_per_second = 0;
    config.api_max_body_bytes = 8192;
    config.command_timeout = std::chrono::seconds(5);
    // The dashboard's files, served without a token; a .gz sibling too.
    auto dashboard = std::make_shared<const core::api::Dashboard>(core::api::Dashboard::from_files({
        {"index.html", "<!doctype html><script type=\"module\" src=\"/assets/app-1a2b.js\"></script>"},
        {"favicon.svg", "<svg/>"},
        {"assets/app-1a2b.js", "console.log(1)"},
        {"assets/app-1a2b.js.gz", "gzip bytes"},
    }));
    state = std::make_shared<core::api::State>(
        core::ApiContext{config, *registry, *storage, *router, *auth, metrics, pool, std::move(dashboard)});
  }

  /// The connected node: every command the API sends must be a valid
  /// NodeCommand for it; answered at once (called under the router's lock,
  /// so the answer is posted).
  void answer(std::string envelope) {
    boost::system::error_code ec;
    const auto value = json::parse(envelope, ec);
    require(!ec);
    auto decoded = protocol::decode(value);
    const auto* ok = std::get_if<protocol::Decoded>(&decoded);
    require(ok != nullptr);
    const auto* command = std::get_if<protocol::NodeCommand>(&ok->message);
    require(command != nullptr && command->node_id == kConnected);
    protocol::Message reply = protocol::NodeEvent{protocol::NodeEvent::Kind::error, "fuzz: refused"};
    if (command->command.kind == protocol::Command::Kind::get_installed_pots) {
      reply = protocol::NodeStatusUpdate{kConnected, protocol::NodeStatus::running};
    }
    asio::post(io, [this, reply = std::move(reply)] { router->on_reply(kConnected, reply); });
  }
};

World* world = nullptr;  // NOLINT

asio::awaitable<void> exchange(std::shared_ptr<core::api::State> state, core::api::Request request, std::string client,
                               core::api::Reply& out) {
  out = co_await core::api::handle(std::move(state), std::move(request), std::move(client));
  if (out.exporter) {
    for (;;) {
      const auto block = co_await out.exporter->next();
      if (block.empty()) {
        break;
      }
    }
  }
}

void check_reply(const core::api::Reply& reply) {
  if (std::getenv("REST_FUZZ_DEBUG") != nullptr) {
    std::fprintf(stderr, "%u %s\n", static_cast<unsigned>(reply.status), reply.body.c_str());
  }
  require(reply.status != http::status::internal_server_error);
  if (reply.shared_body) {  // a dashboard file: found, with its security headers
    require(reply.status == http::status::ok && !reply.named_headers.empty());
  }
  if (reply.exporter) {
    return;
  }
  if (reply.content_type == "application/json") {
    boost::system::error_code ec;
    const auto value = json::parse(reply.body, ec);
    require(!ec && value.is_object());
    if (static_cast<unsigned>(reply.status) >= 400) {
      const auto* status = value.as_object().if_contains("status");
      require(status != nullptr && status->is_number() &&
              status->to_number<unsigned>() == static_cast<unsigned>(reply.status));
    }
  }
}

void handle(core::api::Request request) {
  core::api::Reply reply;
  bool done = false;
  asio::co_spawn(world->io, exchange(world->state, std::move(request), "192.0.2.77", reply),
                 [&done](const std::exception_ptr& e) {
                   require(!e);
                   done = true;
                 });
  world->io.restart();
  world->io.run();
  require(done);
  check_reply(reply);
}

/// One connection's bytes: requests parsed as the API server does, each
/// handled, until the stream ends, a parse fails or keep-alive stops.
void serve(std::string_view bytes, std::size_t chunk) {
  fuzz::MemoryStream stream(bytes, chunk);
  boost::beast::flat_buffer buffer;
  for (std::size_t served = 0; served < kMaxRequestsPerInput; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(world->state->limits.header_bytes));
    parser.body_limit(world->config.api_max_body_bytes);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) {
      return;  // 400/413/431 or the end of the connection
    }
    core::api::Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    handle(std::move(request));
    if (!keep_alive) {
      return;
    }
  }
}

std::string_view take(std::string_view& input) {
  const auto end = input.find('\0');
  const auto piece = input.substr(0, end);
  input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
  return piece;
}

/// Token buckets: clients and clock steps from the input; the map stays
/// bounded and every refusal names a wait of at least a second.
void rate_limit(std::string_view input) {
  using Clock = std::chrono::steady_clock;
  core::api::RateLimiter limiter(1 + static_cast<std::uint8_t>(input.empty() ? 0 : input[0]) % 8, 4);
  auto now = Clock::time_point{} + std::chrono::hours(1);
  for (std::size_t i = 0; i + 1 < input.size() && i < 512; i += 2) {
    now += std::chrono::milliseconds(static_cast<std::uint8_t>(input[i]) * 7);
    const std::string client(1, static_cast<char>(input[i + 1] % 16));
    const auto wait = limiter.acquire(client, now);
    require(wait <= 3600);
    require(limiter.clients() <= 4);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  world = new World();  // NOLINT(cppcoreguidelines-owning-memory): lives until exit
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(world->dir, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const unsigned mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT
  const std::size_t chunk = 1 + ((mode >> 2) * 97) % 4096;
  if ((mode & 1U) == 0) {
    serve(input, chunk);
  } else {
    const auto method = take(input);
    const auto target = take(input);
    std::string authorization = "Bearer " + std::string(kToken);
    if ((mode & 2U) != 0) {
      authorization = std::string(take(input));
    }
    std::string text;
    text.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: core\r\n");
    text.append("Authorization: ").append(authorization).append("\r\n");
    text.append("Content-Type: application/json\r\nConnection: close\r\n");
    text.append("Content-Length: ").append(std::to_string(input.size())).append("\r\n\r\n").append(input);
    serve(text, chunk);
  }
  rate_limit(input);
  return 0;
}
