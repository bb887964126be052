// Protocol v2 from a hostile peer: the bytes go through a Framer in chunks
// (sizes and the size limit taken from the first two input bytes: ' ' feeds
// everything at once, a digit selects the default 4 MiB limit), every
// value is decoded, and every decoded message must survive
// encode -> parse -> decode unchanged, in both unit styles, as one line.
// The same bytes through a scratch-memory Framer and decode_borrowed (the
// core's sessions) must give the same values, messages and errors.
#include "common/json_equal.hpp"
#include "protocol/codec.hpp"
#include "protocol/framer.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace honeycomb::protocol;  // NOLINT(google-build-using-namespace)

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

using honeycomb::json_equal::same_json;

bool same_message(const Message& a, const Message& b) {
  if (a == b) {
    return true;
  }
  const auto* ea = std::get_if<PotEvent>(&a);
  const auto* eb = std::get_if<PotEvent>(&b);
  if (ea == nullptr || eb == nullptr) {
    return false;
  }
  PotEvent without_a = *ea;
  PotEvent without_b = *eb;
  without_a.data.clear();
  without_b.data.clear();
  return without_a == without_b && same_json(boost::json::value(ea->data), boost::json::value(eb->data));
}

void check_round_trip(const Message& message) {
  for (const auto style : {UnitStyle::empty_object, UnitStyle::bare_string}) {
    const std::string text = encode(message, style);
    require(!text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1);
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(text, ec);
    require(!ec);
    auto again = decode(parsed);
    const auto* decoded = std::get_if<Decoded>(&again);
    require(decoded != nullptr);
    require(decoded->version == kVersion);
    require(same_message(decoded->message, message));

    // What we send frames as exactly one value.
    Framer framer;
    int values = 0;
    framer.feed(text, Framer::Sink{[&](boost::json::value&&) { ++values; }, [](std::string_view) { std::abort(); }});
    require(values == 1 && framer.pending_bytes() == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  const unsigned chunk_seed = data[0];
  const bool default_limit = data[1] >= '0' && data[1] <= '9';
  const std::size_t max_bytes = default_limit ? 4 * 1024 * 1024 : 8 + std::size_t{data[1]} * 16;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);  // NOLINT

  const auto feed_all = [&](Framer& framer, const Framer::Sink& sink) {
    if (chunk_seed == ' ') {
      framer.feed(input, sink);
    } else {
      std::size_t pos = 0;
      for (std::size_t i = 1; pos < input.size(); ++i) {
        const std::size_t n = 1 + (chunk_seed * i * 7919U) % 61U;
        framer.feed(input.substr(pos, n), sink);
        pos += std::min(n, input.size() - pos);
        require(framer.pending_bytes() <= max_bytes);
      }
    }
    require(framer.pending_bytes() <= max_bytes);
  };

  // Values in the default memory: decode, the moving decode, round trips.
  std::vector<std::variant<Decoded, DecodeError>> results;
  std::size_t errors = 0;
  Framer framer(max_bytes);
  feed_all(framer, Framer::Sink{
                       [&](boost::json::value&& value) {
                         auto result = decode(value);
                         const auto moved = decode(std::move(value));  // the moving overload agrees
                         require(result.index() == moved.index());
                         if (const auto* error = std::get_if<DecodeError>(&result)) {
                           require(!error->reason.empty() && error->reason == std::get<DecodeError>(moved).reason);
                         } else {
                           require(std::get<Decoded>(result).message == std::get<Decoded>(moved).message);
                           check_round_trip(std::get<Decoded>(result).message);
                         }
                         results.push_back(std::move(result));
                       },
                       [&](std::string_view reason) {
                         require(!reason.empty());
                         ++errors;
                       },
                   });

  // The core's way: values in the framer's scratch memory, decoded in
  // place; the same values, messages and errors, in the same order.
  std::size_t next = 0;
  std::size_t scratch_errors = 0;
  Framer scratch(max_bytes, Framer::ValueMemory::scratch);
  feed_all(scratch, Framer::Sink{
                        [&](boost::json::value&& value) {
                          require(next < results.size());
                          const auto borrowed = decode_borrowed(std::move(value));
                          const auto& expected = results[next++];
                          require(borrowed.index() == expected.index());
                          if (const auto* error = std::get_if<DecodeError>(&borrowed)) {
                            require(error->reason == std::get<DecodeError>(expected).reason);
                          } else {
                            require(std::get<Decoded>(borrowed).message == std::get<Decoded>(expected).message);
                          }
                        },
                        [&](std::string_view) { ++scratch_errors; },
                    });
  require(next == results.size() && scratch_errors == errors);
  return 0;
}
