#include "pipeline/alert_record.hpp"

#include "common/json_text.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>

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

namespace {

// Writes `value` as exactly `width` decimal digits at `out`.
void put_digits(char* out, std::uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string iso8601_now() {
  // Formatting the date costs more than the rest of an alert; cache the
  // "YYYY-MM-DDTHH:MM:SS" part per second and per thread, and write the
  // microseconds by hand (snprintf was a visible share of an alert's cost).
  thread_local std::int64_t cached_second = -1;
  thread_local std::array<char, 32> prefix{};
  thread_local std::size_t prefix_size = 0;
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::int64_t second = us / 1'000'000;
  if (second != cached_second) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    prefix_size = std::strftime(prefix.data(), prefix.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = second;
  }
  std::array<char, 48> out{};
  std::memcpy(out.data(), prefix.data(), prefix_size);
  char* p = out.data() + prefix_size;
  *p++ = '.';
  put_digits(p, static_cast<std::uint64_t>(us % 1'000'000), 6);
  p += 6;
  *p++ = 'Z';
  return {out.data(), static_cast<std::size_t>(p - out.data())};
}

std::string uuid4() {
  // A per-thread generator seeded once from the OS: boost's default
  // random_generator made a getrandom() system call per UUID. IDs must be
  // unique, not unpredictable; 122 random bits from a 64-bit-state-pair
  // Mersenne twister per thread are plenty.
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::array<unsigned char, 16> bytes{};
  const std::uint64_t high = generator();
  const std::uint64_t low = generator();
  std::memcpy(bytes.data(), &high, 8);
  std::memcpy(bytes.data() + 8, &low, 8);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                               '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(36, '-');
  std::size_t pos = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      ++pos;  // the dash
    }
    out[pos++] = hex[bytes[i] >> 4U];
    out[pos++] = hex[bytes[i] & 0x0FU];
  }
  return out;
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
  // Sized so that the usual alert is rendered without a reallocation.
  std::size_t estimate = 160 + r->id.size() + r->timestamp.size() + r->event_type.size() +
                         r->event_description.size() + r->service.size();
  for (const auto& [k, v] : r->fields) {
    const auto* text = std::get_if<std::string>(&v);
    estimate += k.size() + (text != nullptr ? text->size() + 8 : 24) + 4;
  }
  j.reserve(estimate);
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
