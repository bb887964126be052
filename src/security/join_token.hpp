// The one-time token an operator copies from the core to a node to enroll
// it: "hcj1." + secret + "." + CA fingerprint. The secret proves the node
// may enroll (the core stores only its hash and accepts it once); the
// fingerprint lets the node, which has no trust anchor yet, recognise the
// real core's CA (verify_pinned_server in pki.hpp) before it sends the
// secret.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace honeycomb::security {

inline constexpr std::string_view kJoinTokenPrefix = "hcj1.";
/// Base64url characters of the secret (32 random bytes) and of the CA
/// fingerprint (SHA-256); both parts have this length.
inline constexpr std::size_t kJoinTokenPartLength = 43;

struct JoinToken {
  std::string secret;          ///< 43 base64url characters (32 random bytes)
  std::string ca_fingerprint;  ///< certificate_fingerprint() of the core's CA
};

/// A new token with a fresh secret (RAND_bytes). Throws std::runtime_error
/// only when the system's random generator fails (never a weak secret).
JoinToken make_join_token(std::string ca_fingerprint);
/// "hcj1." + secret + "." + ca_fingerprint.
std::string format_join_token(const JoinToken& token);
/// Strict: surrounding whitespace is trimmed, then exactly the prefix and
/// two parts of exactly 43 base64url characters ([A-Za-z0-9_-]) separated
/// by one '.'. nullopt otherwise. Never throws.
std::optional<JoinToken> parse_join_token(std::string_view text);
/// Lower-case hex SHA-256 of the secret: what the core stores and compares
/// ("" only if OpenSSL fails).
std::string hash_secret(std::string_view secret);

}  // namespace honeycomb::security
