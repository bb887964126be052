// An alert after the host accepted it: stamped, rendered once to JSON, and
// shared read-only by every output (debug log, integrations).
#pragma once

#include "plugin/config.hpp"

#include <honeycomb/alert.hpp>

#include <memory>
#include <string>
#include <vector>

namespace honeycomb::pipeline {

struct AlertRecord {
  std::string id;                 ///< UUID4
  std::string timestamp;          ///< ISO 8601 UTC, microseconds, `Z`
  std::string service;            ///< service name
  std::string event_type;
  std::string event_description;  ///< the event type's label
  plugin::Policy policy = plugin::Policy::alert;
  std::vector<std::pair<std::string, Value>> fields;  ///< as the service set them
  std::string json;  ///< the whole alert as one JSON object, no newline

  /// True when `name` is set (and not null) on this alert.
  [[nodiscard]] bool has_field(std::string_view name) const;
  /// The field's value, or nullptr.
  [[nodiscard]] const Value* field(std::string_view name) const;
};

using AlertRecordPtr = std::shared_ptr<const AlertRecord>;

/// Stamps and renders an alert. `event` must be the alert's event type.
AlertRecordPtr make_record(Alert&& alert, const plugin::EventTypeSpec& event, std::string_view service);

/// The current time as ISO 8601 UTC with microseconds and `Z`.
std::string iso8601_now();
/// A random (version 4) UUID in canonical text form.
std::string uuid4();

}  // namespace honeycomb::pipeline
