#include "node/potstore.hpp"

#include "common/utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::node {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// ---- text helpers -----------------------------------------------------------

/// A value from the core, quoted for an error message: at most 64 bytes,
/// control bytes and non-ASCII as \xNN (the text goes to logs and back to
/// the core).
std::string shown(std::string_view v) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (v.size() > kShown) {
    out += "...";
  }
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) {
      out += sep;
    }
    out += s;
  }
  return out;
}

bool is_lower_ident(std::string_view s) {  // ^[a-z_][a-z0-9_]*$, at most 64
  if (s.empty() || s.size() > 64 || (s[0] >= '0' && s[0] <= '9')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_env_name(std::string_view s) {  // ^[A-Za-z_][A-Za-z0-9_]*$
  if (s.empty() || s.size() > 128 || (s[0] >= '0' && s[0] <= '9')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_entry_id(std::string_view s) {  // ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
  if (s.empty() || s.size() > 64 || !is_alnum(s[0])) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_command_name(std::string_view s) {  // looked up on PATH: no '/'
  if (s.empty() || s.size() > 128 || s[0] == '-' || s[0] == '.') {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+'; });
}

/// Variables a config value may not set: the node's own (HONEYBEE_*) and
/// those that make a program load code (the value would become code).
bool reserved_for_config(std::string_view name) {
  static constexpr std::array<std::string_view, 12> exact = {
      "PATH",          "IFS",          "ENV",      "BASH_ENV", "PYTHONPATH", "PYTHONHOME",
      "PYTHONSTARTUP", "NODE_OPTIONS", "PERL5OPT", "PERL5LIB", "RUBYOPT",    "HOME"};
  return name.starts_with("HONEYBEE_") || name.starts_with("LD_") ||
         std::find(exact.begin(), exact.end(), name) != exact.end();
}

bool no_nul(std::string_view s) {
  return s.find('\0') == std::string_view::npos;
}

/// Well-formed UTF-8. A value ends up in pot.json, which must read back:
/// JSON holds text only (node.yml's values come through yaml-cpp unchecked).
bool is_utf8(std::string_view s) {
  return utf8::valid(s);
}

/// Digits in a row a catalog pattern may hold. libstdc++'s regex compiler
/// reads a repetition count ({n,m}) or a back-reference (\1) with a signed
/// overflow past LONG_MAX (undefined behaviour), and counts past its state
/// limit (100,000) fail anyway.
constexpr std::size_t kMaxPatternDigits = 5;

bool numbers_fit(std::string_view pattern) {
  std::size_t run = 0;
  for (const char c : pattern) {
    run = c >= '0' && c <= '9' ? run + 1 : 0;
    if (run > kMaxPatternDigits) {
      return false;
    }
  }
  return true;
}

// ---- value rules (catalog defaults and InstallPot values alike) ---------------

/// Checks `value` against `key`'s type, range and pattern. On success, `out`
/// is the normalised text and the result empty; otherwise the rule broken.
std::optional<std::string> normalize_value(const CatalogEntry::ConfigKey& key, std::string_view value,
                                           std::string& out) {
  using Type = CatalogEntry::ConfigKey::Type;
  if (value.size() > kMaxConfigValueBytes) {
    return fmt::format("is longer than {} bytes", kMaxConfigValueBytes);
  }
  if (!no_nul(value)) {
    return std::string("contains a NUL byte");
  }
  if (!is_utf8(value)) {
    return std::string("is not UTF-8 text");
  }
  switch (key.type) {
    case Type::integer: {
      std::int64_t n = 0;
      const auto* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, n);
      if (value.empty() || ec != std::errc{} || ptr != end) {
        return std::string("must be an integer");
      }
      if (key.min && n < *key.min) {
        return fmt::format("must be at least {}", *key.min);
      }
      if (key.max && n > *key.max) {
        return fmt::format("must be at most {}", *key.max);
      }
      out = std::to_string(n);
      return std::nullopt;
    }
    case Type::boolean: {
      // The spellings plugin parameters accept (src/plugin/parameters.cpp).
      static constexpr std::array<std::string_view, 5> truthy = {"true", "True", "y", "Y", "yes"};
      static constexpr std::array<std::string_view, 5> falsy = {"false", "False", "n", "N", "no"};
      if (std::find(truthy.begin(), truthy.end(), value) != truthy.end()) {
        out = "true";
        return std::nullopt;
      }
      if (std::find(falsy.begin(), falsy.end(), value) != falsy.end()) {
        out = "false";
        return std::nullopt;
      }
      return std::string("must be true or false");
    }
    case Type::string:
      if (key.pattern_regex) {
        bool matched = false;
        try {
          matched = std::regex_match(value.begin(), value.end(), *key.pattern_regex);
        } catch (const std::regex_error&) {  // complexity or stack limits: not a match
          matched = false;
        }
        if (!matched) {
          return fmt::format("does not match the pattern {}", key.pattern);
        }
      }
      out = std::string(value);
      return std::nullopt;
  }
  return std::string("has an unknown type");
}

std::optional<std::string> check_git_url(std::string_view url) {
  if (url.empty()) {
    return std::string("is empty");
  }
  if (url.size() > kMaxGitUrlBytes) {
    return fmt::format("is longer than {} bytes", kMaxGitUrlBytes);
  }
  if (url[0] == '-') {
    return std::string("may not start with '-'");
  }
  static constexpr std::array<std::string_view, 5> schemes = {"https://", "http://", "git://", "ssh://", "file://"};
  if (std::none_of(schemes.begin(), schemes.end(), [&](std::string_view s) { return url.starts_with(s); })) {
    return std::string("must start with https://, http://, git://, ssh:// or file://");
  }
  if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return std::string("may not contain spaces or control characters");
  }
  if (!is_utf8(url)) {
    return std::string("is not UTF-8 text");
  }
  return std::nullopt;
}

std::optional<std::string> check_git_branch(std::string_view branch) {
  if (branch.empty()) {
    return std::string("is empty");
  }
  if (branch.size() > kMaxGitBranchBytes) {
    return fmt::format("is longer than {} bytes", kMaxGitBranchBytes);
  }
  if (branch[0] == '-') {
    return std::string("may not start with '-'");
  }
  if (!std::all_of(branch.begin(), branch.end(),
                   [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '/' || c == '-'; })) {
    return std::string("may only contain [A-Za-z0-9._/-]");
  }
  return std::nullopt;
}

// ---- catalog reader -----------------------------------------------------------

/// Thrown inside Potstore::parse only; becomes its error text.
struct CatalogError {
  std::string text;
};

/// Where we are in the file, for error texts.
struct Where {
  std::string file;
  std::string pot;  ///< `pot "id"` or `pots[3]`; empty at the top level

  [[noreturn]] void fail(std::string_view key, std::string_view rule) const {
    std::string text = file + ": ";
    if (!pot.empty()) {
      text += pot + ": ";
    }
    if (!key.empty()) {
      text += std::string(key) + ": ";
    }
    text += rule;
    throw CatalogError{std::move(text)};
  }
};

void only_keys(const json::object& obj, std::initializer_list<std::string_view> allowed, const Where& at,
               std::string_view prefix) {
  for (const auto& kv : obj) {
    const std::string_view k = kv.key();
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      at.fail(prefix.empty() ? std::string(k) : fmt::format("{}.{}", prefix, k),
              fmt::format("unknown key (known: {})", join(names, ", ")));
    }
  }
}

const json::object& object_at(const json::value& v, const Where& at, std::string_view key) {
  if (!v.is_object()) {
    at.fail(key, "must be an object");
  }
  return v.get_object();
}

std::string string_at(const json::value& v, const Where& at, std::string_view key, bool allow_empty = false) {
  if (!v.is_string()) {
    at.fail(key, "must be a string");
  }
  std::string s(v.get_string());
  if (!allow_empty && s.empty()) {
    at.fail(key, "must not be empty");
  }
  if (!no_nul(s)) {
    at.fail(key, "contains a NUL byte");
  }
  return s;
}

const json::value& required_at(const json::object& obj, std::string_view name, const Where& at, std::string_view key) {
  const auto* v = obj.if_contains(name);
  if (v == nullptr) {
    at.fail(key, "is required");
  }
  return *v;
}

std::int64_t int_at(const json::value& v, const Where& at, std::string_view key) {
  if (v.is_int64()) {
    return v.get_int64();
  }
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  at.fail(key, "must be an integer");
}

std::vector<std::string> strings_at(const json::value& v, const Where& at, std::string_view key, bool non_empty) {
  if (!v.is_array()) {
    at.fail(key, "must be an array of strings");
  }
  std::vector<std::string> out;
  std::size_t i = 0;
  for (const auto& item : v.get_array()) {
    out.push_back(string_at(item, at, fmt::format("{}[{}]", key, i++)));
  }
  if (non_empty && out.empty()) {
    at.fail(key, "must not be empty");
  }
  return out;
}

CatalogEntry::ConfigKey parse_config_key(const json::value& v, const Where& at, std::size_t index,
                                         CatalogEntry::Kind kind) {
  using Type = CatalogEntry::ConfigKey::Type;
  const std::string here = fmt::format("config[{}]", index);
  const auto& obj = object_at(v, at, here);
  CatalogEntry::ConfigKey k;
  k.key = string_at(required_at(obj, "key", at, here + ".key"), at, here + ".key");
  if (!is_lower_ident(k.key)) {
    at.fail(here + ".key", fmt::format("{} must match ^[a-z_][a-z0-9_]*$ (at most 64 characters)", shown(k.key)));
  }
  const std::string p = "config." + k.key;  // from here on, errors name the key
  only_keys(obj, {"key", "type", "default", "required", "min", "max", "pattern", "arg", "env", "description"}, at, p);

  const std::string type = string_at(required_at(obj, "type", at, p + ".type"), at, p + ".type");
  if (type == "string") {
    k.type = Type::string;
  } else if (type == "integer") {
    k.type = Type::integer;
  } else if (type == "boolean") {
    k.type = Type::boolean;
  } else {
    at.fail(p + ".type", fmt::format("{} is not string, integer or boolean", shown(type)));
  }
  if (const auto* r = obj.if_contains("required")) {
    if (!r->is_bool()) {
      at.fail(p + ".required", "must be true or false");
    }
    k.required = r->get_bool();
  }
  for (const char* bound : {"min", "max"}) {
    if (const auto* b = obj.if_contains(bound)) {
      if (k.type != Type::integer) {
        at.fail(fmt::format("{}.{}", p, bound), "only integer keys have bounds");
      }
      (std::string_view(bound) == "min" ? k.min : k.max) = int_at(*b, at, fmt::format("{}.{}", p, bound));
    }
  }
  if (k.min && k.max && *k.min > *k.max) {
    at.fail(p + ".min", "is greater than max");
  }
  if (const auto* pat = obj.if_contains("pattern")) {
    if (k.type != Type::string) {
      at.fail(p + ".pattern", "only string keys have a pattern");
    }
    k.pattern = string_at(*pat, at, p + ".pattern");
    if (!numbers_fit(k.pattern)) {
      at.fail(p + ".pattern", fmt::format("holds a number of more than {} digits (a repetition count or a "
                                          "back-reference that large is not supported)",
                                          kMaxPatternDigits));
    }
    try {
      k.pattern_regex = std::make_shared<const std::regex>(k.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      at.fail(p + ".pattern", fmt::format("is not a valid ECMAScript regular expression ({})", e.what()));
    }
  }
  if (const auto* a = obj.if_contains("arg")) {
    const std::string tmpl = string_at(*a, at, p + ".arg");
    std::size_t count = 0;
    for (auto pos = tmpl.find("{value}"); pos != std::string::npos; pos = tmpl.find("{value}", pos + 1)) {
      ++count;
    }
    if (count > 1 || (count == 0 && k.type != Type::boolean)) {
      at.fail(p + ".arg", "must hold {value} exactly once (a boolean's may hold it not at all: added when true)");
    }
    k.arg = tmpl;
  }
  if (const auto* e = obj.if_contains("env")) {
    const std::string name = string_at(*e, at, p + ".env");
    if (!is_env_name(name)) {
      at.fail(p + ".env", fmt::format("{} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", shown(name)));
    }
    if (reserved_for_config(name)) {
      at.fail(p + ".env", fmt::format("{} may not be set from a config value (HONEYBEE_*, LD_*, PATH and variables "
                                      "that make programs load code are reserved)",
                                      name));
    }
    k.env = name;
  }
  if (kind == CatalogEntry::Kind::honeycomb_service && (k.arg || k.env)) {
    at.fail(p, "a honeycomb-service key has no arg or env: it is passed as key=value");
  }
  if (kind == CatalogEntry::Kind::external && !k.arg && !k.env) {
    at.fail(p, "an external pot's key needs arg or env (or both)");
  }
  if (const auto* d = obj.if_contains("description")) {
    k.description = string_at(*d, at, p + ".description", true);
  }
  if (const auto* d = obj.if_contains("default")) {
    std::string text;
    if (k.type == Type::string && d->is_string()) {
      text = std::string(d->get_string());
    } else if (k.type == Type::integer && (d->is_int64() || d->is_uint64())) {
      text = std::to_string(int_at(*d, at, p + ".default"));
    } else if (k.type == Type::boolean && d->is_bool()) {
      text = d->get_bool() ? "true" : "false";
    } else {
      at.fail(p + ".default", fmt::format("must be a JSON {}", type == "integer" ? "integer" : type));
    }
    std::string normalised;
    if (auto rule = normalize_value(k, text, normalised)) {
      at.fail(p + ".default", fmt::format("{} {}", shown(text), *rule));
    }
    k.default_value = std::move(normalised);
  }
  return k;
}

void parse_setup(const json::value& v, const Where& at, CatalogEntry& e) {
  const auto& obj = object_at(v, at, "setup");
  if (e.kind == CatalogEntry::Kind::honeycomb_service) {
    only_keys(obj, {"service"}, at, "setup");
    e.service = string_at(required_at(obj, "service", at, "setup.service"), at, "setup.service");
    if (!is_lower_ident(e.service)) {
      at.fail("setup.service", fmt::format("{} is not a service name (^[a-z_][a-z0-9_]*$)", shown(e.service)));
    }
    return;
  }
  only_keys(obj, {"source", "install", "run", "env"}, at, "setup");
  const auto& src = object_at(required_at(obj, "source", at, "setup.source"), at, "setup.source");
  only_keys(src, {"folder", "git_url", "git_branch"}, at, "setup.source");
  const bool has_folder = src.contains("folder");
  const bool has_git = src.contains("git_url");
  if (has_folder == has_git) {
    at.fail("setup.source", "needs exactly one of folder or git_url");
  }
  if (has_folder) {
    e.source.folder = string_at(src.at("folder"), at, "setup.source.folder");
    if (src.contains("git_branch")) {
      at.fail("setup.source.git_branch", "only with git_url");
    }
  } else {
    e.source.git_url = string_at(src.at("git_url"), at, "setup.source.git_url");
    if (auto rule = check_git_url(e.source.git_url)) {
      at.fail("setup.source.git_url", fmt::format("{} {}", shown(e.source.git_url), *rule));
    }
    if (const auto* b = src.if_contains("git_branch")) {
      e.source.git_branch = string_at(*b, at, "setup.source.git_branch");
      if (auto rule = check_git_branch(*e.source.git_branch)) {
        at.fail("setup.source.git_branch", fmt::format("{} {}", shown(*e.source.git_branch), *rule));
      }
    }
  }
  if (const auto* inst = obj.if_contains("install")) {
    if (!inst->is_array()) {
      at.fail("setup.install", "must be an array of commands (each an array of strings)");
    }
    std::size_t i = 0;
    for (const auto& cmd : inst->get_array()) {
      e.install.push_back(strings_at(cmd, at, fmt::format("setup.install[{}]", i++), true));
    }
  }
  e.run = strings_at(required_at(obj, "run", at, "setup.run"), at, "setup.run", true);
  if (const auto* env = obj.if_contains("env")) {
    for (const auto& kv : object_at(*env, at, "setup.env")) {
      const std::string name(kv.key());
      const std::string key = "setup.env." + name;
      if (!is_env_name(name)) {
        at.fail(key, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
      }
      if (name.starts_with("HONEYBEE_")) {
        at.fail(key, "HONEYBEE_* variables are set by the node");
      }
      e.env.emplace_back(name, string_at(kv.value(), at, key, true));
    }
  }
}

CatalogEntry parse_entry(const json::value& v, Where at, std::size_t index, const std::set<std::string>& seen) {
  at.pot = fmt::format("pots[{}]", index);
  const auto& obj = object_at(v, at, "");
  CatalogEntry e;
  e.id = string_at(required_at(obj, "id", at, "id"), at, "id");
  if (!is_entry_id(e.id)) {
    at.fail("id",
            fmt::format("{} must be 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit", shown(e.id)));
  }
  at.pot = fmt::format("pot \"{}\"", e.id);
  if (seen.contains(e.id)) {
    at.fail("id", "is listed twice");
  }
  only_keys(obj,
            {"id", "name", "version", "type", "description", "protocols", "default_ports", "requirements", "setup",
             "honeybee", "config"},
            at, "");
  e.name = string_at(required_at(obj, "name", at, "name"), at, "name");
  e.version = string_at(required_at(obj, "version", at, "version"), at, "version");
  e.description = string_at(required_at(obj, "description", at, "description"), at, "description");
  const std::string type = string_at(required_at(obj, "type", at, "type"), at, "type");
  if (type == "honeycomb-service") {
    e.kind = CatalogEntry::Kind::honeycomb_service;
  } else if (type == "external") {
    e.kind = CatalogEntry::Kind::external;
  } else {
    at.fail("type", fmt::format("{} is not honeycomb-service or external", shown(type)));
  }
  if (const auto* p = obj.if_contains("protocols")) {
    e.protocols = strings_at(*p, at, "protocols", false);
  }
  if (const auto* p = obj.if_contains("default_ports")) {
    if (!p->is_array()) {
      at.fail("default_ports", "must be an array of port numbers");
    }
    std::size_t i = 0;
    for (const auto& port : p->get_array()) {
      const std::string key = fmt::format("default_ports[{}]", i++);
      const auto n = int_at(port, at, key);
      if (n < 1 || n > 65535) {
        at.fail(key, "must be 1..65535");
      }
      e.default_ports.push_back(static_cast<std::uint16_t>(n));
    }
  }
  if (const auto* r = obj.if_contains("requirements")) {
    e.requirements = strings_at(*r, at, "requirements", false);
    for (std::size_t i = 0; i < e.requirements.size(); ++i) {
      if (!is_command_name(e.requirements[i])) {
        at.fail(fmt::format("requirements[{}]", i),
                fmt::format("{} is not a command name (looked up on PATH: no '/')", shown(e.requirements[i])));
      }
    }
  }
  parse_setup(required_at(obj, "setup", at, "setup"), at, e);

  const auto& hb = object_at(required_at(obj, "honeybee", at, "honeybee"), at, "honeybee");
  only_keys(hb, {"event_port", "client"}, at, "honeybee");
  const auto& ep = required_at(hb, "event_port", at, "honeybee.event_port");
  if (!ep.is_bool()) {
    at.fail("honeybee.event_port", "must be true or false");
  }
  e.honeybee.event_port = ep.get_bool();
  e.honeybee.client = string_at(required_at(hb, "client", at, "honeybee.client"), at, "honeybee.client");
  static constexpr std::array<std::string_view, 7> clients = {"honeycomb", "python",        "php", "cpp",
                                                              "shell",     "cowrie-output", "none"};
  if (std::find(clients.begin(), clients.end(), e.honeybee.client) == clients.end()) {
    at.fail("honeybee.client", fmt::format("{} is not one of honeycomb, python, php, cpp, shell, cowrie-output, none",
                                           shown(e.honeybee.client)));
  }

  if (const auto* c = obj.if_contains("config")) {
    if (!c->is_array()) {
      at.fail("config", "must be an array of keys");
    }
    std::size_t i = 0;
    for (const auto& item : c->get_array()) {
      auto key = parse_config_key(item, at, i++, e.kind);
      if (e.find_key(key.key) != nullptr) {
        at.fail("config." + key.key, "is listed twice");
      }
      e.config.push_back(std::move(key));
    }
  }
  return e;
}

// ---- planner helpers ------------------------------------------------------------

bool on_path(const std::string& name, const std::string& search_path) {
  std::size_t start = 0;
  while (start <= search_path.size()) {
    const auto end = std::min(search_path.find(':', start), search_path.size());
    const std::string dir = search_path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) {
      continue;  // an empty entry means ".": never for the node
    }
    std::string candidate = dir;
    candidate += '/';
    candidate += name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

/// argv[0] with a '/' that is relative names a file of the pot: made
/// absolute, as PotSpec wants. A bare name stays (looked up on PATH).
std::vector<std::string> anchored(std::vector<std::string> argv, const fs::path& workdir) {
  if (!argv.empty() && argv[0].find('/') != std::string::npos && argv[0][0] != '/') {
    argv[0] = (workdir / argv[0]).lexically_normal().string();
  }
  return argv;
}

}  // namespace

const CatalogEntry::ConfigKey* CatalogEntry::find_key(std::string_view key) const {
  for (const auto& k : config) {
    if (k.key == key) {
      return &k;
    }
  }
  return nullptr;
}

std::variant<Potstore, std::string> Potstore::parse(std::string_view text, const fs::path& file) {
  Where at{file.string(), {}};
  Potstore store;
  store.file_ = file;
  try {
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) {
      at.fail("", "not valid JSON: " + ec.message());
    }
    const auto& obj = object_at(root, at, "(top level)");
    only_keys(obj, {"version", "pots"}, at, "");
    const auto version = int_at(required_at(obj, "version", at, "version"), at, "version");
    if (version != 1) {
      at.fail("version", fmt::format("{} is not supported (this node reads version 1)", version));
    }
    const auto& pots = required_at(obj, "pots", at, "pots");
    if (!pots.is_array()) {
      at.fail("pots", "must be an array");
    }
    std::set<std::string> seen;
    std::size_t i = 0;
    for (const auto& item : pots.get_array()) {
      store.entries_.push_back(parse_entry(item, at, i++, seen));
      seen.insert(store.entries_.back().id);
    }
  } catch (const CatalogError& e) {
    return e.text;
  }
  return store;
}

std::variant<Potstore, std::string> Potstore::load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return file.string() + ": cannot be read";
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

const CatalogEntry* Potstore::find(std::string_view id) const {
  for (const auto& e : entries_) {
    if (e.id == id) {
      return &e;
    }
  }
  return nullptr;
}

fs::path default_potstore_file() {
  if (const char* file = std::getenv("HONEYCOMB_POTSTORE"); file != nullptr && *file != '\0') {
    return file;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "share" / "honeycomb" / "potstore" / "potstore.json";
}

std::variant<InstallPlan, std::string> plan_install(const Potstore& store, const protocol::InstallPot& cmd,
                                                    const InstallPaths& paths) {
  using Kind = CatalogEntry::Kind;
  using Type = CatalogEntry::ConfigKey::Type;
  if (!valid_pot_id(cmd.pot_id)) {
    return fmt::format("invalid pot id {}: 1..64 characters of [A-Za-z0-9._-], not starting with '.' or '-'",
                       shown(cmd.pot_id));
  }
  const std::string pot = fmt::format("pot \"{}\"", cmd.pot_id);
  const CatalogEntry* entry = store.find(cmd.honeypot_type);
  if (entry == nullptr) {
    std::vector<std::string> known;
    for (const auto& e : store.entries()) {
      known.push_back(e.id);
    }
    return fmt::format("{}: unknown honeypot_type {} (known: {})", pot, shown(cmd.honeypot_type), join(known, ", "));
  }
  const std::string what = fmt::format("{} ({})", pot, entry->id);

  // Where the files come from (external pots: InstallPot may name a repository).
  CatalogEntry::Source source = entry->source;
  if (cmd.git_url || cmd.git_branch) {
    if (entry->kind != Kind::external) {
      return fmt::format("{}: git_url and git_branch apply to external pots only ({} is a honeycomb service)", what,
                         entry->id);
    }
    if (cmd.git_url) {
      source = CatalogEntry::Source{{}, *cmd.git_url, cmd.git_branch};
    } else if (source.is_git()) {
      source.git_branch = cmd.git_branch;
    } else {
      return fmt::format("{}: git_branch without git_url, and {} is installed from a folder", what, entry->id);
    }
  }
  if (source.is_git()) {
    if (auto rule = check_git_url(source.git_url)) {
      return fmt::format("{}: git_url {} {}", what, shown(source.git_url), *rule);
    }
    if (source.git_branch) {
      if (auto rule = check_git_branch(*source.git_branch)) {
        return fmt::format("{}: git_branch {} {}", what, shown(*source.git_branch), *rule);
      }
    }
  }

  // Config: every key known, every value valid, defaults filled in.
  const std::map<std::string, std::string> given = cmd.config.value_or(std::map<std::string, std::string>{});
  std::vector<std::optional<std::string>> values(entry->config.size());
  for (const auto& [key, value] : given) {
    const auto* k = entry->find_key(key);
    if (k == nullptr) {
      std::vector<std::string> valid;
      for (const auto& c : entry->config) {
        valid.push_back(c.key);
      }
      return fmt::format("{}: unknown config key {} (valid keys: {})", what, shown(key),
                         valid.empty() ? std::string("none") : join(valid, ", "));
    }
    std::string normalised;
    if (auto rule = normalize_value(*k, value, normalised)) {
      return fmt::format("{}: config key \"{}\": value {} {}", what, key, shown(value), *rule);
    }
    values[static_cast<std::size_t>(k - entry->config.data())] = std::move(normalised);
  }
  for (std::size_t i = 0; i < entry->config.size(); ++i) {
    const auto& k = entry->config[i];
    if (!values[i]) {
      values[i] = k.default_value;
    }
    if (!values[i] && k.required) {
      return fmt::format("{}: missing required config key \"{}\"", what, k.key);
    }
  }

  // Requirements, looked up where the node will look for them.
  std::vector<std::string> needed = entry->requirements;
  if (source.is_git() && std::find(needed.begin(), needed.end(), "git") == needed.end()) {
    needed.insert(needed.begin(), "git");
  }
  std::string search_path;
  if (paths.search_path) {
    search_path = *paths.search_path;
  } else if (const char* p = std::getenv("PATH"); p != nullptr) {
    search_path = p;
  }
  for (const auto& req : needed) {
    if (!on_path(req, search_path)) {
      return fmt::format("{}: requirement \"{}\" not found on PATH ({})", what, req, search_path);
    }
  }

  InstallPlan plan;
  PotSpec& spec = plan.spec;
  spec.pot_id = cmd.pot_id;
  spec.honeypot_type = entry->id;
  spec.config = given;
  spec.auto_start = cmd.auto_start;
  const fs::path pot_dir = paths.pots_dir / cmd.pot_id;

  if (entry->kind == Kind::honeycomb_service) {
    spec.workdir = pot_dir;
    spec.source = fmt::format("honeycomb service {} (potstore {})", entry->service, store.file().string());
    // A home per pot: two pots of one service must not share its pidfile
    // (`service run` refuses a service whose pidfile names a live process).
    std::vector<std::string> base = {paths.honeycomb_exe.string(), "--home", (pot_dir / "home").string()};
    if (paths.iamroot) {
      base.emplace_back("--iamroot");
    }
    // `service install` / `integration install` exit with already_exists
    // (src/cli/commands.hpp) when the plugin is there: that is success here.
    constexpr int kAlreadyExists = 17;
    auto step = [&](std::string what_text, std::initializer_list<const char*> tail) {
      InstallStep s;
      s.what = std::move(what_text);
      s.argv = base;
      s.argv.insert(s.argv.end(), tail.begin(), tail.end());
      s.workdir = pot_dir;
      s.ok_exit_codes = {0, kAlreadyExists};
      return s;
    };
    InstallStep service_step = step("install service " + entry->service, {"service", "install"});
    service_step.argv.push_back(entry->service);
    plan.steps.push_back(std::move(service_step));
    plan.steps.push_back(step("install integration honeybee", {"integration", "install", "honeybee"}));

    spec.argv = base;
    spec.argv.insert(spec.argv.end(), {"service", "run", entry->service});
    for (std::size_t i = 0; i < entry->config.size(); ++i) {
      if (values[i]) {
        // "key=value" always starts with the key: never read as an option.
        spec.argv.push_back(entry->config[i].key + "=" + *values[i]);
      }
    }
    spec.argv.insert(spec.argv.end(), {"-i", "honeybee"});
    return plan;
  }

  // External pot.
  const fs::path workdir = pot_dir / "app";
  spec.workdir = workdir;
  if (source.is_git()) {
    InstallStep clone;
    clone.what = "clone " + source.git_url + (source.git_branch ? " (branch " + *source.git_branch + ")" : "");
    clone.argv = {"git", "clone", "--depth", "1"};
    if (source.git_branch) {
      clone.argv.insert(clone.argv.end(), {"--branch", *source.git_branch});
    }
    clone.argv.insert(clone.argv.end(), {"--", source.git_url, workdir.string()});
    clone.workdir = pot_dir;
    clone.env = {{"GIT_TERMINAL_PROMPT", "0"}};  // fail instead of waiting for a password
    plan.steps.push_back(std::move(clone));
    spec.source = "git " + source.git_url + (source.git_branch ? " branch " + *source.git_branch : "");
  } else {
    fs::path folder = source.folder;
    if (folder.is_relative()) {
      folder = (paths.catalog_dir.empty() ? store.dir() : paths.catalog_dir) / folder;
    }
    folder = folder.lexically_normal();
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) {
      return fmt::format("{}: source folder {} does not exist", what, folder.string());
    }
    plan.copy_from = folder;
    spec.source = "folder " + folder.string();
  }
  for (const auto& argv : entry->install) {
    InstallStep s;
    s.argv = anchored(argv, workdir);
    s.what = "install: " + join(argv, " ");
    s.workdir = workdir;
    s.env = entry->env;
    s.as_pot = true;
    plan.steps.push_back(std::move(s));
  }

  spec.argv = anchored(entry->run, workdir);
  spec.env = entry->env;
  for (std::size_t i = 0; i < entry->config.size(); ++i) {
    const auto& k = entry->config[i];
    if (!values[i]) {
      continue;
    }
    const std::string& value = *values[i];
    if (k.arg) {
      const auto pos = k.arg->find("{value}");
      if (pos == std::string::npos) {
        if (value == "true") {  // a boolean flag
          spec.argv.push_back(*k.arg);
        }
      } else {
        // A value that is the start of its element could pass for an option.
        if (pos == 0 && !value.empty() && value[0] == '-' && k.type != Type::integer) {
          return fmt::format("{}: config key \"{}\": value {} may not start with '-' (it would be read as an option)",
                             what, k.key, shown(value));
        }
        spec.argv.push_back(k.arg->substr(0, pos) + value + k.arg->substr(pos + 7));
      }
    }
    if (k.env) {
      spec.env.emplace_back(*k.env, value);
    }
  }
  return plan;
}

}  // namespace honeycomb::node
