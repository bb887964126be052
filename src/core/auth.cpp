// API tokens: 256 random bits from OpenSSL, stored as SHA-256 hex, checked
// through a short-lived cache (valid and invalid results alike, so a client
// repeating a wrong token does not reach the database per request).
#include "core/auth.hpp"

#include "security/join_token.hpp"
#include "security/ossl.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace honeycomb::core {
namespace {

constexpr std::string_view kTokenPrefix = "hc_";
constexpr std::size_t kTokenBytes = 32;
/// Longer header values are refused without hashing or a lookup.
constexpr std::size_t kMaxTokenLength = 512;
constexpr auto kCacheLifetime = std::chrono::seconds(2);
/// Cache entries before the cache is cleared (a spray of random tokens).
constexpr std::size_t kMaxCacheEntries = 10'000;

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

/// The token of "Bearer <token>" (scheme case-insensitive, RFC 7235); empty when malformed.
std::string_view bearer_token(std::string_view header) {
  header = trim(header);
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || !is_space(header[scheme.size()])) {
    return {};
  }
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if ((header[i] | 0x20) != scheme[i]) {
      return {};
    }
  }
  return trim(header.substr(scheme.size()));
}

/// Writes `text` to `file` with mode 0600 (also when the file existed with a wider mode).
void write_private_file(const std::filesystem::path& file, const std::string& text) {
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path());
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot write the API token file " + file.string());
  }
  int err = ::fchmod(fd, 0600) == 0 ? 0 : errno;
  std::size_t done = 0;
  while (err == 0 && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno != EINTR) {
        err = errno;
      }
      continue;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) {
    err = errno;
  }
  if (err != 0) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    throw std::system_error(err, std::generic_category(), "cannot write the API token file " + file.string());
  }
}

}  // namespace

std::string Auth::generate_token() {
  std::array<unsigned char, kTokenBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed: no random token could be made");
  }
  return std::string(kTokenPrefix) + security::ossl::base64url(bytes);
}

std::string Auth::hash(std::string_view token) {
  auto digest = security::hash_secret(token);  // the same hex SHA-256 join tokens are kept as
  if (digest.empty()) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return digest;
}

const char* to_string(Scope scope) {
  switch (scope) {
    case Scope::read:
      return "read";
    case Scope::manage:
      return "manage";
    case Scope::admin:
      return "admin";
  }
  return "read";
}

std::optional<Scope> scope_from(std::string_view text) {
  for (auto scope : {Scope::read, Scope::manage, Scope::admin}) {
    if (text == to_string(scope)) {
      return scope;
    }
  }
  return std::nullopt;
}

std::string Auth::create(const std::string& name, Scope scope) {
  std::string token = generate_token();
  if (storage_.add_token(name, hash(token), to_string(scope)).id == 0) {
    throw std::runtime_error("the token could not be stored");
  }
  return token;
}

std::string Auth::ensure_initial(const std::filesystem::path& file) {
  if (!storage_.tokens().empty()) {
    return {};
  }
  // File first: if storing fails the file goes; the other order could leave
  // a stored token nobody knows, and no new one would be made at next start.
  std::string token = generate_token();
  write_private_file(file, token + "\n");
  try {
    storage_.add_token("initial", hash(token), to_string(Scope::admin));
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    throw;
  }
  return token;
}

std::optional<Grant> Auth::grant_for_header(std::string_view authorization) {
  return grant_for_token(bearer_token(authorization));
}

std::optional<Grant> Auth::grant_for_token(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenLength) {
    return std::nullopt;
  }
  const std::string key = hash(token);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(key); it != cache_.end() && now - it->second.checked < kCacheLifetime) {
      return it->second.grant;
    }
  }
  // The lookup runs without the lock: concurrent misses for one token may
  // both look it up, which is harmless.
  const auto record = storage_.find_token(key);
  std::optional<Grant> grant;
  if (record && !record->revoked) {
    // An unknown scope (a newer core's) grants the least.
    grant = Grant{record->name, scope_from(record->scope).value_or(Scope::read)};
  }
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCacheEntries) {
    cache_.clear();
  }
  cache_[key] = CacheEntry{grant, now};
  return grant;
}

Auth::Cached Auth::grant_cached(std::string_view authorization) {
  const std::string_view token = bearer_token(authorization);
  if (token.empty() || token.size() > kMaxTokenLength) {
    return Cached{true, std::nullopt};
  }
  const std::string key = hash(token);
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key);
      it != cache_.end() && std::chrono::steady_clock::now() - it->second.checked < kCacheLifetime) {
    return Cached{true, it->second.grant};
  }
  return Cached{};
}

std::optional<bool> Auth::check_header_cached(std::string_view authorization) {
  auto cached = grant_cached(authorization);
  if (!cached.known) {
    return std::nullopt;
  }
  return cached.grant.has_value();
}

void Auth::forget_cached() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

}  // namespace honeycomb::core
