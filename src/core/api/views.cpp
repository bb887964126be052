#include "core/api/views.hpp"

#include "common/json_text.hpp"
#include "core/event_json.hpp"
#include "core/metrics.hpp"
#include "events/normalize.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace honeycomb::core::api {
namespace json = boost::json;

namespace {

json::value text_or_null(const std::string& s) {
  if (s.empty()) {
    return nullptr;
  }
  return json::value(s);
}

json::array counts_json(const std::vector<store::Count>& counts) {
  json::array out;
  out.reserve(counts.size());
  for (const auto& c : counts) {
    out.push_back(json::object{{"value", c.key}, {"count", c.count}});
  }
  return out;
}

}  // namespace

json::value time_json(std::int64_t us) {
  if (us == 0) {
    return nullptr;
  }
  return json::value(events::format_time_us(us));
}

json::object pot_json(const store::PotRecord& pot) {
  return json::object{
      {"pot_id", pot.pot_id},
      {"pot_type", text_or_null(pot.pot_type)},
      {"status", pot.status.empty() ? std::string("Unknown") : pot.status},
      {"message", text_or_null(pot.message)},
      {"last_seen", time_json(pot.updated_us)},
  };
}

json::object node_json(const NodeView& node) {
  const auto& r = node.record;
  json::array pots;
  pots.reserve(r.pots.size());
  for (const auto& pot : r.pots) {
    pots.push_back(pot_json(pot));
  }
  return json::object{
      {"node_id", r.node_id},  // uint64: exact in JSON, never a double
      {"name", r.name},
      {"address", r.address},
      {"port", r.port},
      {"node_type", r.node_type},
      {"status", node.state()},
      {"reported_status", r.status},
      {"connected", node.connected},
      // Several cores on one database: the other core holding the session.
      {"core_id", node.core_id != 0 ? json::value(std::to_string(node.core_id)) : json::value(nullptr)},
      {"connected_since", node.connected ? time_json(node.connected_since_us) : json::value(nullptr)},
      {"first_seen", time_json(r.first_seen_us)},
      {"last_seen", time_json(r.last_seen_us)},
      {"events_received", node.events_received},
      {"honeypots", std::move(pots)},
  };
}

json::object stats_json(const store::Stats& stats, std::int64_t bucket_seconds) {
  json::array buckets;
  buckets.reserve(stats.buckets.size());
  for (const auto& [start, count] : stats.buckets) {
    buckets.push_back(json::object{{"start", time_json(start * 1'000'000)}, {"start_unix", start}, {"count", count}});
  }
  return json::object{
      {"total", stats.total},
      {"bucket_seconds", bucket_seconds},
      {"buckets", std::move(buckets)},
      {"top_src_ips", counts_json(stats.top_src_ips)},
      {"top_usernames", counts_json(stats.top_usernames)},
      {"top_passwords", counts_json(stats.top_passwords)},
      {"top_commands", counts_json(stats.top_commands)},
      {"by_pot_type", counts_json(stats.by_pot_type)},
      {"by_event_type", counts_json(stats.by_event_type)},
  };
}

json::object attacker_json(const std::string& ip, const store::AttackerSummary& a,
                           const std::map<std::uint64_t, std::string>& node_names) {
  const bool seen = a.event_count > 0;
  json::array nodes;
  nodes.reserve(a.nodes.size());
  for (const auto& n : a.nodes) {
    const auto name = node_names.find(n.node_id);
    nodes.push_back(json::object{{"node_id", n.node_id},
                                 {"node_name", name != node_names.end() ? json::value(name->second) : nullptr},
                                 {"count", n.count}});
  }
  json::array pots;
  pots.reserve(a.pots.size());
  for (const auto& p : a.pots) {
    pots.push_back(json::object{{"pot_id", p.pot_id}, {"pot_type", p.pot_type}, {"count", p.count}});
  }
  json::array credentials;
  credentials.reserve(a.credentials.size());
  for (const auto& c : a.credentials) {
    credentials.push_back(
        json::object{{"username", c.username}, {"password", text_or_null(c.password)}, {"count", c.count}});
  }
  json::array sessions;
  sessions.reserve(a.sessions.size());
  for (const auto& s : a.sessions) {
    sessions.push_back(json::object{{"session", s.session},
                                    {"pot_id", s.pot_id},
                                    {"node_id", s.node_id},
                                    {"first", events::format_time_us(s.first_us)},
                                    {"last", events::format_time_us(s.last_us)},
                                    {"events", s.events}});
  }
  return json::object{
      {"src_ip", ip},
      {"event_count", a.event_count},
      {"summarised_events", a.summarised},
      {"first_seen", seen ? json::value(events::format_time_us(a.first_us)) : json::value(nullptr)},
      {"last_seen", seen ? json::value(events::format_time_us(a.last_us)) : json::value(nullptr)},
      {"nodes", std::move(nodes)},
      {"pots", std::move(pots)},
      {"event_types", counts_json(a.event_types)},
      {"credentials", std::move(credentials)},
      {"commands", counts_json(a.commands)},
      {"sessions", std::move(sessions)},
  };
}

std::string error_body(unsigned status, std::string_view message) {
  // The message may quote the request (a query parameter's name, percent-
  // decoded: any bytes); json_text makes bytes that are not UTF-8 U+FFFD,
  // where json::serialize would copy them into the JSON unchanged.
  std::string out = "{\"error\":";
  json_text::append_string(out, message);
  out += ",\"status\":";
  out += std::to_string(status);
  out += '}';
  return out;
}

void append_csv_cell(std::string& out, std::string_view cell, bool text) {
  // OWASP CSV injection: a leading = + - @ (or tab/CR, which some
  // spreadsheets skip before such a character) makes a formula.
  const bool neutralise = text && !cell.empty() &&
                          (cell.front() == '=' || cell.front() == '+' || cell.front() == '-' || cell.front() == '@' ||
                           cell.front() == '\t' || cell.front() == '\r');
  const bool quote = neutralise || cell.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!cell.empty() && (cell.front() == ' ' || cell.back() == ' '));
  if (!quote) {
    out.append(cell);
    return;
  }
  out += '"';
  if (neutralise) {
    out += '\'';
  }
  for (const char c : cell) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  out += '"';
}

namespace {
constexpr const char* kCsvColumns[] = {"id",       "time",       "received", "node_id",  "pot_id",
                                       "pot_type", "event_type", "src_ip",   "src_port", "dst_ip",
                                       "dst_port", "username",   "password", "command",  "session",
                                       "url",      "message",    "event_id", "raw"};

void append_number_cell(std::string& out, std::int64_t v, bool zero_is_empty) {
  if (v != 0 || !zero_is_empty) {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}
}  // namespace

void append_csv_header(std::string& out) {
  bool first = true;
  for (const char* column : kCsvColumns) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += column;
  }
  out += "\r\n";
}

void append_csv_row(std::string& out, const store::StoredEvent& stored) {
  const auto& e = stored.event;
  append_number_cell(out, stored.id, false);
  out += ',';
  out += e.event_us != 0 ? events::format_time_us(e.event_us) : std::string();
  out += ',';
  out += e.received_us != 0 ? events::format_time_us(e.received_us) : std::string();
  out += ',';
  fmt::format_to(std::back_inserter(out), "{}", e.node_id);
  for (const std::string* text : {&e.pot_id, &e.pot_type, &e.event_type, &e.src_ip}) {
    out += ',';
    append_csv_cell(out, *text, true);
  }
  out += ',';
  append_number_cell(out, e.src_port, true);
  out += ',';
  append_csv_cell(out, e.dst_ip, true);
  out += ',';
  append_number_cell(out, e.dst_port, true);
  for (const std::string* text :
       {&e.username, &e.password, &e.command, &e.session, &e.url, &e.message, &e.event_id, &e.raw_json}) {
    out += ',';
    append_csv_cell(out, *text, true);
  }
  out += "\r\n";
}

void append_jsonl_row(std::string& out, const store::StoredEvent& event) {
  append_event_json(out, event.event, event.id);
  out += '\n';
}

std::string metrics_text(const Metrics& m, const store::Counters& c, const ApiGauges& g) {
  std::string out;
  out.reserve(4096);
  auto emit = [&out](std::string_view name, std::string_view type, std::string_view help, auto value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  emit("honeycomb_nodes_connected", "gauge", "Nodes with an open session.", g.nodes_connected);
  emit("honeycomb_nodes_known", "gauge", "Nodes the registry knows (connected or not).", g.nodes_known);
  emit("honeycomb_node_connections_total", "counter", "Node connections accepted.", load(m.node_connections_total));
  emit("honeycomb_node_messages_total", "counter", "Protocol v2 messages received from nodes.",
       load(m.node_messages_total));
  emit("honeycomb_node_malformed_messages_total", "counter", "Node envelopes that failed framing or decoding.",
       load(m.node_malformed_total));
  emit("honeycomb_node_disconnects_garbage_total", "counter", "Node peers dropped for repeated garbage.",
       load(m.node_disconnects_garbage));
  emit("honeycomb_node_registrations_refused_total", "counter",
       "Node registrations refused (no or revoked certificate, wrong node id, wrong TOTP code).",
       load(m.node_refused_total));
  emit("honeycomb_events_received_total", "counter", "PotEvents decoded.", load(m.events_received_total));
  emit("honeycomb_events_appended_total", "counter", "Events accepted by the storage queue.", c.appended);
  emit("honeycomb_events_stored_total", "counter", "Events committed to storage.", c.stored);
  emit("honeycomb_events_duplicates_total", "counter", "Events whose event_id was already stored.", c.duplicates);
  emit("honeycomb_events_failed_total", "counter", "Events a storage commit failed for (dropped).", c.failed);
  emit("honeycomb_store_transactions_total", "counter",
       "Ingest transactions committed (each stores a group of batches).", c.transactions);
  emit("honeycomb_events_queued", "gauge", "Events waiting for the storage writer.", c.queued);
  emit("honeycomb_events_retention_deleted_total", "counter", "Events deleted by retention.", c.retention_deleted);
  emit("honeycomb_ingest_lag_seconds", "gauge", "Receipt to commit of the last batch's oldest event.",
       static_cast<double>(c.last_commit_lag_us) / 1e6);
  emit("honeycomb_commands_sent_total", "counter", "Commands sent to nodes.", load(m.commands_sent_total));
  emit("honeycomb_commands_timed_out_total", "counter", "Commands without an answer in time.",
       load(m.commands_timed_out_total));
  emit("honeycomb_api_requests_total", "counter", "REST API requests.", load(m.api_requests_total));
  emit("honeycomb_api_rejected_total", "counter", "REST API requests refused (auth, rate limit, bad request).",
       load(m.api_rejected_total));
  emit("honeycomb_api_rate_limited_total", "counter", "REST API requests answered 429.", g.rate_limited_total);
  emit("honeycomb_api_connections", "gauge", "Open REST API connections.", g.connections_open);
  emit("honeycomb_api_connections_refused_total", "counter", "REST API connections over the limit.",
       g.connections_refused_total);
  emit("honeycomb_ws_clients", "gauge", "WebSocket clients connected.", load(m.ws_clients));
  emit("honeycomb_ws_messages_dropped_total", "counter", "WebSocket messages a slow client missed.",
       load(m.ws_messages_dropped_total));
  return out;
}

}  // namespace honeycomb::core::api
