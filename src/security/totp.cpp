// TOTP. HMAC through EVP_Q_mac (OpenSSL 3; HMAC_CTX is deprecated there).
#include "security/totp.hpp"

#include "security/ossl.hpp"

#include <array>
#include <openssl/crypto.h>
#include <stdexcept>

namespace honeycomb::security {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t kTotpKeyBytes = 20;
constexpr std::uint32_t kTotpModulus = 1'000'000;  // 10^kTotpDigits

/// The value of a base32 character; -1 for anything else.
int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a';
  }
  if (c >= '2' && c <= '7') {
    return c - '2' + 26;
  }
  return -1;
}

/// HOTP (RFC 4226 section 5.3) of one step; nullopt when the MAC fails.
std::optional<std::string> hotp(std::span<const std::uint8_t> key, std::uint64_t counter) {
  std::array<unsigned char, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  std::array<unsigned char, 20> mac{};
  std::size_t length = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA1", nullptr, key.data(), key.size(), message.data(), message.size(),
                mac.data(), mac.size(), &length) == nullptr ||
      length != mac.size()) {
    return std::nullopt;
  }
  // Dynamic truncation: 31 bits from the offset the last nibble names.
  const std::size_t offset = mac[19] & 0x0f;
  const std::uint32_t binary = (std::uint32_t{mac[offset]} & 0x7f) << 24 | std::uint32_t{mac[offset + 1]} << 16 |
                               std::uint32_t{mac[offset + 2]} << 8 | std::uint32_t{mac[offset + 3]};
  std::string code(kTotpDigits, '0');
  std::uint32_t value = binary % kTotpModulus;
  for (std::size_t i = kTotpDigits; i > 0; --i) {
    code[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return code;
}

std::optional<std::vector<std::uint8_t>> totp_key(std::string_view base32_key) {
  // Longer text cannot decode to an accepted key; refused before decoding.
  if (base32_key.size() > kMaxTotpKeyBytes * 2 + 64) {
    return std::nullopt;
  }
  auto key = base32_decode(base32_key);
  if (!key || key->size() < kMinTotpKeyBytes || key->size() > kMaxTotpKeyBytes) {
    return std::nullopt;
  }
  return key;
}

}  // namespace

std::string base32_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t bits = 0;
  int count = 0;
  for (const std::uint8_t byte : bytes) {
    bits = (bits << 8) | byte;
    count += 8;
    while (count >= 5) {
      count -= 5;
      out += kBase32Alphabet[(bits >> count) & 31];
    }
  }
  if (count > 0) {
    out += kBase32Alphabet[(bits << (5 - count)) & 31];
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t bits = 0;
  int count = 0;
  std::size_t characters = 0;
  for (const char c : text) {
    if (c == '=' || c == ' ') {
      continue;
    }
    const int value = base32_value(c);
    if (value < 0) {
      return std::nullopt;
    }
    ++characters;
    bits = (bits << 5) | static_cast<std::uint32_t>(value);
    count += 5;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<std::uint8_t>((bits >> count) & 0xff));
    }
  }
  // 1, 3 or 6 characters after the last full group of 8 carry bits of a
  // byte that was never completed: no encoder produces that.
  const std::size_t rest = characters % 8;
  if (rest == 1 || rest == 3 || rest == 6) {
    return std::nullopt;
  }
  return out;
}

std::string make_totp_key() {
  std::array<std::uint8_t, kTotpKeyBytes> key{};
  if (!ossl::random_bytes(key)) {
    throw std::runtime_error("the random generator failed; no TOTP key was made");
  }
  return base32_encode(key);
}

std::optional<std::string> totp_code(std::string_view base32_key, std::int64_t unix_seconds) {
  const ossl::ErrorScope errors;
  if (unix_seconds < 0) {
    return std::nullopt;
  }
  const auto key = totp_key(base32_key);
  if (!key) {
    return std::nullopt;
  }
  return hotp(*key, static_cast<std::uint64_t>(unix_seconds / kTotpStepSeconds));
}

bool totp_verify(std::string_view base32_key, std::string_view code, std::int64_t unix_seconds,
                 std::int64_t* last_step) {
  const ossl::ErrorScope errors;
  if (unix_seconds < 0 || code.size() != kTotpDigits) {
    return false;
  }
  for (const char c : code) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  const auto key = totp_key(base32_key);
  if (!key) {
    return false;
  }
  const std::int64_t step = unix_seconds / kTotpStepSeconds;
  // Every candidate is computed and compared, whichever matches, so the
  // time taken does not tell which step (if any) matched.
  std::int64_t accepted = -1;
  for (std::int64_t candidate = step - 1; candidate <= step + 1; ++candidate) {
    if (candidate < 0) {
      continue;
    }
    const auto expected = hotp(*key, static_cast<std::uint64_t>(candidate));
    if (!expected) {
      return false;
    }
    const bool equal = CRYPTO_memcmp(expected->data(), code.data(), kTotpDigits) == 0;
    const bool fresh = last_step == nullptr || candidate > *last_step;
    if (equal && fresh) {
      accepted = candidate;  // the latest matching step, so a replay window closes as far as possible
    }
  }
  if (accepted < 0) {
    return false;
  }
  if (last_step != nullptr) {
    *last_step = accepted;
  }
  return true;
}

}  // namespace honeycomb::security
