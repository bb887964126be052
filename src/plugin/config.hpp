// The plugin format: service and integration `config.json`, parsed into small
// named types and validated by the reference framework's rules
// (../shared/specs/honeycomb-plugin-api.md). Validation never throws: it
// returns a ConfigError naming the file, the key and the rule broken.
#pragma once

#include <honeycomb/alert.hpp>

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace honeycomb::plugin {

/// A rule of the plugin format that a file breaks.
struct ConfigError {
  std::string file;  ///< path of the offending file
  std::string key;   ///< dotted key, e.g. `parameters[1].type`
  std::string rule;  ///< what was expected

  [[nodiscard]] std::string message() const;
};

/// Either a value or the ConfigError that prevented it.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(ConfigError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  [[nodiscard]] const ConfigError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ConfigError> v_;
};

enum class PluginKind { service, integration };

enum class ParamType { text, integer, boolean, file, string, select, password };
std::string_view to_string(ParamType t);

struct SelectItem {
  std::string value;
  std::string label;
};

/// One entry of `parameters`.
struct ParameterSpec {
  std::string name;  ///< the `value` key
  ParamType type = ParamType::text;
  std::string label;
  std::string help_text;
  bool required = false;
  std::optional<Value> default_value;
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  std::string validator;
  std::vector<SelectItem> items;
};

/// What happens to an alert of an event type.
enum class Policy {
  alert,  ///< logged and sent to every integration
  mute,   ///< logged; sent only to integrations that accept muted alerts
  ignore  ///< logged only
};
std::string_view to_string(Policy p);

struct EventTypeSpec {
  std::string name;
  std::string label;
  std::vector<std::string> fields;
  Policy policy = Policy::alert;
};

struct PortSpec {
  std::string protocol;          ///< "TCP" or "UDP"
  std::optional<int> port;       ///< nullopt for "*"
};

/// A service's config.json.
struct ServiceSpec {
  std::filesystem::path folder;
  std::string name;
  std::string label;
  std::string description;
  bool allow_many = false;
  std::string supported_os_families = "All";
  std::vector<PortSpec> ports;
  std::vector<std::string> conflicts_with;
  std::vector<EventTypeSpec> event_types;
  std::vector<ParameterSpec> parameters;

  [[nodiscard]] const EventTypeSpec* find_event_type(std::string_view type) const;
};

/// An integration's config.json.
struct IntegrationSpec {
  std::filesystem::path folder;
  std::string name;  ///< folder name
  std::string display_name;
  std::string description;
  std::string integration_type = "event_output";
  std::vector<std::string> supported_event_types;  ///< empty: all
  std::vector<std::string> required_fields;
  int max_send_retries = 0;
  bool polling_enabled = false;
  int polling_duration = 0;
  bool test_connection_enabled = false;
  bool accepts_muted = false;  ///< extension: receives Mute-policy alerts
  std::vector<ParameterSpec> parameters;
};

/// The alert fields the reference framework knows; `fields` may name only these.
const std::vector<std::string>& known_alert_fields();

/// Parses and validates `<folder>/config.json` of a service.
Result<ServiceSpec> load_service_spec(const std::filesystem::path& folder);
/// Parses and validates `<folder>/config.json` of an integration.
Result<IntegrationSpec> load_integration_spec(const std::filesystem::path& folder);
/// Validation of already-parsed JSON (also used by the fuzz target).
Result<ServiceSpec> parse_service_spec(const boost::json::value& doc, const std::string& file);
Result<IntegrationSpec> parse_integration_spec(const boost::json::value& doc, const std::string& file);
/// Reads a whole file as JSON; errors name the file and the parse position.
Result<boost::json::value> read_json_file(const std::filesystem::path& path);

}  // namespace honeycomb::plugin
