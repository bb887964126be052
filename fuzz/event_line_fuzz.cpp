// The node's event port on hostile bytes: the stream is cut into reads
// (sizes from the first input byte), assembled into lines with a small size
// limit, and every line is checked. A line check_line accepts must become a
// PotEvent envelope that our own protocol decoder reads back as a PotEvent
// whose data is that line's object; an oversized line must become a valid
// anomaly event. Nothing may crash, hang or read out of bounds.
#include "node/event_line.hpp"
#include "node/line_assembler.hpp"
#include "node/pot_event.hpp"
#include "protocol/codec.hpp"

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void check_event_line(std::string_view line) {
  const auto check = honeycomb::node::check_line(line);
  if (check.kind != honeycomb::node::LineKind::event) {
    return;
  }
  std::string envelope;
  honeycomb::node::append_pot_event(envelope, 16298147445003569694ULL, 7, 1'700'000'000'000'000, "origin", line, true);
  require(!envelope.empty() && envelope.back() == '\n');
  require(envelope.find('\n') == envelope.size() - 1);  // one envelope, one line
  boost::system::error_code ec;
  auto value = boost::json::parse(envelope, ec);
  require(!ec);
  auto decoded = honeycomb::protocol::decode(value);
  require(std::holds_alternative<honeycomb::protocol::Decoded>(decoded));
  const auto& message = std::get<honeycomb::protocol::Decoded>(decoded).message;
  require(std::holds_alternative<honeycomb::protocol::PotEvent>(message));
  const auto& event = std::get<honeycomb::protocol::PotEvent>(message);
  require(event.seq == 7u);
  require(event.node_id == 16298147445003569694ULL);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  honeycomb::node::LineAssembler lines(512);
  std::vector<std::string> anomalies;
  auto on_line = [](std::string_view line) { check_event_line(line); };
  auto on_oversize = [&](std::string_view head, std::size_t total) {
    require(head.size() <= honeycomb::node::LineAssembler::kHeadBytes);
    require(total > 512);
    auto text = honeycomb::node::oversize_event(head, total, 512, "127.0.0.1:1", 0);
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    require(!ec && v.is_object());
  };
  while (!input.empty()) {
    const auto n = std::min(chunk, input.size());
    // A padded copy, as the event port's read buffer has slack after it.
    std::vector<char> buffer(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n));
    buffer.resize(n + honeycomb::node::LineAssembler::kPadding, '\0');
    lines.feed(std::string_view(buffer.data(), n), on_line, on_oversize);
    input.remove_prefix(n);
  }
  lines.finish(on_line, on_oversize);
  return 0;
}
