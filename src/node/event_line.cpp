#include "node/event_line.hpp"

#include "common/json_text.hpp"
#include "common/utf8.hpp"
#include "events/normalize.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <fmt/format.h>

#include <optional>

namespace honeycomb::node {

namespace {

namespace json = boost::json;

/// What the event port needs of a line while Boost.JSON's push parser
/// validates it: nothing is built, only the pot it names is kept (a
/// top-level string `pot_id`, else `honeybee_honeypot_id`; the first of each
/// when keys repeat). The same parser as the core's (protocol decode), so a
/// line accepted here is one the core reads.
class LineHandler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  void clear() {
    depth_ = 0;
    pending_ = Pending::none;
    pot_id_.reset();
    honeybee_id_.reset();
  }
  /// The pot the line names; valid until the next clear().
  [[nodiscard]] std::string_view pot_id() const {
    if (pot_id_) {
      return *pot_id_;
    }
    return honeybee_id_ ? std::string_view(*honeybee_id_) : std::string_view();
  }

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_array_begin(json::error_code& /*ec*/) { return enter(); }
  bool on_array_end(std::size_t /*n*/, json::error_code& /*ec*/) { return leave(); }
  bool on_object_begin(json::error_code& /*ec*/) { return enter(); }
  bool on_object_end(std::size_t /*n*/, json::error_code& /*ec*/) { return leave(); }
  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    if (depth_ == 1) {
      key_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    if (depth_ == 1) {
      key_.append(s.data(), s.size());
      pending_ = key_ == "pot_id" && !pot_id_                      ? Pending::pot_id
                 : key_ == "honeybee_honeypot_id" && !honeybee_id_ ? Pending::honeybee_id
                                                                   : Pending::none;
      key_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    if (pending_ != Pending::none && depth_ == 1) {
      value_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    if (pending_ != Pending::none && depth_ == 1) {
      value_.append(s.data(), s.size());
      (pending_ == Pending::pot_id ? pot_id_ : honeybee_id_) = value_;
      value_.clear();
    }
    pending_ = Pending::none;
    return true;
  }
  bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_int64(std::int64_t /*i*/, json::string_view /*s*/, json::error_code& /*ec*/) { return scalar(); }
  bool on_uint64(std::uint64_t /*u*/, json::string_view /*s*/, json::error_code& /*ec*/) { return scalar(); }
  bool on_double(double /*d*/, json::string_view /*s*/, json::error_code& /*ec*/) { return scalar(); }
  bool on_bool(bool /*b*/, json::error_code& /*ec*/) { return scalar(); }
  bool on_null(json::error_code& /*ec*/) { return scalar(); }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }

 private:
  enum class Pending { none, pot_id, honeybee_id };

  bool enter() {
    ++depth_;
    if (depth_ == 2) {
      pending_ = Pending::none;  // the named key holds an object or array, not a string
    }
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  bool scalar() {
    if (depth_ == 1) {
      pending_ = Pending::none;
    }
    return true;
  }

  std::size_t depth_ = 0;
  Pending pending_ = Pending::none;
  std::string key_;
  std::string value_;
  std::optional<std::string> pot_id_;
  std::optional<std::string> honeybee_id_;
};

json::parse_options line_options() {
  json::parse_options options;
  options.max_depth = kMaxEventDepth;
  return options;
}

json::basic_parser<LineHandler>& line_parser() {
  thread_local json::basic_parser<LineHandler> parser(line_options());
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
  parser.reset();
  parser.handler().clear();
  json::error_code ec;
  std::size_t used = parser.write_some(false, line.data(), line.size(), ec);
  if (ec == json::error::too_deep) {
    return {LineKind::malformed, "nested too deep"};
  }
  // The parser stops after one complete value: only JSON whitespace may
  // follow (the line goes into the envelope as it is).
  while (used < line.size() && (line[used] == ' ' || line[used] == '\t' || line[used] == '\r' || line[used] == '\n')) {
    ++used;
  }
  if (ec || !parser.done() || used != line.size()) {
    return {LineKind::malformed, utf8::valid(line) ? "invalid JSON" : "invalid UTF-8"};
  }
  return {LineKind::event, {}, parser.handler().pot_id()};
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
