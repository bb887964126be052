// Join tokens: the format is fixed-length on purpose, so parsing is a
// handful of comparisons and a pasted token with anything extra or missing
// is refused instead of being half-read.
#include "security/join_token.hpp"

#include "security/ossl.hpp"

#include <array>
#include <stdexcept>

namespace honeycomb::security {
namespace {

constexpr std::size_t kSecretBytes = 32;

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool is_part(std::string_view part) {
  if (part.size() != kJoinTokenPartLength) {
    return false;
  }
  for (const char c : part) {
    if (!is_base64url(c)) {
      return false;
    }
  }
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

}  // namespace

JoinToken make_join_token(std::string ca_fingerprint) {
  std::array<unsigned char, kSecretBytes> bytes{};
  if (!ossl::random_bytes(bytes)) {
    throw std::runtime_error("the random generator failed; no join token was made");
  }
  return {ossl::base64url(bytes), std::move(ca_fingerprint)};
}

std::string format_join_token(const JoinToken& token) {
  std::string out;
  out.reserve(kJoinTokenPrefix.size() + token.secret.size() + 1 + token.ca_fingerprint.size());
  out += kJoinTokenPrefix;
  out += token.secret;
  out += '.';
  out += token.ca_fingerprint;
  return out;
}

std::optional<JoinToken> parse_join_token(std::string_view text) {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  if (text.size() != kJoinTokenPrefix.size() + 2 * kJoinTokenPartLength + 1 || !text.starts_with(kJoinTokenPrefix)) {
    return std::nullopt;
  }
  text.remove_prefix(kJoinTokenPrefix.size());
  const std::string_view secret = text.substr(0, kJoinTokenPartLength);
  const std::string_view fingerprint = text.substr(kJoinTokenPartLength + 1);
  if (text[kJoinTokenPartLength] != '.' || !is_part(secret) || !is_part(fingerprint)) {
    return std::nullopt;
  }
  return JoinToken{std::string(secret), std::string(fingerprint)};
}

std::string hash_secret(std::string_view secret) {
  const ossl::ErrorScope errors;
  std::array<unsigned char, 32> digest{};
  if (!ossl::sha256(secret, digest)) {
    return {};
  }
  return ossl::hex(digest);
}

}  // namespace honeycomb::security
