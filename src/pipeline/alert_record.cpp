#include "pipeline/alert_record.hpp"

#include "common/json_text.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace honeycomb::pipeline {

bool AlertRecord::has_field(std::string_view name) const {
  const Value* v = field(name);
  return v != nullptr && !std::holds_alternative<std::nullptr_t>(*v);
}

const Value* AlertRecord::field(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) {
      return &v;
    }
  }
  return nullptr;
}

std::string iso8601_now() {
  // Formatting the date costs more than the rest of an alert; cache it per
  // second and per thread.
  thread_local std::int64_t cached_second = -1;
  thread_local std::array<char, 32> prefix{};
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::int64_t second = us / 1'000'000;
  if (second != cached_second) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(prefix.data(), prefix.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = second;
  }
  std::array<char, 48> out{};
  const int n = std::snprintf(out.data(), out.size(), "%s.%06dZ", prefix.data(), static_cast<int>(us % 1'000'000));
  return {out.data(), static_cast<std::size_t>(n)};
}

std::string uuid4() {
  thread_local boost::uuids::random_generator generator;
  return boost::uuids::to_string(generator());
}

AlertRecordPtr make_record(Alert&& alert, const plugin::EventTypeSpec& event, std::string_view service) {
  auto r = std::make_shared<AlertRecord>();
  r->id = uuid4();
  r->timestamp = iso8601_now();
  r->service = service;
  r->event_type = std::move(alert.event_type);
  r->event_description = event.label;
  r->policy = event.policy;
  r->fields = std::move(alert.fields);

  std::string& j = r->json;
  j.reserve(256);
  j += R"({"id":")";
  j += r->id;
  j += R"(","timestamp":")";
  j += r->timestamp;
  j += R"(","event_type":)";
  json_text::append_string(j, r->event_type);
  j += R"(,"event_description":)";
  json_text::append_string(j, r->event_description);
  j += R"(,"status":")";
  j += plugin::to_string(r->policy);
  j += R"(","service":)";
  json_text::append_string(j, r->service);
  for (const auto& [k, v] : r->fields) {
    // The host's stamps win over fields of the same name.
    if (k == "id" || k == "timestamp" || k == "event_type" || k == "event_description" || k == "status" ||
        k == "service") {
      continue;
    }
    j.push_back(',');
    json_text::append_string(j, k);
    j.push_back(':');
    json_text::append_value(j, v);
  }
  j.push_back('}');
  return r;
}

}  // namespace honeycomb::pipeline
