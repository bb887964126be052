// The node's event-line check in isolation: Boost.JSON's push parser with a
// handler that keeps only the pot id (what src/node/event_line.cpp does),
// next to simdjson's DOM parser on the same line when simdjson is installed
// (the check used it until 2026-12-01). Prints ns per line.
// Built and run by bench/node_ingest/line_check.sh.
#include <boost/json/basic_parser_impl.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#if __has_include(<simdjson.h>)
#include <simdjson.h>
#define HAVE_SIMDJSON 1
#endif

namespace json = boost::json;

namespace {

struct PotIdHandler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  int depth = 0;
  bool want = false;
  std::string key, value, pot;
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return ++depth, true; }
  bool on_array_end(std::size_t, json::error_code&) { return --depth, true; }
  bool on_object_begin(json::error_code&) { return ++depth, true; }
  bool on_object_end(std::size_t, json::error_code&) { return --depth, true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1) key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1) {
      key.append(s.data(), s.size());
      want = key == "pot_id";
      key.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (want) value.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (want) {
      value.append(s.data(), s.size());
      pot = value;
      value.clear();
      want = false;
    }
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

int main() {
  const std::string line =
      R"({"eventid":"cowrie.login.failed","username":"root","password":"123456","sensor":"honeypot-01",)"
      R"("timestamp":"2026-12-01T10:00:00.123456Z","src_ip":"203.0.113.7","session":"a1b2c3d4","pot_id":"p1"})";
  const std::string padded = line + std::string(64, '\0');  // simdjson reads past the end
  constexpr int kLines = 3'000'000;
  using Clock = std::chrono::steady_clock;
  auto ns_per_line = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::nano>(b - a).count() / kLines;
  };
  json::parse_options options;
  options.max_depth = 24;
  json::basic_parser<PotIdHandler> parser(options);
  std::size_t ok = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < kLines; ++i) {
    parser.reset();
    json::error_code ec;
    parser.write_some(false, padded.data(), line.size(), ec);
    ok += !ec && parser.done();
  }
  auto t1 = Clock::now();
  std::printf("line_check: %zu-byte line, %d lines\n", line.size(), kLines);
  std::printf("  Boost.JSON basic_parser (the node's check): %6.0f ns/line (%zu valid)\n", ns_per_line(t0, t1), ok);
#ifdef HAVE_SIMDJSON
  simdjson::dom::parser dom;
  if (dom.allocate(65536, 24)) {
    return 1;
  }
  ok = 0;
  t0 = Clock::now();
  for (int i = 0; i < kLines; ++i) {
    auto doc = dom.parse(padded.data(), line.size(), false);
    std::string_view id;
    ok += !doc.error() && !doc.at_key("pot_id").get(id);
  }
  t1 = Clock::now();
  std::printf("  simdjson DOM (the check before 2026-12-01):  %6.0f ns/line (%zu valid)\n", ns_per_line(t0, t1), ok);
#else
  std::printf("  simdjson: not installed (apt install libsimdjson-dev to compare)\n");
#endif
}
