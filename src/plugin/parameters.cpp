#include "plugin/parameters.hpp"

#include "common/json_text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace honeycomb::plugin {

Value convert_argument(std::string_view raw) {
  static constexpr std::string_view truthy[] = {"true", "True", "y", "Y", "yes"};
  static constexpr std::string_view falsy[] = {"false", "False", "n", "N", "no"};
  if (std::find(std::begin(truthy), std::end(truthy), raw) != std::end(truthy)) {
    return true;
  }
  if (std::find(std::begin(falsy), std::end(falsy), raw) != std::end(falsy)) {
    return false;
  }
  if (!raw.empty() && raw.size() <= 18 && std::all_of(raw.begin(), raw.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    std::int64_t n = 0;
    std::from_chars(raw.data(), raw.data() + raw.size(), n);
    return n;
  }
  return std::string(raw);
}

namespace {

std::string display(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return "None";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "True" : "False";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          return fmt::format("{}", x);
        }
      },
      v);
}

ParamError bad_value(const ParameterSpec& p, const Value& v, const std::string& why) {
  return {fmt::format("Parameters: Bad value for {}={} ({})", p.name, display(v), why)};
}

// Checks one value against its spec; returns the value coerced to the type.
std::variant<Value, ParamError> check(const ParameterSpec& p, Value v) {
  switch (p.type) {
    case ParamType::integer: {
      if (const auto* s = std::get_if<std::string>(&v)) {
        // A negative number or one with a sign arrives as a string.
        std::int64_t n = 0;
        auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
        if (ec != std::errc() || end != s->data() + s->size()) {
          return bad_value(p, v, "must be integer");
        }
        v = n;
      }
      if (!std::holds_alternative<std::int64_t>(v)) {
        return bad_value(p, v, "must be integer");
      }
      const auto n = std::get<std::int64_t>(v);
      if (p.min && n < *p.min) {
        return bad_value(p, v, fmt::format("must be higher than {}", *p.min));
      }
      if (p.max && n > *p.max) {
        return bad_value(p, v, fmt::format("must be lower than {}", *p.max));
      }
      if (p.validator == "port" && (n < 1 || n > 65535)) {
        return bad_value(p, v, "must be a port number from 1 to 65535");
      }
      return v;
    }
    case ParamType::boolean:
      if (!std::holds_alternative<bool>(v)) {
        return bad_value(p, v, "must be boolean");
      }
      return v;
    case ParamType::select: {
      const std::string s = display(v);
      if (std::none_of(p.items.begin(), p.items.end(), [&](const SelectItem& i) { return i.value == s; })) {
        std::string list;
        for (const auto& i : p.items) {
          list += (list.empty() ? "" : ", ") + i.value;
        }
        return bad_value(p, v, "must be one of: " + list);
      }
      return Value{s};
    }
    default: {
      // Text-like parameters take whatever was given, as text.
      std::string s = display(v);
      if (p.validator == "fqdn_ipv4" || p.validator == "ip") {
        const bool ok = !s.empty() && s.size() <= 253 &&
                        std::all_of(s.begin(), s.end(), [](char ch) {
                          return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-' ||
                                 ch == ':';
                        });
        if (!ok) {
          return bad_value(p, v, "must be a host name or an IP address");
        }
      }
      return Value{std::move(s)};
    }
  }
}

}  // namespace

std::variant<ServiceArgs, ParamError> validate_values(const std::vector<ParameterSpec>& specs,
                                                      std::map<std::string, Value, std::less<>> values) {
  for (const auto& p : specs) {
    auto it = values.find(p.name);
    if (it == values.end() || std::holds_alternative<std::nullptr_t>(it->second)) {
      if (p.default_value) {
        values[p.name] = *p.default_value;
        continue;
      }
      if (p.required) {
        return ParamError{fmt::format("Parameters: '{}' is missing (use --show_args to see all parameters)", p.name)};
      }
      continue;
    }
    auto checked = check(p, std::move(it->second));
    if (auto* e = std::get_if<ParamError>(&checked)) {
      return *e;
    }
    it->second = std::get<Value>(std::move(checked));
  }
  return ServiceArgs(std::move(values));
}

std::variant<ServiceArgs, ParamError> parse_arguments(const std::vector<ParameterSpec>& specs,
                                                      const std::vector<std::string>& args,
                                                      std::vector<std::string>* unknown) {
  std::map<std::string, Value, std::less<>> values;
  for (const auto& arg : args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return ParamError{fmt::format("Invalid parameter '{}', must be in key=value format", arg)};
    }
    std::string key = arg.substr(0, eq);
    if (unknown != nullptr &&
        std::none_of(specs.begin(), specs.end(), [&](const ParameterSpec& p) { return p.name == key; })) {
      unknown->push_back(key);
    }
    values[std::move(key)] = convert_argument(std::string_view(arg).substr(eq + 1));
  }
  return validate_values(specs, std::move(values));
}

std::string show_args_table(const std::vector<ParameterSpec>& specs) {
  std::string out = fmt::format("{:20} {:10} {:^15} {:^10} {:25}", "NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION");
  const std::size_t width = out.size();
  out += "\n" + std::string(width, '-') + "\n";
  for (const auto& p : specs) {
    std::string description = p.label;
    if (p.type == ParamType::select) {
      std::string list;
      for (const auto& i : p.items) {
        list += (list.empty() ? "" : ", ") + i.value;
      }
      description += " (valid options: " + list + ")";
    }
    if (!p.help_text.empty()) {
      description += " (" + p.help_text + ")";
    }
    const std::string def = p.default_value ? display(*p.default_value) : "";
    out += fmt::format("{:20} {:10} {:^15} {:^10} {:25}\n", p.name, to_string(p.type), def,
                       p.required ? "True" : "False", description);
  }
  return out;
}

boost::json::value args_to_json(const ServiceArgs& args) {
  boost::json::object o;
  for (const auto& [k, v] : args.all()) {
    o[k] = json_text::to_json(v);
  }
  return o;
}

std::map<std::string, Value, std::less<>> args_from_json(const boost::json::value& v) {
  std::map<std::string, Value, std::less<>> out;
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      out[std::string(kv.key())] = json_text::from_json(kv.value());
    }
  }
  return out;
}

}  // namespace honeycomb::plugin
