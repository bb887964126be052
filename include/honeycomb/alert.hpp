// Public SDK: the alert a service raises and the parameters it receives.
//
// Only standard-library types cross this boundary so that an out-of-tree
// plugin built with the same compiler can be loaded as a shared object.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb {

/// One value of an alert field or a service parameter.
using Value = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string>;

/// An alert as a service raises it: the event type (one of the service's
/// `event_types` in config.json) and the fields of that event type.
/// The host stamps `id`, `timestamp`, `status` and `event_description`.
struct Alert {
  std::string event_type;
  std::vector<std::pair<std::string, Value>> fields;

  Alert() = default;
  explicit Alert(std::string type) : event_type(std::move(type)) {}

  /// Adds a field; returns *this so calls chain.
  Alert& set(std::string key, Value value) {
    fields.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Alert& set(std::string key, const char* value) { return set(std::move(key), Value{std::string(value)}); }
  Alert& set(std::string key, std::string value) { return set(std::move(key), Value{std::move(value)}); }
  Alert& set(std::string key, std::string_view value) { return set(std::move(key), Value{std::string(value)}); }
  Alert& set(std::string key, std::int64_t value) { return set(std::move(key), Value{value}); }
  Alert& set(std::string key, int value) { return set(std::move(key), Value{std::int64_t{value}}); }
  Alert& set(std::string key, unsigned value) { return set(std::move(key), Value{std::int64_t{value}}); }
};

/// The validated parameters of a service run (`key=value` arguments merged
/// with config.json defaults). Immutable once the service starts.
class ServiceArgs {
 public:
  ServiceArgs() = default;
  explicit ServiceArgs(std::map<std::string, Value, std::less<>> values) : values_(std::move(values)) {}

  /// The parameter as T, or `fallback` when absent or of another type.
  template <typename T>
  [[nodiscard]] T get(std::string_view name, T fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
      return fallback;
    }
    if constexpr (std::is_same_v<T, std::string>) {
      if (const auto* s = std::get_if<std::string>(&it->second)) {
        return *s;
      }
    } else if constexpr (std::is_same_v<T, bool>) {
      if (const auto* b = std::get_if<bool>(&it->second)) {
        return *b;
      }
    } else if constexpr (std::is_integral_v<T>) {
      if (const auto* i = std::get_if<std::int64_t>(&it->second)) {
        return static_cast<T>(*i);
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      if (const auto* d = std::get_if<double>(&it->second)) {
        return static_cast<T>(*d);
      }
      if (const auto* i = std::get_if<std::int64_t>(&it->second)) {
        return static_cast<T>(*i);
      }
    }
    return fallback;
  }
  [[nodiscard]] std::string get(std::string_view name, const char* fallback) const {
    return get<std::string>(name, std::string(fallback));
  }
  [[nodiscard]] bool contains(std::string_view name) const { return values_.find(name) != values_.end(); }
  [[nodiscard]] const std::map<std::string, Value, std::less<>>& all() const { return values_; }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace honeycomb
