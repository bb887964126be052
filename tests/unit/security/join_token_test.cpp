// Join tokens: made, printed and parsed back; anything but the exact format
// (prefix, two 43-character base64url parts) is refused.
#include "security/join_token.hpp"

#include <gtest/gtest.h>

#include <string>

namespace honeycomb::security {
namespace {

const std::string kFingerprint = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

TEST(JoinToken, RoundTrip) {
  ASSERT_EQ(kFingerprint.size(), 43u);
  const JoinToken token = make_join_token(kFingerprint);
  EXPECT_EQ(token.secret.size(), 43u);
  EXPECT_EQ(token.ca_fingerprint, kFingerprint);
  const std::string text = format_join_token(token);
  EXPECT_EQ(text, "hcj1." + token.secret + "." + kFingerprint);
  EXPECT_EQ(text.size(), 92u);
  for (const std::string& pasted : {text, "  " + text + "\n", "\t" + text + "\r\n"}) {
    const auto parsed = parse_join_token(pasted);
    ASSERT_TRUE(parsed) << pasted;
    EXPECT_EQ(parsed->secret, token.secret);
    EXPECT_EQ(parsed->ca_fingerprint, kFingerprint);
  }
}

TEST(JoinToken, SecretsAreFreshAndBase64url) {
  const JoinToken a = make_join_token(kFingerprint);
  const JoinToken b = make_join_token(kFingerprint);
  EXPECT_NE(a.secret, b.secret);
  EXPECT_EQ(a.secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(JoinToken, RejectsAnythingElse) {
  const std::string secret(43, 'S');
  const std::string good = "hcj1." + secret + "." + kFingerprint;
  ASSERT_TRUE(parse_join_token(good));
  const std::string bad[] = {
      "",
      "hcj1.",
      "hcj1..",
      "hcj2." + secret + "." + kFingerprint,
      "HCJ1." + secret + "." + kFingerprint,
      "hcj1" + secret + "." + kFingerprint,
      secret + "." + kFingerprint,
      "hcj1." + secret.substr(1) + "." + kFingerprint,
      "hcj1." + secret + "S." + kFingerprint,
      "hcj1." + secret + "." + kFingerprint.substr(1),
      "hcj1." + secret + "." + kFingerprint + "a",
      "hcj1." + secret + kFingerprint,
      "hcj1." + secret + ".." + kFingerprint.substr(1),
      "hcj1." + secret + "." + kFingerprint + ".x",
      "hcj1." + secret.substr(1) + "+." + kFingerprint,
      "hcj1." + secret.substr(1) + "/." + kFingerprint,
      "hcj1." + secret.substr(1) + "=." + kFingerprint,
      "hcj1." + secret + "." + kFingerprint.substr(1) + "=",
      "hcj1." + secret.substr(1) + " ." + kFingerprint,
      "hcj1." + secret.substr(1) + "\xc3." + kFingerprint.substr(1) + "a",
      "hcj1." + secret + "." + kFingerprint.substr(1) + std::string(1, '\0'),
      "hcj1 " + secret + "." + kFingerprint,
      good + " junk",
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(parse_join_token(text)) << text;
  }
}

TEST(JoinToken, HashIsLowerHexSha256) {
  EXPECT_EQ(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_secret(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace honeycomb::security
