// The JSON, CSV and Prometheus shapes of the REST API (docs/API.md). Pure
// functions of their inputs: no I/O, usable from any thread.
#pragma once

#include "core/registry.hpp"
#include "store/storage.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace honeycomb::core {
struct Metrics;
}

namespace honeycomb::core::api {

/// ISO 8601 UTC with microseconds; null for 0 (never seen).
boost::json::value time_json(std::int64_t us);

/// A honeypot of a node: pot_id, pot_type, status, message, last_seen.
boost::json::object pot_json(const store::PotRecord& pot);
/// A node with its honeypots.
boost::json::object node_json(const NodeView& node);
boost::json::object stats_json(const store::Stats& stats, std::int64_t bucket_seconds);

/// GET /api/v1/attackers/{ip}: `ip` as it is shown, `node_names` the
/// registry's names of the summary's nodes (a node missing there: null).
boost::json::object attacker_json(const std::string& ip, const store::AttackerSummary& summary,
                                  const std::map<std::uint64_t, std::string>& node_names);

/// `{"error":message,"status":status}`.
std::string error_body(unsigned status, std::string_view message);

// ---- export ----
void append_csv_header(std::string& out);
/// One CSV line (RFC 4180 quoting, CRLF). Text cells that a spreadsheet
/// would run as a formula (= + - @ tab CR) get a leading apostrophe.
void append_csv_row(std::string& out, const store::StoredEvent& event);
/// One JSON line: the event as core/event_json.hpp writes it (shared with
/// the WebSocket stream).
void append_jsonl_row(std::string& out, const store::StoredEvent& event);
/// A CSV cell: quoted when needed, formula-neutralised when `text`.
void append_csv_cell(std::string& out, std::string_view cell, bool text);

// ---- metrics ----
struct ApiGauges {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_refused_total = 0;
  std::uint64_t rate_limited_total = 0;
  std::uint64_t nodes_connected = 0;
  std::uint64_t nodes_known = 0;
};
/// Prometheus text exposition format 0.0.4.
std::string metrics_text(const Metrics& metrics, const store::Counters& counters, const ApiGauges& gauges);

}  // namespace honeycomb::core::api
