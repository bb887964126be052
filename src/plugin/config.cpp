#include "plugin/config.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace honeycomb::plugin {
namespace json = boost::json;

std::string ConfigError::message() const {
  if (key.empty()) {
    return file + ": " + rule;
  }
  return file + ": " + key + ": " + rule;
}

std::string_view to_string(ParamType t) {
  switch (t) {
    case ParamType::text: return "text";
    case ParamType::integer: return "integer";
    case ParamType::boolean: return "boolean";
    case ParamType::file: return "file";
    case ParamType::string: return "string";
    case ParamType::select: return "select";
    case ParamType::password: return "password";
  }
  return "text";
}

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::alert: return "Alert";
    case Policy::mute: return "Mute";
    case Policy::ignore: return "Ignore";
  }
  return "Alert";
}

const std::vector<std::string>& known_alert_fields() {
  static const std::vector<std::string> fields = {
      "event_type",      "manufacturer",         "event_description",       "request",
      "dest_ip",         "dest_port",            "file_accessed",           "originating_ip",
      "originating_port", "transport_protocol",  "originating_hostname",    "originating_mac_address",
      "domain",          "username",             "password",                "image_md5",
      "image_path",      "image_file",           "image_sha256",            "cmd",
      "pid",             "uid",                  "ppid",                    "address",
      "end_timestamp",   "decoy_os",             "decoy_ipv4",              "decoy_name",
      "decoy_hostname",  "additional_fields"};
  return fields;
}

const EventTypeSpec* ServiceSpec::find_event_type(std::string_view type) const {
  for (const auto& e : event_types) {
    if (e.name == type) {
      return &e;
    }
  }
  return nullptr;
}

namespace {

// Walks a JSON document, remembering the file for error messages.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  ConfigError fail(std::string key, std::string rule) const { return {file_, std::move(key), std::move(rule)}; }

  static std::string kind_name(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null: return "null";
      case json::kind::bool_: return "a boolean";
      case json::kind::int64:
      case json::kind::uint64: return "an integer";
      case json::kind::double_: return "a number";
      case json::kind::string: return "a string";
      case json::kind::array: return "a list";
      case json::kind::object: return "an object";
    }
    return "unknown";
  }

  std::optional<ConfigError> want_string(const json::object& o, std::string_view k, const std::string& key,
                                         std::string& out, bool required) const {
    const auto* v = o.if_contains(k);
    if (v == nullptr) {
      return required ? std::optional(fail(key, "is required (a string)")) : std::nullopt;
    }
    if (!v->is_string()) {
      return fail(key, "must be a string, not " + kind_name(*v));
    }
    out = std::string(v->get_string());
    return std::nullopt;
  }

  std::optional<ConfigError> want_bool(const json::object& o, std::string_view k, const std::string& key,
                                       bool& out) const {
    const auto* v = o.if_contains(k);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (!v->is_bool()) {
      return fail(key, "must be a boolean (true or false), not " + kind_name(*v));
    }
    out = v->get_bool();
    return std::nullopt;
  }

  std::optional<ConfigError> want_int(const json::object& o, std::string_view k, const std::string& key,
                                      int& out) const {
    const auto* v = o.if_contains(k);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (!v->is_int64() || v->get_int64() < 0 || v->get_int64() > 1'000'000) {
      return fail(key, "must be a non-negative integer, not " + kind_name(*v));
    }
    out = static_cast<int>(v->get_int64());
    return std::nullopt;
  }

  std::optional<ConfigError> want_string_list(const json::object& o, std::string_view k, const std::string& key,
                                              std::vector<std::string>& out) const {
    const auto* v = o.if_contains(k);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (!v->is_array()) {
      return fail(key, "must be a list of strings, not " + kind_name(*v));
    }
    std::size_t i = 0;
    for (const auto& item : v->get_array()) {
      if (!item.is_string()) {
        return fail(key + "[" + std::to_string(i) + "]", "must be a string, not " + kind_name(item));
      }
      out.emplace_back(item.get_string());
      ++i;
    }
    return std::nullopt;
  }

 private:
  std::string file_;
};

bool valid_parameter_name(std::string_view name) {
  static const std::regex re(R"(^[A-Za-z][\w-]*$)");
  return std::regex_match(name.begin(), name.end(), re);
}

std::optional<ConfigError> parse_parameters(const Checker& c, const json::object& root, PluginKind kind,
                                            std::vector<ParameterSpec>& out) {
  const auto* params = root.if_contains("parameters");
  if (params == nullptr) {
    return std::nullopt;
  }
  if (!params->is_array()) {
    return c.fail("parameters", "must be a list, not " + Checker::kind_name(*params));
  }
  const std::set<std::string_view> service_keys = {"value", "default", "type", "label", "help_text", "required"};
  const std::set<std::string_view> integration_keys = {"value", "default",  "type", "label", "help_text",
                                                       "required", "min", "max",  "validator", "items"};
  const auto& allowed_keys = kind == PluginKind::service ? service_keys : integration_keys;
  const std::vector<std::pair<std::string_view, ParamType>> service_types = {
      {"text", ParamType::text}, {"integer", ParamType::integer}, {"boolean", ParamType::boolean},
      {"file", ParamType::file}};
  const std::vector<std::pair<std::string_view, ParamType>> integration_types = {
      {"string", ParamType::string},   {"integer", ParamType::integer}, {"boolean", ParamType::boolean},
      {"select", ParamType::select},   {"password", ParamType::password},
      // The reference library's integrations also use these two.
      {"text", ParamType::text},       {"file", ParamType::file}};
  const auto& types = kind == PluginKind::service ? service_types : integration_types;

  std::set<std::string> seen;
  std::size_t index = 0;
  for (const auto& pv : params->get_array()) {
    const std::string at = "parameters[" + std::to_string(index++) + "]";
    if (!pv.is_object()) {
      return c.fail(at, "must be an object, not " + Checker::kind_name(pv));
    }
    const auto& po = pv.get_object();
    for (const auto& kv : po) {
      if (allowed_keys.count(std::string_view(kv.key())) == 0) {
        std::string list;
        for (auto k : allowed_keys) {
          list += (list.empty() ? "" : ", ") + std::string(k);
        }
        return c.fail(at + "." + std::string(kv.key()), "is not an allowed parameter key (allowed: " + list + ")");
      }
    }
    ParameterSpec p;
    if (auto e = c.want_string(po, "value", at + ".value", p.name, true)) {
      return e;
    }
    if (!valid_parameter_name(p.name)) {
      return c.fail(at + ".value",
                    "'" + p.name + "' is not a valid parameter name (word characters and '-', not starting with a "
                    "digit, '-' or '_')");
    }
    if (!seen.insert(p.name).second) {
      return c.fail(at + ".value", "duplicate parameter name '" + p.name + "'");
    }
    std::string type_name;
    if (auto e = c.want_string(po, "type", at + ".type", type_name, true)) {
      return e;
    }
    auto t = std::find_if(types.begin(), types.end(), [&](const auto& x) { return x.first == type_name; });
    if (t == types.end()) {
      std::string list;
      for (const auto& x : types) {
        list += (list.empty() ? "" : ", ") + std::string(x.first);
      }
      return c.fail(at + ".type", "must be one of " + list + " (got '" + type_name + "')");
    }
    p.type = t->second;
    if (auto e = c.want_string(po, "label", at + ".label", p.label, false)) {
      return e;
    }
    if (auto e = c.want_string(po, "help_text", at + ".help_text", p.help_text, false)) {
      return e;
    }
    if (auto e = c.want_bool(po, "required", at + ".required", p.required)) {
      return e;
    }
    for (const char* bound : {"min", "max"}) {
      if (const auto* b = po.if_contains(bound)) {
        if (!b->is_int64()) {
          return c.fail(at + "." + bound, "must be an integer, not " + Checker::kind_name(*b));
        }
        (std::string_view(bound) == "min" ? p.min : p.max) = b->get_int64();
      }
    }
    if (const auto* v = po.if_contains("validator")) {
      if (!v->is_string()) {
        return c.fail(at + ".validator", "must be a string, not " + Checker::kind_name(*v));
      }
      p.validator = std::string(v->get_string());
    }
    if (const auto* items = po.if_contains("items")) {
      if (!items->is_array()) {
        return c.fail(at + ".items", "must be a list of {\"value\", \"label\"} objects");
      }
      std::size_t i = 0;
      for (const auto& it : items->get_array()) {
        const std::string ik = at + ".items[" + std::to_string(i++) + "]";
        if (!it.is_object()) {
          return c.fail(ik, "must be an object with \"value\" and \"label\"");
        }
        SelectItem si;
        const auto& io = it.get_object();
        const auto* iv = io.if_contains("value");
        if (iv == nullptr || !(iv->is_string() || iv->is_int64())) {
          return c.fail(ik + ".value", "is required (a string)");
        }
        si.value = iv->is_string() ? std::string(iv->get_string()) : std::to_string(iv->get_int64());
        if (auto e = c.want_string(io, "label", ik + ".label", si.label, false)) {
          return e;
        }
        p.items.push_back(std::move(si));
      }
    }
    if (p.type == ParamType::select && p.items.empty()) {
      return c.fail(at + ".items", "a select parameter needs a non-empty list of items");
    }
    if (const auto* d = po.if_contains("default")) {
      const bool ok = [&] {
        switch (p.type) {
          case ParamType::integer: return d->is_int64();
          case ParamType::boolean: return d->is_bool();
          case ParamType::select:
            return d->is_string() && std::any_of(p.items.begin(), p.items.end(),
                                                 [&](const SelectItem& s) { return s.value == d->get_string(); });
          default: return d->is_string();
        }
      }();
      if (!ok) {
        return c.fail(at + ".default", "default value must match the parameter type '" +
                                           std::string(to_string(p.type)) + "' (got " + Checker::kind_name(*d) +
                                           ")");
      }
      if (d->is_int64()) {
        p.default_value = Value{d->get_int64()};
      } else if (d->is_bool()) {
        p.default_value = Value{d->get_bool()};
      } else {
        p.default_value = Value{std::string(d->get_string())};
      }
    }
    out.push_back(std::move(p));
  }
  return std::nullopt;
}

}  // namespace

Result<boost::json::value> read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigError{path.string(), "", "cannot be read (missing or not accessible)"};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.size() > 4 * 1024 * 1024) {
    return ConfigError{path.string(), "", "is larger than 4 MiB"};
  }
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value doc = json::parse(text, ec, {}, opts);
  if (ec) {
    // Report the line of the error: count newlines up to the parser's stop.
    json::stream_parser p({}, opts);
    std::size_t consumed = p.write_some(text.data(), text.size(), ec);
    if (!ec) {
      p.finish(ec);
      consumed = text.size();
    }
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(consumed), '\n');
    return ConfigError{path.string(), "", "is not valid JSON (" + ec.message() + " at line " + std::to_string(line) + ")"};
  }
  return doc;
}

Result<ServiceSpec> parse_service_spec(const boost::json::value& doc, const std::string& file) {
  Checker c(file);
  if (!doc.is_object()) {
    return c.fail("", "must contain a JSON object, not " + Checker::kind_name(doc));
  }
  const auto& root = doc.get_object();
  ServiceSpec spec;

  const auto* svc = root.if_contains("service");
  if (svc == nullptr) {
    return c.fail("service", "is required");
  }
  if (!svc->is_object()) {
    return c.fail("service", "must be an object, not " + Checker::kind_name(*svc));
  }
  const auto& so = svc->get_object();
  if (auto e = c.want_string(so, "name", "service.name", spec.name, true)) {
    return *e;
  }
  if (spec.name.empty() || !valid_parameter_name(spec.name)) {
    return c.fail("service.name", "'" + spec.name + "' is not a valid service name (letters, digits, '_' and '-')");
  }
  if (auto e = c.want_string(so, "label", "service.label", spec.label, true)) {
    return *e;
  }
  if (auto e = c.want_string(so, "description", "service.description", spec.description, false)) {
    return *e;
  }
  if (auto e = c.want_bool(so, "allow_many", "service.allow_many", spec.allow_many)) {
    return *e;
  }
  if (auto e = c.want_string(so, "supported_os_families", "service.supported_os_families", spec.supported_os_families,
                             false)) {
    return *e;
  }
  static const std::set<std::string> os_families = {"Linux", "Windows", "Darwin", "All"};
  if (os_families.count(spec.supported_os_families) == 0) {
    return c.fail("service.supported_os_families",
                  "must be one of Linux, Windows, Darwin, All (got '" + spec.supported_os_families + "')");
  }
  if (const auto* ports = so.if_contains("ports")) {
    if (!ports->is_array()) {
      return c.fail("service.ports", "must be a list of {\"protocol\": \"TCP\"|\"UDP\", \"port\": int or \"*\"}");
    }
    std::size_t i = 0;
    for (const auto& pv : ports->get_array()) {
      const std::string at = "service.ports[" + std::to_string(i++) + "]";
      if (!pv.is_object()) {
        return c.fail(at, "must be an object {\"protocol\": \"TCP\"|\"UDP\", \"port\": int or \"*\"}");
      }
      PortSpec port;
      if (auto e = c.want_string(pv.get_object(), "protocol", at + ".protocol", port.protocol, true)) {
        return *e;
      }
      if (port.protocol != "TCP" && port.protocol != "UDP") {
        return c.fail(at + ".protocol", "must be TCP or UDP (got '" + port.protocol + "')");
      }
      const auto* num = pv.get_object().if_contains("port");
      if (num == nullptr) {
        return c.fail(at + ".port", "is required (an integer or \"*\")");
      }
      if (num->is_int64() && num->get_int64() >= 0 && num->get_int64() <= 65535) {
        port.port = static_cast<int>(num->get_int64());
      } else if (!(num->is_string() && num->get_string() == "*")) {
        return c.fail(at + ".port", "must be an integer from 0 to 65535 or \"*\"");
      }
      spec.ports.push_back(std::move(port));
    }
  }
  if (auto e = c.want_string_list(so, "conflicts_with", "service.conflicts_with", spec.conflicts_with)) {
    return *e;
  }

  const auto* events = root.if_contains("event_types");
  if (events == nullptr) {
    return c.fail("event_types", "is required");
  }
  if (!events->is_array()) {
    return c.fail("event_types", "must be a list, not " + Checker::kind_name(*events));
  }
  const auto& known = known_alert_fields();
  std::set<std::string> names;
  std::size_t i = 0;
  for (const auto& ev : events->get_array()) {
    const std::string at = "event_types[" + std::to_string(i++) + "]";
    if (!ev.is_object()) {
      return c.fail(at, "must be an object, not " + Checker::kind_name(ev));
    }
    const auto& eo = ev.get_object();
    EventTypeSpec et;
    if (auto e = c.want_string(eo, "name", at + ".name", et.name, true)) {
      return *e;
    }
    if (!names.insert(et.name).second) {
      return c.fail(at + ".name", "duplicate event type '" + et.name + "'");
    }
    if (auto e = c.want_string(eo, "label", at + ".label", et.label, true)) {
      return *e;
    }
    std::string policy = "Alert";
    if (auto e = c.want_string(eo, "policy", at + ".policy", policy, false)) {
      return *e;
    }
    if (policy == "Alert") {
      et.policy = Policy::alert;
    } else if (policy == "Mute") {
      et.policy = Policy::mute;
    } else if (policy == "Ignore") {
      et.policy = Policy::ignore;
    } else {
      return c.fail(at + ".policy", "must be one of Ignore, Mute, Alert (got '" + policy + "')");
    }
    if (auto e = c.want_string_list(eo, "fields", at + ".fields", et.fields)) {
      return *e;
    }
    for (std::size_t f = 0; f < et.fields.size(); ++f) {
      if (std::find(known.begin(), known.end(), et.fields[f]) == known.end()) {
        return c.fail(at + ".fields[" + std::to_string(f) + "]",
                      "'" + et.fields[f] + "' is not a known alert field (see the plugin API's field list)");
      }
    }
    spec.event_types.push_back(std::move(et));
  }
  if (auto e = parse_parameters(c, root, PluginKind::service, spec.parameters)) {
    return *e;
  }
  return spec;
}

Result<IntegrationSpec> parse_integration_spec(const boost::json::value& doc, const std::string& file) {
  Checker c(file);
  if (!doc.is_object()) {
    return c.fail("", "must contain a JSON object, not " + Checker::kind_name(doc));
  }
  const auto& root = doc.get_object();
  IntegrationSpec spec;
  if (auto e = c.want_string(root, "display_name", "display_name", spec.display_name, true)) {
    return *e;
  }
  if (auto e = c.want_string(root, "description", "description", spec.description, false)) {
    return *e;
  }
  if (auto e = c.want_string(root, "integration_type", "integration_type", spec.integration_type, false)) {
    return *e;
  }
  if (spec.integration_type != "event_output") {
    return c.fail("integration_type", "must be event_output (got '" + spec.integration_type + "')");
  }
  if (auto e = c.want_string_list(root, "supported_event_types", "supported_event_types", spec.supported_event_types)) {
    return *e;
  }
  if (auto e = c.want_string_list(root, "required_fields", "required_fields", spec.required_fields)) {
    return *e;
  }
  if (auto e = c.want_int(root, "max_send_retries", "max_send_retries", spec.max_send_retries)) {
    return *e;
  }
  if (auto e = c.want_bool(root, "polling_enabled", "polling_enabled", spec.polling_enabled)) {
    return *e;
  }
  if (auto e = c.want_int(root, "polling_duration", "polling_duration", spec.polling_duration)) {
    return *e;
  }
  if (auto e = c.want_bool(root, "test_connection_enabled", "test_connection_enabled", spec.test_connection_enabled)) {
    return *e;
  }
  if (auto e = c.want_bool(root, "accepts_muted", "accepts_muted", spec.accepts_muted)) {
    return *e;
  }
  if (auto e = parse_parameters(c, root, PluginKind::integration, spec.parameters)) {
    return *e;
  }
  return spec;
}

Result<ServiceSpec> load_service_spec(const std::filesystem::path& folder) {
  const auto file = folder / "config.json";
  auto doc = read_json_file(file);
  if (!doc) {
    return doc.error();
  }
  auto spec = parse_service_spec(*doc, file.string());
  if (spec) {
    spec->folder = folder;
  }
  return spec;
}

Result<IntegrationSpec> load_integration_spec(const std::filesystem::path& folder) {
  const auto file = folder / "config.json";
  auto doc = read_json_file(file);
  if (!doc) {
    return doc.error();
  }
  auto spec = parse_integration_spec(*doc, file.string());
  if (spec) {
    spec->folder = folder;
    spec->name = folder.filename().string();
  }
  return spec;
}

}  // namespace honeycomb::plugin
