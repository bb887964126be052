// What every API connection and handler shares: the core's parts
// (ApiContext), the rate limiter and the API's own counters. Held by
// shared_ptr so a connection still running at shutdown keeps it alive.
#pragma once

#include "core/api/api_server.hpp"
#include "core/api/rate_limiter.hpp"

#include <boost/beast/http/status.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace honeycomb::core::api {

/// Named bounds of the API (docs/API.md "Limits").
struct Limits {
  std::size_t header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{30};
  std::chrono::seconds tls_handshake_timeout{10};
  /// Events per storage call while exporting: memory per export is about
  /// this many events.
  std::size_t export_page = 200;
  /// An events query with free text (`q`) scans for at most this long, then
  /// answers the matches found so far with `"partial":true` and a cursor
  /// that resumes the scan: no index serves free text, and a rare word on a
  /// large store would otherwise hold a database thread for seconds.
  std::int64_t text_scan_ms = 30;
  /// Connections over api_max_connections get a 503 unless this many more are
  /// already being refused; then they are closed at once.
  std::size_t refusing_connections = 64;
  std::chrono::milliseconds max_command_timeout{300'000};
  std::int64_t min_bucket_seconds = 1;
  std::size_t max_buckets = 10'000;  ///< (until - since) / bucket, when both given
  std::size_t max_top = 1'000;
  std::size_t max_audit_page = 1'000;  ///< GET /api/v1/audit?limit=
};

struct State {
  explicit State(ApiContext c) : context(c), rate_limiter(c.config.api_rate_per_second) {}

  ApiContext context;
  Limits limits;
  RateLimiter rate_limiter;
  std::shared_ptr<spdlog::logger> log;

  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> rate_limited{0};
  std::atomic<std::uint64_t> refusing{0};  ///< connections being answered 503 now
  std::atomic<std::uint16_t> ws_port{0};   ///< the WebSocket server's bound port; 0: ws_listen's

  /// Open connections, each with a function that closes it (from any
  /// thread: it posts to the connection's strand). stop() calls them all.
  std::mutex sessions_mutex;
  std::uint64_t next_session = 0;
  std::map<std::uint64_t, std::function<void()>> sessions;
  bool stopping = false;
};

}  // namespace honeycomb::core::api
