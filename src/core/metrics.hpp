// Counters the core exposes at /metrics (Prometheus text). Atomics, updated
// from any thread without locks.
#pragma once

#include <atomic>
#include <cstdint>

namespace honeycomb::core {

struct Metrics {
  std::atomic<std::uint64_t> node_connections_total{0};
  std::atomic<std::uint64_t> node_messages_total{0};
  std::atomic<std::uint64_t> node_malformed_total{0};      ///< envelopes that failed framing or decoding
  std::atomic<std::uint64_t> node_disconnects_garbage{0};  ///< peers dropped for repeated garbage
  std::atomic<std::uint64_t> node_refused_total{0};        ///< registrations refused (certificate, TOTP)
  std::atomic<std::uint64_t> events_received_total{0};     ///< PotEvents decoded
  std::atomic<std::uint64_t> commands_sent_total{0};
  std::atomic<std::uint64_t> commands_timed_out_total{0};
  std::atomic<std::uint64_t> api_requests_total{0};
  std::atomic<std::uint64_t> api_rejected_total{0};  ///< auth failures, rate limit, bad requests
  std::atomic<std::uint64_t> ws_clients{0};
  std::atomic<std::uint64_t> ws_messages_dropped_total{0};
};

}  // namespace honeycomb::core
