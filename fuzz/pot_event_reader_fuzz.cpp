// The core sessions' direct PotEvent reader (core/pot_event_reader.hpp)
// against the general path it stands in for, on hostile bytes. The input
// goes through two Framers, in chunks whose size the first input byte picks
// (' ': all at once): one parses every value (protocol::decode, then
// events::normalize for a PotEvent), the other first offers each line to
// read_pot_event. Both must
// report the same things in the same order: the same events (every field,
// and the record's text as the same JSON) and the same other values and
// errors.
#include "common/json_equal.hpp"
#include "core/pot_event_reader.hpp"
#include "events/normalize.hpp"
#include "protocol/codec.hpp"
#include "protocol/framer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace json = boost::json;
using honeycomb::core::ReadPotEvent;

constexpr std::int64_t kNow = 1'795'352'890'000'000;

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

using honeycomb::json_equal::same_json;

/// What one Framer reported: an event, or another value or an error as text.
struct Report {
  std::optional<ReadPotEvent> event;
  std::string other;
};

Report general(json::value&& v) {
  auto decoded = honeycomb::protocol::decode(std::move(v));
  if (auto* err = std::get_if<honeycomb::protocol::DecodeError>(&decoded)) {
    return {std::nullopt, "decode error: " + err->reason};
  }
  auto& d = std::get<honeycomb::protocol::Decoded>(decoded);
  auto* m = std::get_if<honeycomb::protocol::PotEvent>(&d.message);
  if (m == nullptr) {
    return {std::nullopt, "message: " + honeycomb::protocol::encode(d.message)};
  }
  honeycomb::events::Envelope env;
  env.node_id = m->node_id;
  env.pot_id = m->pot_id;
  env.pot_type = m->pot_type;
  env.event_type = m->event_type;
  env.timestamp = m->timestamp;
  env.event_id = m->event_id.value_or("");
  return {ReadPotEvent{honeycomb::events::normalize(m->data, env, kNow), m->seq}, {}};
}

void require_same(const Report& a, const Report& b) {
  require(a.other == b.other);
  require(a.event.has_value() == b.event.has_value());
  if (!a.event) {
    return;
  }
  const auto &x = a.event->event, &y = b.event->event;
  require(x.event_id == y.event_id && x.received_us == y.received_us && x.event_us == y.event_us);
  require(x.node_id == y.node_id && x.pot_id == y.pot_id && x.pot_type == y.pot_type && x.event_type == y.event_type);
  require(x.src_ip == y.src_ip && x.src_port == y.src_port && x.dst_ip == y.dst_ip && x.dst_port == y.dst_port);
  require(x.username == y.username && x.password == y.password && x.command == y.command);
  require(x.session == y.session && x.url == y.url && x.message == y.message);
  require(a.event->seq == b.event->seq);
  json::error_code ec;
  const auto rx = json::parse(x.raw_json, ec);
  require(!ec);
  const auto ry = json::parse(y.raw_json, ec);
  require(!ec);
  require(same_json(rx, ry));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t chunk = data[0] == ' ' ? size : 1 + data[0] % 97;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::size_t kMax = 4096;

  std::vector<Report> expected;
  honeycomb::protocol::Framer plain(kMax);
  const honeycomb::protocol::Framer::Sink plain_sink{
      [&](json::value&& v) { expected.push_back(general(std::move(v))); },
      [&](std::string_view reason) {
        expected.push_back({std::nullopt, "error: " + std::string(reason)});
      },
  };
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    plain.feed(input.substr(at, chunk), plain_sink);
  }

  std::vector<Report> got;
  honeycomb::protocol::Framer fast(kMax, honeycomb::protocol::Framer::ValueMemory::scratch);
  const honeycomb::protocol::Framer::Sink fast_sink{
      [&](json::value&& v) { got.push_back(general(std::move(v))); },
      [&](std::string_view reason) {
        got.push_back({std::nullopt, "error: " + std::string(reason)});
      },
      [&](std::string_view line) {
        auto event = honeycomb::core::read_pot_event(line, kNow);
        if (!event) {
          return false;
        }
        got.push_back({std::move(event), {}});
        return true;
      },
  };
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    fast.feed(input.substr(at, chunk), fast_sink);
  }

  require(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    require_same(got[i], expected[i]);
  }
  return 0;
}
