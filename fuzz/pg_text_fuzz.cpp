// Attacker bytes on their way into PostgreSQL (store/pg_text.hpp) and the
// filter parts both stores read from API input (store/query_support.hpp):
// - storable() yields well-formed UTF-8 without NUL, and leaves such input
//   as it is;
// - a COPY binary text field is storable()'s text after its big-endian
//   length;
// - an address range has lo <= hi, and a cursor that parses round-trips.
#include "store/pg_text.hpp"
#include "store/query_support.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace honeycomb::store;                                         // NOLINT(google-build-using-namespace)
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT

  std::string scratch;
  const std::string clean(pg::storable(input, scratch));
  check(honeycomb::utf8::valid(clean) && clean.find('\0') == std::string::npos);
  if (honeycomb::utf8::valid(input) && input.find('\0') == std::string_view::npos) {
    check(clean == input);
  }
  std::string field;
  pg::copy_binary::text(field, input);
  check(field.size() == 4 + clean.size());
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length = length << 8 | static_cast<unsigned char>(field[i]);
  }
  check(length == clean.size() && field.compare(4, std::string::npos, clean) == 0);

  query_support::Ip16 lo{}, hi{};
  if (query_support::parse_cidr(input, lo, hi)) {
    check(lo <= hi);
  }
  std::int64_t us = 0, id = 0;
  if (query_support::parse_cursor(input, us, id)) {
    std::int64_t us2 = 0, id2 = 0;
    check(query_support::parse_cursor(query_support::make_cursor(us, id), us2, id2) && us2 == us && id2 == id);
  }
  (void)query_support::TextMatcher(input.substr(0, 16)).matches(input);
  return 0;
}
