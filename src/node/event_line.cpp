#include "node/event_line.hpp"

#include "common/json_text.hpp"
#include "events/normalize.hpp"
#include "node/line_assembler.hpp"

#include <fmt/format.h>

#include <simdjson.h>

namespace honeycomb::node {

namespace {

simdjson::dom::parser& line_parser() {
  thread_local simdjson::dom::parser parser = []() {
    simdjson::dom::parser p;
    // On failure (no memory) parse() allocates on demand, with the default depth.
    const auto error = p.allocate(std::size_t{64} * 1024, kMaxEventDepth);
    static_cast<void>(error);
    return p;
  }();
  return parser;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

}  // namespace

LineCheck check_line(std::string_view line) {
  std::size_t first = 0;
  while (first < line.size() && is_blank(line[first])) {
    ++first;
  }
  if (first == line.size()) {
    return {LineKind::blank, {}};
  }
  if (line[first] != '{') {
    return {LineKind::malformed, "not a JSON object"};
  }
  auto& parser = line_parser();
  // The caller guarantees LineAssembler::kPadding (>= SIMDJSON_PADDING)
  // readable bytes after the line, so simdjson need not copy it.
  static_assert(LineAssembler::kPadding >= simdjson::SIMDJSON_PADDING);
  auto doc = parser.parse(line.data(), line.size(), false);
  if (doc.error() == simdjson::DEPTH_ERROR) {
    return {LineKind::malformed, "nested too deep"};
  }
  if (doc.error()) {
    return {LineKind::malformed, doc.error() == simdjson::UTF8_ERROR ? "invalid UTF-8" : "invalid JSON"};
  }
  LineCheck result{LineKind::event, {}, {}};
  const auto object = doc.get_object();
  if (!object.error()) {
    for (const char* key : {"pot_id", "honeybee_honeypot_id"}) {
      std::string_view id;
      if (!object.value_unsafe().at_key(key).get(id)) {
        result.pot_id = id;
        break;
      }
    }
  }
  return result;
}

std::string oversize_event(std::string_view head, std::size_t total_bytes, std::size_t limit, std::string_view peer,
                           std::int64_t now_us) {
  std::string out;
  out.reserve(head.size() + 256);
  out += R"({"event_type":"node.line_too_long","timestamp":)";
  json_text::append_string(out, events::format_time_us(now_us));
  out += R"(,"message":)";
  json_text::append_string(
      out, fmt::format("event-port line of {} bytes is over max_line_bytes ({}); its first {} bytes are kept",
                       total_bytes, limit, head.size()));
  out += fmt::format(R"(,"line_bytes":{},"line_head":)", total_bytes);
  json_text::append_string(out, head);
  out += R"(,"peer":)";
  json_text::append_string(out, peer);
  out += '}';
  return out;
}

}  // namespace honeycomb::node
