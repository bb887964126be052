// TOTP against RFC 6238's SHA-1 vectors (last 6 of the 8 digits), base32
// against RFC 4648's, the +-1 step window, and replays refused.
#include "security/totp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace honeycomb::security {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

/// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890", in base32.
const std::string kRfcKey = base32_encode(bytes_of("12345678901234567890"));

TEST(Base32, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base32_encode(bytes_of(plain)), encoded) << plain;
    const auto decoded = base32_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes_of(plain)) << encoded;
  }
  EXPECT_EQ(kRfcKey, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32, DecodeIsLenientOnCaseSpacesAndPaddingOnly) {
  EXPECT_EQ(base32_decode("mzxw6ytboi"), bytes_of("foobar"));
  EXPECT_EQ(base32_decode("MZXW 6YTB OI======"), bytes_of("foobar"));
  EXPECT_EQ(base32_decode("MY======"), bytes_of("f"));
  for (const char* bad : {"MZXW6YTBO1", "MZXW6YTBO8", "MZXW-6YTB", "MZXW\t6YTB", "MZXW\n", "M", "MZX", "MZXW6Y", "é"}) {
    EXPECT_FALSE(base32_decode(bad)) << bad;
  }
}

TEST(Base32, RoundTripsEveryLength) {
  std::vector<std::uint8_t> data;
  for (int n = 0; n < 70; ++n) {
    const auto decoded = base32_decode(base32_encode(data));
    ASSERT_TRUE(decoded) << n;
    EXPECT_EQ(*decoded, data) << n;
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

TEST(Totp, Rfc6238Sha1Vectors) {
  const std::pair<std::int64_t, const char*> vectors[] = {
      {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
      {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
  };
  for (const auto& [time, code] : vectors) {
    EXPECT_EQ(totp_code(kRfcKey, time), code) << time;
    EXPECT_TRUE(totp_verify(kRfcKey, code, time)) << time;
  }
}

TEST(Totp, KeysAreFresh32CharacterBase32) {
  const std::string a = make_totp_key();
  const std::string b = make_totp_key();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  const auto decoded = base32_decode(a);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size(), 20u);
  EXPECT_TRUE(totp_code(a, 1'700'000'000));
}

TEST(Totp, BadKeysAndTimesGiveNothing) {
  EXPECT_FALSE(totp_code("", 59));
  EXPECT_FALSE(totp_code("not base32!", 59));
  EXPECT_FALSE(totp_code(base32_encode(bytes_of("short")), 59));  // under 128 bits
  EXPECT_FALSE(totp_code(base32_encode(std::vector<std::uint8_t>(129, 1)), 59));
  EXPECT_FALSE(totp_code(kRfcKey, -1));
  EXPECT_FALSE(totp_verify("", "287082", 59));
  EXPECT_FALSE(totp_verify(kRfcKey, "287082", -1));
}

TEST(Totp, OneStepEitherSideIsAcceptedTwoAreNot) {
  const std::int64_t now = 1'700'000'015;  // mid-step
  const std::int64_t step = 30;
  for (const std::int64_t offset : {-1, 0, 1}) {
    const auto code = totp_code(kRfcKey, now + offset * step);
    ASSERT_TRUE(code);
    EXPECT_TRUE(totp_verify(kRfcKey, *code, now)) << offset;
  }
  for (const std::int64_t offset : {-2, 2, -10, 10}) {
    const auto code = totp_code(kRfcKey, now + offset * step);
    ASSERT_TRUE(code);
    // Vectors chosen so that no nearer step has the same code by chance.
    for (const std::int64_t near : {-1, 0, 1}) {
      ASSERT_NE(code, totp_code(kRfcKey, now + near * step));
    }
    EXPECT_FALSE(totp_verify(kRfcKey, *code, now)) << offset;
  }
}

TEST(Totp, MalformedCodesAreRefused) {
  EXPECT_TRUE(totp_verify(kRfcKey, "287082", 59));
  for (const char* bad : {"", "28708", "2870820", " 287082", "287082 ", "28708a", "+87082", "２87082"}) {
    EXPECT_FALSE(totp_verify(kRfcKey, bad, 59)) << bad;
  }
}

TEST(Totp, ReplayIsRefused) {
  const std::int64_t now = 1'700'000'015;
  const std::int64_t step = now / 30;
  std::int64_t last_step = -1;
  const std::string code = *totp_code(kRfcKey, now);
  ASSERT_TRUE(totp_verify(kRfcKey, code, now, &last_step));
  EXPECT_EQ(last_step, step);
  EXPECT_FALSE(totp_verify(kRfcKey, code, now, &last_step));       // the same code again
  EXPECT_FALSE(totp_verify(kRfcKey, code, now + 20, &last_step));  // still in the window, next step
  EXPECT_EQ(last_step, step);
  const std::string previous = *totp_code(kRfcKey, now - 30);
  EXPECT_FALSE(totp_verify(kRfcKey, previous, now, &last_step));  // older than the last one used
  const std::string next = *totp_code(kRfcKey, now + 30);
  EXPECT_TRUE(totp_verify(kRfcKey, next, now, &last_step));  // a later step still works
  EXPECT_EQ(last_step, step + 1);
  // A failed attempt leaves last_step alone.
  EXPECT_FALSE(totp_verify(kRfcKey, "000000" == next ? "000001" : "000000", now, &last_step));
  EXPECT_EQ(last_step, step + 1);
}

}  // namespace
}  // namespace honeycomb::security
