#include "core/api/routes.hpp"

#include "common/clock.hpp"
#include "core/api/blocking.hpp"
#include "core/api/dashboard.hpp"
#include "core/api/views.hpp"
#include "core/auth.hpp"
#include "core/command_router.hpp"
#include "core/event_json.hpp"
#include "core/metrics.hpp"
#include "core/registry.hpp"
#include "events/normalize.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

// The version GET /api/v1/info reports (CMake passes it).
#ifndef HONEYCOMB_VERSION
#define HONEYCOMB_VERSION "0.0.0"
#endif

// GCC 12 reports coroutine frames freed by the promise's sized operator
// delete as mismatched (a false positive, GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace honeycomb::core::api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

constexpr std::size_t kMaxParamBytes = 4096;  ///< any one query parameter value
constexpr std::int64_t kMaxBucketSeconds = 366LL * 24 * 3600;

/// The caller's input was wrong: becomes a 400 with this message.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Reply json_reply(const json::value& value, http::status status = http::status::ok) {
  Reply r;
  r.status = status;
  r.body = json::serialize(value);
  return r;
}

template <class T>
std::optional<T> parse_integer(std::string_view text) {
  T value{};
  if (text.empty() || text.front() == '+') {
    return std::nullopt;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

/// The query string: each parameter at most once, every one used (a typo
/// in a filter name must not silently widen a query).
class Params {
 public:
  explicit Params(const boost::urls::url_view& url) {
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (const auto& p : url.params(opts)) {
      if (p.value.size() > kMaxParamBytes) {
        throw BadRequest("parameter '" + p.key + "' is longer than " + std::to_string(kMaxParamBytes) + " bytes");
      }
      if (!values_.emplace(p.key, p.value).second) {
        throw BadRequest("parameter '" + p.key + "' is given more than once");
      }
    }
  }

  std::optional<std::string> take(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) {
      return std::nullopt;
    }
    std::string v = std::move(it->second);
    values_.erase(it);
    return v;
  }

  /// Call after every take(): refuses what is left.
  void finish() const {
    if (!values_.empty()) {
      throw BadRequest("unknown parameter '" + values_.begin()->first + "'");
    }
  }

  template <class T>
  std::optional<T> take_integer(const std::string& name, T min, T max) {
    auto text = take(name);
    if (!text) {
      return std::nullopt;
    }
    auto v = parse_integer<T>(*text);
    if (!v || *v < min || *v > max) {
      throw BadRequest(name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
  }

 private:
  std::map<std::string, std::string> values_;
};

void check_address(const std::string& src) {
  const auto slash = src.find('/');
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(src.substr(0, slash), ec);
  if (ec) {
    throw BadRequest("src must be an IP address or a CIDR block (10.0.0.0/8, 2001:db8::/32)");
  }
  if (slash != std::string::npos) {
    const int max = address.is_v4() ? 32 : 128;
    if (!parse_integer<int>(std::string_view(src).substr(slash + 1)) ||
        *parse_integer<int>(std::string_view(src).substr(slash + 1)) > max) {
      throw BadRequest("src: the CIDR prefix length must be from 0 to " + std::to_string(max));
    }
  }
}

std::optional<std::int64_t> take_time(Params& params, const std::string& name) {
  auto text = params.take(name);
  if (!text) {
    return std::nullopt;
  }
  auto us = events::parse_time_us(*text);
  if (!us) {
    throw BadRequest(name + " must be an ISO 8601 time (2024-01-15T10:30:00Z) or unix seconds");
  }
  return us;
}

store::EventFilter take_filter(Params& params) {
  store::EventFilter f;
  f.since_us = take_time(params, "since");
  f.until_us = take_time(params, "until");
  if (auto node = params.take("node")) {
    auto id = parse_integer<std::uint64_t>(*node);
    if (!id) {
      throw BadRequest("node must be a node id (an unsigned 64-bit decimal integer)");
    }
    f.node_id = *id;
  }
  f.pot_id = params.take("pot").value_or("");
  f.pot_type = params.take("pot_type").value_or("");
  f.event_type = params.take("event_type").value_or("");
  f.src = params.take("src").value_or("");
  if (!f.src.empty()) {
    check_address(f.src);
  }
  f.text = params.take("q").value_or("");
  return f;
}

/// Storage errors: the caller's (400), a query over its time budget (503:
/// narrow the filter or retry) or the database's (500).
Reply storage_error(const store::Error& error) {
  if (error.bad_request) {
    return error_reply(http::status::bad_request, error.message);
  }
  if (error.timed_out) {
    return error_reply(http::status::service_unavailable, "storage: " + error.message);
  }
  return error_reply(http::status::internal_server_error, "storage: " + error.message);
}

// ---- handlers ----

Reply get_nodes(State& state) {
  json::array nodes;
  for (const auto& node : state.context.registry.nodes(unix_now_us())) {
    nodes.push_back(node_json(node));
  }
  const auto count = nodes.size();
  return json_reply(json::object{{"nodes", std::move(nodes)}, {"count", count}});
}

Reply get_node(State& state, protocol::NodeId id) {
  auto node = state.context.registry.node(id, unix_now_us());
  if (!node) {
    return error_reply(http::status::not_found, "no node " + std::to_string(id));
  }
  return json_reply(node_json(*node));
}

Reply get_honeypots(State& state) {
  json::array pots;
  for (const auto& node : state.context.registry.nodes(unix_now_us())) {
    for (const auto& pot : node.record.pots) {
      json::object o = pot_json(pot);
      o["node_id"] = node.record.node_id;
      o["node_name"] = node.record.name;
      o["node_status"] = node.state();
      pots.push_back(std::move(o));
    }
  }
  const auto count = pots.size();
  return json_reply(json::object{{"honeypots", std::move(pots)}, {"count", count}});
}

Reply get_metrics(State& state) {
  const auto& c = state.context;
  ApiGauges g;
  g.connections_open = state.connections_open.load();
  g.connections_refused_total = state.connections_refused.load();
  g.rate_limited_total = state.rate_limited.load();
  g.nodes_connected = c.registry.connected_count();
  g.nodes_known = c.registry.nodes(unix_now_us()).size();
  Reply r;
  r.body = metrics_text(c.metrics, c.storage.counters(), g);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

asio::awaitable<Reply> get_events(std::shared_ptr<State> state, Params params) {
  store::EventQuery q;
  q.filter = take_filter(params);
  q.limit = params.take_integer<std::size_t>("limit", 1, 1000).value_or(100);
  q.cursor = params.take("cursor").value_or("");
  q.text_scan_ms = state->limits.text_scan_ms;
  params.finish();
  store::Storage* storage = &state->context.storage;
  // Built on the pool too: a page can hold 1000 large records.
  struct Out {
    std::string body;
    store::Error error;
    bool ok = false;
  };
  // Named, not a temporary in the co_await expression: GCC 12 destroys such
  // lambda temporaries wrongly (double free).
  auto call = [storage, q = std::move(q)] {
    Out o;
    auto page = storage->query(q);
    if (!page) {
      o.error = page.error;
      return o;
    }
    o.body = "{\"events\":[";
    bool first = true;
    for (const auto& e : page.value->events) {
      if (!first) {
        o.body += ',';
      }
      first = false;
      append_event_json(o.body, e.event, e.id);
    }
    o.body += "],\"next_cursor\":";
    o.body +=
        page.value->next_cursor.empty() ? std::string("null") : json::serialize(json::value(page.value->next_cursor));
    if (page.value->partial) {
      o.body += ",\"partial\":true";
    }
    o.body += '}';
    o.ok = true;
    return o;
  };
  Out out = co_await run_blocking(state->context.db_pool, std::move(call));
  if (!out.ok) {
    co_return storage_error(out.error);
  }
  Reply r;
  r.body = std::move(out.body);
  co_return r;
}

asio::awaitable<Reply> get_event(std::shared_ptr<State> state, std::string id_text) {
  auto id = parse_integer<std::int64_t>(id_text);
  if (!id || *id <= 0) {
    co_return error_reply(http::status::bad_request, "an event id is a positive integer");
  }
  store::Storage* storage = &state->context.storage;
  const std::int64_t wanted = *id;
  auto call = [storage, wanted] { return storage->get(wanted); };
  auto result = co_await run_blocking(state->context.db_pool, std::move(call));
  if (!result) {
    if (result.error.not_found) {
      co_return error_reply(http::status::not_found, "no event " + std::to_string(wanted));
    }
    co_return storage_error(result.error);
  }
  Reply r;
  append_event_json(r.body, result.value->event, result.value->id);
  co_return r;
}

asio::awaitable<Reply> get_stats(std::shared_ptr<State> state, Params params) {
  store::StatsQuery q;
  q.filter = take_filter(params);
  const auto& limits = state->limits;
  q.bucket_seconds =
      params.take_integer<std::int64_t>("bucket", limits.min_bucket_seconds, kMaxBucketSeconds).value_or(3600);
  q.top = params.take_integer<std::size_t>("top", 1, limits.max_top).value_or(10);
  params.finish();
  if (q.filter.since_us && q.filter.until_us) {
    const auto span_s = (*q.filter.until_us - *q.filter.since_us) / 1'000'000;
    if (span_s / q.bucket_seconds > static_cast<std::int64_t>(limits.max_buckets)) {
      co_return error_reply(http::status::bad_request, "more than " + std::to_string(limits.max_buckets) +
                                                           " buckets: choose a larger bucket or a shorter range");
    }
  }
  store::Storage* storage = &state->context.storage;
  auto call = [storage, q] { return storage->stats(q); };
  auto result = co_await run_blocking(state->context.db_pool, std::move(call));
  if (!result) {
    co_return storage_error(result.error);
  }
  co_return json_reply(stats_json(*result.value, q.bucket_seconds));
}

/// What the dashboard needs to know: where the stream is, what the token may do.
Reply get_info(State& state, const Grant& grant) {
  const auto& config = state.context.config;
  const std::uint16_t ws_port = state.ws_port.load() != 0 ? state.ws_port.load() : config.ws_listen.port;
  return json_reply(json::object{
      {"version", HONEYCOMB_VERSION},
      {"ws_port", ws_port},
      {"ws_path", "/api/v1/stream"},
      {"ws_tls", config.tls.enabled()},
      {"token", json::object{{"name", grant.name}, {"scope", to_string(grant.scope)}}},
  });
}

asio::awaitable<Reply> get_attacker(std::shared_ptr<State> state, std::string ip_text) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ip_text, ec);
  if (ec) {
    co_return error_reply(http::status::bad_request, "an attacker is an IP address (203.0.113.9, 2001:db8::1)");
  }
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());  // shown as the store keeps it
  }
  const std::string ip = address.to_string();
  store::Storage* storage = &state->context.storage;
  auto call = [storage, ip] { return storage->attacker_summary(ip); };
  auto result = co_await run_blocking(state->context.db_pool, std::move(call));
  if (!result) {
    co_return storage_error(result.error);
  }
  std::map<std::uint64_t, std::string> names;
  if (!result.value->nodes.empty()) {
    for (const auto& node : state->context.registry.nodes(unix_now_us())) {
      names.emplace(node.record.node_id, node.record.name);
    }
  }
  co_return json_reply(attacker_json(ip, *result.value, names));
}

Reply export_events(std::shared_ptr<State> state, Params params) {
  auto filter = take_filter(params);
  const auto format_text = params.take("format").value_or("jsonl");
  Exporter::Format format{};
  if (format_text == "jsonl" || format_text == "ndjson") {
    format = Exporter::Format::jsonl;
  } else if (format_text == "csv") {
    format = Exporter::Format::csv;
  } else {
    throw BadRequest("format must be jsonl or csv");
  }
  auto max_rows = params.take_integer<std::uint64_t>("limit", 1, std::numeric_limits<std::uint64_t>::max());
  params.finish();
  Reply r;
  r.exporter = std::make_shared<Exporter>(std::move(state), std::move(filter), format, max_rows);
  r.content_type = std::string(r.exporter->content_type());
  r.headers.emplace_back(http::field::content_disposition,
                         "attachment; filename=\"" + std::string(r.exporter->filename()) + "\"");
  return r;
}

// ---- commands ----

const json::value* member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::string required_string(const json::object& o, std::string_view key, std::string_view where) {
  const auto* v = member(o, key);
  if (v == nullptr || !v->is_string() || v->get_string().empty()) {
    throw BadRequest(std::string(where) + std::string(key) + " must be a non-empty string");
  }
  return std::string(v->get_string());
}

std::optional<std::string> optional_string(const json::object& o, std::string_view key, std::string_view where) {
  const auto* v = member(o, key);
  if (v == nullptr || v->is_null()) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    throw BadRequest(std::string(where) + std::string(key) + " must be a string");
  }
  return std::string(v->get_string());
}

void only_keys(const json::object& o, std::initializer_list<std::string_view> keys, std::string_view where) {
  for (const auto& kv : o) {
    bool known = false;
    for (auto k : keys) {
      known = known || kv.key() == k;
    }
    if (!known) {
      throw BadRequest("unknown field " + std::string(where) + std::string(kv.key()));
    }
  }
}

protocol::InstallPot parse_install(const json::value* v) {
  if (v == nullptr || !v->is_object()) {
    throw BadRequest("InstallPot needs an \"install\" object");
  }
  const auto& o = v->get_object();
  only_keys(o, {"pot_id", "honeypot_type", "git_url", "git_branch", "config", "auto_start"}, "install.");
  protocol::InstallPot install;
  install.pot_id = required_string(o, "pot_id", "install.");
  install.honeypot_type = required_string(o, "honeypot_type", "install.");
  install.git_url = optional_string(o, "git_url", "install.");
  install.git_branch = optional_string(o, "git_branch", "install.");
  if (const auto* config = member(o, "config"); config != nullptr && !config->is_null()) {
    if (!config->is_object()) {
      throw BadRequest("install.config must be an object of strings");
    }
    std::map<std::string, std::string> values;
    for (const auto& kv : config->get_object()) {
      if (!kv.value().is_string()) {
        throw BadRequest("install.config." + std::string(kv.key()) + " must be a string");
      }
      values.emplace(kv.key(), kv.value().get_string());
    }
    install.config = std::move(values);
  }
  if (const auto* auto_start = member(o, "auto_start"); auto_start != nullptr && !auto_start->is_null()) {
    if (!auto_start->is_bool()) {
      throw BadRequest("install.auto_start must be true or false");
    }
    install.auto_start = auto_start->get_bool();
  }
  return install;
}

struct ParsedCommand {
  protocol::Command command;
  std::chrono::milliseconds timeout{};
};

ParsedCommand parse_command(const State& state, const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    throw BadRequest("the body must be a JSON object such as {\"command\":\"StopPot\",\"pot_id\":\"p1\"}");
  }
  const auto& o = v.get_object();
  only_keys(o, {"command", "pot_id", "install", "timeout_ms"}, "");
  const auto name = required_string(o, "command", "");
  const auto kind = protocol::command_kind_from(name);
  if (!kind) {
    throw BadRequest("unknown command '" + name +
                     "' (Restart, UpdateConfig, InstallPot, DeployPot, StopPot, RestartPot, GetPotStatus, "
                     "GetPotInfo, GetPotLogs, GetPotMetrics, GetInstalledPots)");
  }
  ParsedCommand out;
  out.command.kind = *kind;
  if (*kind == protocol::Command::Kind::install_pot) {
    if (member(o, "pot_id") != nullptr) {
      throw BadRequest("InstallPot takes its pot_id inside \"install\"");
    }
    out.command.install = parse_install(member(o, "install"));
    out.command.pot_id = out.command.install->pot_id;
  } else if (protocol::command_takes_pot_id(*kind)) {
    out.command.pot_id = required_string(o, "pot_id", "");
    if (member(o, "install") != nullptr) {
      throw BadRequest(name + " takes no \"install\"");
    }
  } else if (member(o, "pot_id") != nullptr || member(o, "install") != nullptr) {
    throw BadRequest(name + " takes no pot_id or install");
  }
  out.timeout = state.context.config.command_timeout;
  if (const auto* t = member(o, "timeout_ms"); t != nullptr && !t->is_null()) {
    const auto max = state.limits.max_command_timeout.count();
    std::int64_t ms = 0;
    if (t->is_int64()) {
      ms = t->get_int64();
    } else if (t->is_uint64()) {
      ms = max + 1;
    } else {
      throw BadRequest("timeout_ms must be an integer");
    }
    if (ms < 1 || ms > max) {
      throw BadRequest("timeout_ms must be from 1 to " + std::to_string(max));
    }
    out.timeout = std::chrono::milliseconds(ms);
  }
  return out;
}

/// An audit record, written on the database pool (the request does not
/// wait for it).
void audit(State& state, const Grant& grant, std::string action, std::string target, std::string outcome) {
  store::AuditRecord record{0,
                            unix_now_us(),
                            grant.name.empty() ? std::string("api") : "api:" + grant.name,
                            std::move(action),
                            std::move(target),
                            std::move(outcome)};
  store::Storage* storage = &state.context.storage;
  asio::post(state.context.db_pool, [storage, record = std::move(record)]() { storage->audit(record); });
}

asio::awaitable<Reply> post_command(std::shared_ptr<State> state, protocol::NodeId id, std::string body,
                                    const Grant& grant) {
  auto parsed = parse_command(*state, body);
  const bool known = state->context.registry.node(id, unix_now_us()).has_value();
  const std::string name = protocol::to_string(parsed.command.kind);
  auto result = co_await state->context.commands.execute(id, parsed.command, known, parsed.timeout);
  using Outcome = CommandResult::Outcome;
  const char* outcome = "answered";
  http::status status = http::status::ok;
  switch (result.outcome) {
    case Outcome::answered:
      break;
    case Outcome::timeout:
      outcome = "timeout";
      status = http::status::gateway_timeout;
      break;
    case Outcome::unknown_node:
      outcome = "unknown_node";
      status = http::status::not_found;
      break;
    case Outcome::offline:
      outcome = "offline";
      status = http::status::conflict;
      break;
  }
  audit(*state, grant, "node.command",
        fmt::format("{} {}{}", id, name, parsed.command.pot_id.empty() ? "" : " ", parsed.command.pot_id), outcome);
  json::array replies(result.replies.begin(), result.replies.end());
  json::object o{{"outcome", outcome}, {"node_id", id}, {"command", name}, {"replies", std::move(replies)}};
  if (status != http::status::ok) {
    o["error"] = result.error.empty() ? std::string(outcome) : result.error;
    o["status"] = static_cast<unsigned>(status);
  }
  co_return json_reply(o, status);
}

// ---- tokens and the audit log (admin) ----

asio::awaitable<Reply> get_audit(std::shared_ptr<State> state, Params params) {
  const auto limit = params.take_integer<std::size_t>("limit", 1, state->limits.max_audit_page).value_or(100);
  const auto before =
      params.take_integer<std::int64_t>("before", 1, std::numeric_limits<std::int64_t>::max()).value_or(0);
  params.finish();
  store::Storage* storage = &state->context.storage;
  auto call = [storage, limit, before] { return storage->audit_log(limit, before); };
  auto records = co_await run_blocking(state->context.db_pool, std::move(call));
  json::array rows;
  for (const auto& r : records) {
    rows.push_back(json::object{{"id", r.id},
                                {"time", events::format_time_us(r.time_us)},
                                {"actor", r.actor},
                                {"action", r.action},
                                {"target", r.target},
                                {"outcome", r.outcome}});
  }
  json::object o{{"records", std::move(rows)}};
  o["next_before"] = records.size() == limit ? json::value(records.back().id) : json::value(nullptr);
  co_return json_reply(o);
}

asio::awaitable<Reply> get_tokens(std::shared_ptr<State> state) {
  store::Storage* storage = &state->context.storage;
  auto call = [storage] { return storage->tokens(); };
  auto tokens = co_await run_blocking(state->context.db_pool, std::move(call));
  json::array rows;
  for (const auto& t : tokens) {
    rows.push_back(json::object{{"id", t.id},
                                {"name", t.name},
                                {"scope", t.scope},
                                {"created", events::format_time_us(t.created_us)},
                                {"revoked", t.revoked}});
  }
  co_return json_reply(json::object{{"tokens", std::move(rows)}});
}

asio::awaitable<Reply> post_token(std::shared_ptr<State> state, const std::string& body, const Grant& grant) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  const auto* o = ec ? nullptr : parsed.if_object();
  const auto* name = o != nullptr ? o->if_contains("name") : nullptr;
  if (name == nullptr || !name->is_string() || name->get_string().empty() || name->get_string().size() > 64) {
    throw BadRequest(R"(body: {"name": "<1 to 64 characters>", "scope": "read"|"manage"|"admin"})");
  }
  Scope scope = Scope::read;
  if (const auto* s = o->if_contains("scope")) {
    const auto parsed_scope = s->is_string() ? scope_from(s->get_string()) : std::nullopt;
    if (!parsed_scope) {
      throw BadRequest("scope: one of read, manage, admin");
    }
    scope = *parsed_scope;
  }
  Auth* auth = &state->context.auth;
  std::string token_name(name->get_string());
  auto call = [auth, token_name, scope] { return auth->create(token_name, scope); };
  auto token = co_await run_blocking(state->context.db_pool, std::move(call));
  audit(*state, grant, "api_token.create", fmt::format("{} ({})", token_name, to_string(scope)), "ok");
  co_return json_reply(json::object{{"name", token_name}, {"scope", to_string(scope)}, {"token", token}},
                       http::status::created);
}

asio::awaitable<Reply> delete_token(std::shared_ptr<State> state, const std::string& id_or_name, const Grant& grant) {
  store::Storage* storage = &state->context.storage;
  auto call = [storage, id_or_name] { return storage->revoke_token(id_or_name); };
  const bool revoked = co_await run_blocking(state->context.db_pool, std::move(call));
  audit(*state, grant, "api_token.revoke", id_or_name, revoked ? "ok" : "no such token");
  if (!revoked) {
    co_return error_reply(http::status::not_found, "no active token with this id or name");
  }
  state->context.auth.forget_cached();  // revoked here: refused from the next request on
  co_return json_reply(json::object{{"revoked", id_or_name}});
}

// ---- routing ----

Reply method_not_allowed(std::string_view allow) {
  Reply r = error_reply(http::status::method_not_allowed, "method not allowed (allowed: " + std::string(allow) + ")");
  r.headers.emplace_back(http::field::allow, std::string(allow));
  return r;
}

std::optional<protocol::NodeId> node_id_of(const std::string& text) {
  return parse_integer<protocol::NodeId>(text);
}

/// What a request needs: tokens and the audit log are admin's, whatever
/// changes a node (commands) manage's, the rest read's.
Scope required_scope(http::verb method, const std::vector<std::string>& path) {
  if (path.size() >= 3 && path[0] == "api" && path[1] == "v1" && (path[2] == "tokens" || path[2] == "audit")) {
    return Scope::admin;
  }
  return method == http::verb::get || method == http::verb::head ? Scope::read : Scope::manage;
}

asio::awaitable<Reply> route(std::shared_ptr<State> state, Request req, std::vector<std::string> path, Params params,
                             Grant grant) {
  const auto method = req.method();
  const bool get = method == http::verb::get;
  const auto n = path.size();
  if (const auto needed = required_scope(method, path); grant.scope < needed) {
    audit(*state, grant, "api.refused", fmt::format("{} /{}", std::string(req.method_string()), fmt::join(path, "/")),
          fmt::format("scope {} needed", to_string(needed)));
    co_return error_reply(http::status::forbidden, fmt::format("this token's scope is {}; this needs {}",
                                                               to_string(grant.scope), to_string(needed)));
  }
  if (n == 1 && path[0] == "metrics") {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    params.finish();
    co_return get_metrics(*state);
  }
  if (n < 3 || path[0] != "api" || path[1] != "v1") {
    co_return error_reply(http::status::not_found, "no such endpoint");
  }
  const std::string& resource = path[2];
  if (resource == "nodes") {
    if (n == 3 || n == 4) {
      if (!get) {
        co_return method_not_allowed("GET");
      }
      params.finish();
      if (n == 3) {
        co_return get_nodes(*state);
      }
      auto id = node_id_of(path[3]);
      if (!id) {
        co_return error_reply(http::status::bad_request, "a node id is an unsigned 64-bit decimal integer");
      }
      co_return get_node(*state, *id);
    }
    if (n == 5 && path[4] == "commands") {
      if (method != http::verb::post) {
        co_return method_not_allowed("POST");
      }
      params.finish();
      auto id = node_id_of(path[3]);
      if (!id) {
        co_return error_reply(http::status::bad_request, "a node id is an unsigned 64-bit decimal integer");
      }
      co_return co_await post_command(std::move(state), *id, std::move(req.body()), grant);
    }
  } else if (resource == "honeypots" && n == 3) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    params.finish();
    co_return get_honeypots(*state);
  } else if (resource == "events" && n <= 4) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    if (n == 3) {
      co_return co_await get_events(std::move(state), std::move(params));
    }
    if (path[3] == "export") {
      co_return export_events(std::move(state), std::move(params));
    }
    params.finish();
    co_return co_await get_event(std::move(state), path[3]);
  } else if (resource == "info" && n == 3) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    params.finish();
    co_return get_info(*state, grant);
  } else if (resource == "attackers" && n == 4) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    params.finish();
    co_return co_await get_attacker(std::move(state), path[3]);
  } else if (resource == "stats" && n == 3) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    co_return co_await get_stats(std::move(state), std::move(params));
  } else if (resource == "audit" && n == 3) {
    if (!get) {
      co_return method_not_allowed("GET");
    }
    co_return co_await get_audit(std::move(state), std::move(params));
  } else if (resource == "tokens" && n == 3) {
    params.finish();
    if (get) {
      co_return co_await get_tokens(std::move(state));
    }
    if (method != http::verb::post) {
      co_return method_not_allowed("GET, POST");
    }
    co_return co_await post_token(std::move(state), req.body(), grant);
  } else if (resource == "tokens" && n == 4) {
    params.finish();
    if (method != http::verb::delete_) {
      co_return method_not_allowed("DELETE");
    }
    co_return co_await delete_token(std::move(state), path[3], grant);
  }
  co_return error_reply(http::status::not_found, "no such endpoint");
}

bool is_rejection(http::status s) {
  switch (s) {
    case http::status::bad_request:
    case http::status::unauthorized:
    case http::status::forbidden:
    case http::status::method_not_allowed:
    case http::status::payload_too_large:
    case http::status::too_many_requests:
      return true;
    default:
      return false;
  }
}

asio::awaitable<Reply> handle_checked(std::shared_ptr<State> state, Request req, std::string client) {
  if (const auto wait = state->rate_limiter.acquire(client); wait != 0) {
    ++state->rate_limited;
    Reply r = error_reply(http::status::too_many_requests, "rate limit exceeded");
    r.headers.emplace_back(http::field::retry_after, std::to_string(wait));
    co_return r;
  }
  // The dashboard's files need no token (they hold no data). Anything that
  // is not one of them goes on to the token check, unknown paths included.
  if (const auto& dashboard = state->context.dashboard) {
    if (auto reply = dashboard_reply(*dashboard, req)) {
      co_return std::move(*reply);
    }
  }
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) {
    co_return error_reply(http::status::bad_request, "malformed request target");
  }
  std::vector<std::string> path;
  for (auto segment : url->segments()) {
    path.push_back(std::move(segment));
  }
  if (!path.empty() && path.back().empty()) {
    path.pop_back();  // "/api/v1/nodes/" is "/api/v1/nodes"
  }
  Params params(*url);

  if (path.size() == 1 && path[0] == "health") {
    if (req.method() != http::verb::get) {
      co_return method_not_allowed("GET");
    }
    co_return json_reply(json::object{{"status", "ok"}});
  }

  // Everything else needs a token; checked before routing so that a client
  // without one learns nothing about the endpoints. An address that failed
  // too often is not even looked up.
  if (const auto wait = state->context.auth.failed_logins().blocked_for(client); wait != 0) {
    Reply r = error_reply(http::status::too_many_requests, "too many failed logins from this address");
    r.headers.emplace_back(http::field::retry_after, std::to_string(wait));
    co_return r;
  }
  const std::string authorization(req[http::field::authorization]);
  auto& auth = state->context.auth;
  auto cached = auth.grant_cached(authorization);
  std::optional<Grant> grant = std::move(cached.grant);
  if (!cached.known) {
    Auth* a = &auth;
    auto call = [a, authorization] { return a->grant_for_header(authorization); };
    grant = co_await run_blocking(state->context.db_pool, std::move(call));
  }
  if (!grant) {
    if (!authorization.empty() && state->context.auth.failed_logins().failed(client)) {
      if (state->log) {
        state->log->warn("API: {} failed logins from {} within a minute; refusing it for the rest of the minute", 10,
                         client);
      }
      audit(*state, Grant{}, "api.login", client, "too many failed logins");
    }
    Reply r = error_reply(http::status::unauthorized, authorization.empty()
                                                          ? "a bearer token is required (Authorization: Bearer <token>)"
                                                          : "invalid or revoked token");
    r.headers.emplace_back(http::field::www_authenticate, "Bearer realm=\"honeycomb\"");
    co_return r;
  }
  co_return co_await route(std::move(state), std::move(req), std::move(path), std::move(params), std::move(*grant));
}

}  // namespace

Reply error_reply(http::status status, std::string_view message) {
  Reply r;
  r.status = status;
  r.body = error_body(static_cast<unsigned>(status), message);
  return r;
}

asio::awaitable<Reply> handle(std::shared_ptr<State> state, Request request, std::string client) {
  ++state->context.metrics.api_requests_total;
  const std::string method(request.method_string());
  const std::string target(request.target());
  Reply reply;
  try {
    reply = co_await handle_checked(state, std::move(request), std::move(client));
  } catch (const BadRequest& e) {
    reply = error_reply(http::status::bad_request, e.what());
  } catch (const std::exception& e) {
    if (state->log) {
      state->log->error("API {} {}: {}", method, target, e.what());
    }
    reply = error_reply(http::status::internal_server_error, "internal error");
  }
  if (is_rejection(reply.status)) {
    ++state->context.metrics.api_rejected_total;
  }
  co_return reply;
}

}  // namespace honeycomb::core::api
