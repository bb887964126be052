// The WebSocket stream's client input on hostile bytes: the upgrade request
// (Beast's request_parser with the server's header limit and no body), a
// client message ({"filter":{...}}, {"token":"...","filter":{...}}) parsed
// as the server parses it, and the filter it carries (parse_filter), which
// is then matched against stream items and queued through a ClientQueue.
// An accepted filter must come back the same from its canonical JSON; an
// error text must make a valid JSON reply; a CIDR's text must parse back to
// itself; nothing may crash, leak or hang.
#include "core/metrics.hpp"
#include "core/ws/client_queue.hpp"
#include "core/ws/stream_filter.hpp"
#include "memory_stream.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using honeycomb::core::StreamItem;
using honeycomb::core::ws::Cidr;
using honeycomb::core::ws::StreamFilter;

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

/// The server's error reply ({"type":"error","message":...}) must be JSON
/// a client can parse.
void check_error_reply(std::string_view message) {
  require(!message.empty());
  json::object o;
  o["type"] = "error";
  o["message"] = message;
  boost::system::error_code ec;
  const auto back = json::parse(json::serialize(o), ec);
  require(!ec && back.is_object());
}

std::vector<std::shared_ptr<const StreamItem>> items_from(std::string_view input) {
  std::vector<std::shared_ptr<const StreamItem>> items;
  static const std::array<std::string_view, 6> addresses = {"10.1.2.3",     "::ffff:10.1.2.3", "2001:db8::1",
                                                            "fe80::1%eth0", "not an address",  ""};
  for (std::size_t i = 0; i < 8; ++i) {
    auto item = std::make_shared<StreamItem>();
    item->kind = static_cast<StreamItem::Kind>(i % 4);
    item->node_id = i % 3 == 0 ? 16298147445003569694ULL : i;
    item->pot_id = i % 2 == 0 ? "cowrie-01" : "web-01";
    item->pot_type = i % 2 == 0 ? "cowrie" : "http";
    item->event_type = i % 4 == 0 ? "cowrie.login.failed" : "http.request";
    item->src_ip = std::string(addresses[i % addresses.size()]);
    item->json = "{}";
    items.push_back(std::move(item));
  }
  // The input's own text as an address too (a honeypot's src_ip is any text).
  auto item = std::make_shared<StreamItem>();
  item->src_ip = std::string(input.substr(0, 80));
  items.push_back(std::move(item));
  return items;
}

void check_filter(const StreamFilter& filter, std::string_view input) {
  // Canonical JSON parses back to a filter that says the same.
  const auto canonical = filter.to_json();
  auto again = honeycomb::core::ws::parse_filter(canonical);
  require(again.has_value());
  require(json::serialize(again->to_json()) == json::serialize(canonical));

  honeycomb::core::Metrics metrics;
  honeycomb::core::ws::ClientQueue queue(3, metrics);
  queue.set_filter(filter);
  std::size_t matched = 0;
  for (const auto& item : items_from(input)) {
    const bool match = filter.matches(*item);
    require(match == again->matches(*item));
    matched += match ? 1 : 0;
    (void)queue.offer(item);
  }
  std::size_t taken = 0;
  std::uint64_t missed = 0;
  while (auto next = queue.next()) {
    taken += next->item ? 1 : 0;
    missed += next->missed;
  }
  require(taken <= 3 && taken + missed == matched);
}

/// A text message as WsServer reads it, once authenticated (on_message) and
/// as the first message (read_token_message).
void check_message(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  const auto* object = value.if_object();
  if (ec || object == nullptr) {
    return;
  }
  for (const auto& [key, v] : *object) {
    if (key == "filter") {
      auto parsed = honeycomb::core::ws::parse_filter(v);
      if (!parsed) {
        check_error_reply(parsed.error());
      } else {
        check_filter(*parsed, text);
      }
    } else if (key != "token") {
      // WsServer's reply to an unknown key quotes it so.
      check_error_reply("unknown key '" + std::string(honeycomb::core::ws::error_quote(key)) + "' (known: filter)");
    }
  }
  // Anything may stand where a filter goes.
  auto whole = honeycomb::core::ws::parse_filter(value);
  if (!whole) {
    check_error_reply(whole.error());
  } else {
    check_filter(*whole, text);
  }
}

void check_cidr(std::string_view text) {
  auto cidr = Cidr::parse(text);
  if (!cidr) {
    require(!cidr.error().empty());  // quotes the text: only JSON strings reach it in the server
    return;
  }
  const auto canonical = cidr->text();
  auto again = Cidr::parse(canonical);
  require(again.has_value() && again->text() == canonical);
  for (std::string_view address : {"10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1", "::", "255.255.255.255"}) {
    require(cidr->contains(address) == again->contains(address));
  }
  (void)cidr->contains(text);
}

/// The upgrade request, with the server's limits.
void check_upgrade(std::string_view bytes, std::size_t chunk) {
  honeycomb::fuzz::MemoryStream stream(bytes, chunk);
  boost::beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(0);
  boost::system::error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return;
  }
  const auto request = parser.release();
  (void)boost::beast::websocket::is_upgrade(request);
  const auto target = request.target();
  (void)target.substr(0, target.find('?'));
  (void)request[http::field::authorization];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  check_message(input);
  check_cidr(input.substr(0, 128));
  check_upgrade(input, size == 0 ? 1 : 1 + data[0] % 97);
  return 0;
}
