#include "node/pot_spec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace honeycomb::node {

namespace json = boost::json;

bool valid_pot_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() == '.' || id.front() == '-') {
    return false;
  }
  for (const char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string to_json(const PotSpec& spec) {
  json::object o;
  o["pot_id"] = spec.pot_id;
  o["honeypot_type"] = spec.honeypot_type;
  json::array argv;
  for (const auto& a : spec.argv) {
    argv.emplace_back(a);
  }
  o["argv"] = std::move(argv);
  json::array env;
  for (const auto& [name, value] : spec.env) {
    env.emplace_back(json::array{json::value(name), json::value(value)});
  }
  o["env"] = std::move(env);
  o["workdir"] = spec.workdir.string();
  json::object config;
  for (const auto& [key, value] : spec.config) {
    config[key] = value;
  }
  o["config"] = std::move(config);
  o["source"] = spec.source;
  o["auto_start"] = spec.auto_start;
  if (spec.uid_slot) {
    o["uid_slot"] = *spec.uid_slot;
  }
  if (spec.ports) {
    json::array ports;
    for (const auto p : *spec.ports) {
      ports.emplace_back(p);
    }
    o["ports"] = std::move(ports);
  }
  return json::serialize(o) + "\n";
}

namespace {

const json::string* string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

}  // namespace

std::variant<PotSpec, std::string> pot_spec_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return std::string("not a JSON object");
  }
  const auto& o = value.as_object();
  PotSpec spec;
  for (const auto* key : {"pot_id", "honeypot_type", "workdir", "source"}) {
    if (string_at(o, key) == nullptr) {
      return std::string("\"") + key + "\" is missing or not a string";
    }
  }
  spec.pot_id = std::string(*string_at(o, "pot_id"));
  if (!valid_pot_id(spec.pot_id)) {
    return "invalid pot_id \"" + spec.pot_id + "\"";
  }
  spec.honeypot_type = std::string(*string_at(o, "honeypot_type"));
  spec.workdir = std::string(*string_at(o, "workdir"));
  spec.source = std::string(*string_at(o, "source"));
  const auto* argv = o.if_contains("argv");
  if (argv == nullptr || !argv->is_array() || argv->as_array().empty()) {
    return std::string("\"argv\" must be a non-empty array of strings");
  }
  for (const auto& a : argv->as_array()) {
    if (!a.is_string()) {
      return std::string("\"argv\" must be a non-empty array of strings");
    }
    spec.argv.emplace_back(a.as_string());
  }
  if (const auto* env = o.if_contains("env"); env != nullptr) {
    if (!env->is_array()) {
      return std::string("\"env\" must be an array of [name, value] pairs");
    }
    for (const auto& pair : env->as_array()) {
      const auto* p = pair.if_array();
      if (p == nullptr || p->size() != 2 || !(*p)[0].is_string() || !(*p)[1].is_string()) {
        return std::string("\"env\" must be an array of [name, value] pairs");
      }
      spec.env.emplace_back(std::string((*p)[0].as_string()), std::string((*p)[1].as_string()));
    }
  }
  if (const auto* config = o.if_contains("config"); config != nullptr) {
    if (!config->is_object()) {
      return std::string("\"config\" must be an object of strings");
    }
    for (const auto& kv : config->as_object()) {
      if (!kv.value().is_string()) {
        return std::string("\"config\" must be an object of strings");
      }
      spec.config[std::string(kv.key())] = std::string(kv.value().as_string());
    }
  }
  if (const auto* start = o.if_contains("auto_start"); start != nullptr && start->is_bool()) {
    spec.auto_start = start->as_bool();
  }
  if (const auto* slot = o.if_contains("uid_slot"); slot != nullptr) {
    const std::int64_t n = slot->is_uint64()  ? static_cast<std::int64_t>(slot->as_uint64())
                           : slot->is_int64() ? slot->as_int64()
                                              : -1;
    if (n < 0 || n > 0xFFFF'FFFF) {
      return std::string("\"uid_slot\" must be an unsigned 32-bit number");
    }
    spec.uid_slot = static_cast<std::uint32_t>(n);
  }
  if (const auto* ports = o.if_contains("ports"); ports != nullptr) {
    if (!ports->is_array()) {
      return std::string("\"ports\" must be an array of port numbers");
    }
    std::vector<std::uint16_t> list;
    for (const auto& p : ports->as_array()) {
      const std::int64_t n = p.is_uint64()  ? static_cast<std::int64_t>(p.as_uint64())
                             : p.is_int64() ? p.as_int64()
                                            : -1;
      if (n < 1 || n > 65535) {
        return std::string("\"ports\" must be an array of port numbers");
      }
      list.push_back(static_cast<std::uint16_t>(n));
    }
    spec.ports = std::move(list);
  }
  return spec;
}

}  // namespace honeycomb::node
