// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP: HMAC-SHA1,
// 30 s steps, 6 digits) and the base32 keys authenticator apps take
// (RFC 4648 section 6). Never throws on bad input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::security {

/// Seconds per TOTP step (RFC 6238's default X).
inline constexpr std::int64_t kTotpStepSeconds = 30;
inline constexpr std::size_t kTotpDigits = 6;
/// Key length bounds for totp_code/totp_verify: RFC 4226 section 4 requires
/// at least 128 bits; the upper bound keeps hostile input cheap.
inline constexpr std::size_t kMinTotpKeyBytes = 16;
inline constexpr std::size_t kMaxTotpKeyBytes = 128;

/// RFC 4648 alphabet (A-Z2-7), no padding.
std::string base32_encode(std::span<const std::uint8_t> bytes);
/// Case-insensitive; '=' and ' ' are ignored wherever they are (keys are
/// shown padded or in groups); any other character, or a length no
/// encoding has (1, 3 or 6 characters left over modulo 8), gives nullopt.
std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text);

/// A new key: 20 random bytes (the HMAC-SHA1 block RFC 4226 recommends),
/// base32, 32 characters. Throws std::runtime_error only when the system's
/// random generator fails.
std::string make_totp_key();

/// The 6-digit code of the step holding `unix_seconds`; nullopt for an
/// undecodable key, a key outside [kMinTotpKeyBytes, kMaxTotpKeyBytes] or a
/// negative time.
std::optional<std::string> totp_code(std::string_view base32_key, std::int64_t unix_seconds);

/// True when `code` (exactly 6 ASCII digits) is the code of the step of
/// `unix_seconds` or of one step either side (clock skew). The comparison
/// is constant-time and all three steps are always computed. `last_step`:
/// when not null, a code of a step <= *last_step is refused (replay: start
/// with -1) and on success *last_step becomes the accepted step.
bool totp_verify(std::string_view base32_key, std::string_view code, std::int64_t unix_seconds,
                 std::int64_t* last_step = nullptr);

}  // namespace honeycomb::security
