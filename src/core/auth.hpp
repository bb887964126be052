// API tokens: random bearer tokens, stored only as SHA-256 hashes (store::
// Storage); the first one is created at first start, printed once and kept
// in a 0600 file for the operator. Checks are cached briefly so the API does
// not hit the database per request; a revoked token stops working within
// the cache lifetime (2 s).
#pragma once

#include "core/api/login_limiter.hpp"
#include "store/storage.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace honeycomb::core {

/// What an API token may do; each scope includes the ones before it.
enum class Scope {
  read,    ///< events, nodes, pots, statistics, the stream
  manage,  ///< + commands to nodes (pots, restarts)
  admin,   ///< + API tokens, join tokens, revocations, the audit log
};
const char* to_string(Scope scope);
std::optional<Scope> scope_from(std::string_view text);

/// Who a valid token is.
struct Grant {
  std::string name;  ///< the token's name (for the audit log)
  Scope scope = Scope::read;
};

class Auth {
 public:
  explicit Auth(store::Storage& storage) : storage_(storage) {}

  /// A new random token: "hc_" + 43 base64url characters (256 bits).
  static std::string generate_token();
  /// Hex SHA-256.
  static std::string hash(std::string_view token);

  /// Creates and stores a token named `name`; returns the token (shown once).
  std::string create(const std::string& name, Scope scope = Scope::read);
  /// First start: when no token exists, creates one named "initial", writes
  /// it to `file` (mode 0600) and returns it; otherwise returns "".
  std::string ensure_initial(const std::filesystem::path& file);

  /// Checks an `Authorization` header value ("Bearer <token>"). Blocking
  /// on a cache miss (a storage lookup): call it from the database pool or
  /// accept that one lookup per 2 s per token runs inline.
  bool check_header(std::string_view authorization) { return grant_for_header(authorization).has_value(); }
  bool check_token(std::string_view token) { return grant_for_token(token).has_value(); }
  /// As check_header, with who the token is; nullopt when it is not valid.
  std::optional<Grant> grant_for_header(std::string_view authorization);
  std::optional<Grant> grant_for_token(std::string_view token);
  /// Non-blocking: the cached result for this header when it is fresh,
  /// false for a malformed header, nullopt when check_header() must look it
  /// up (the API then runs that on the database pool).
  std::optional<bool> check_header_cached(std::string_view authorization);
  /// As check_header_cached, with the grant: `known` false when
  /// grant_for_header() must look it up.
  struct Cached {
    bool known = false;
    std::optional<Grant> grant;
  };
  Cached grant_cached(std::string_view authorization);
  /// Drops cached results (after a revocation in this process; tests).
  void forget_cached();

  /// Failed logins per client address, shared by the REST API and the
  /// WebSocket: a guess on either port counts towards the one limit.
  api::LoginLimiter& failed_logins() { return failed_logins_; }

 private:
  store::Storage& storage_;
  api::LoginLimiter failed_logins_;
  std::mutex mutex_;
  struct CacheEntry {
    std::optional<Grant> grant;  ///< nullopt: not valid
    std::chrono::steady_clock::time_point checked;
  };
  std::unordered_map<std::string, CacheEntry> cache_;  ///< by hash; bounded (cleared when large)
};

}  // namespace honeycomb::core
