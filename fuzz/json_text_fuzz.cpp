// Any bytes rendered as a JSON string must parse back as one JSON string
// (attacker bytes reach alerts unfiltered).
#include "common/json_text.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  std::string out;
  honeycomb::json_text::append_string(out, input);
  boost::system::error_code ec;
  const auto v = boost::json::parse(out, ec);
  if (ec || !v.is_string()) {
    std::abort();
  }
  return 0;
}
