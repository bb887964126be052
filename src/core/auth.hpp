// API tokens: random bearer tokens, stored only as SHA-256 hashes (store::
// Storage); the first one is created at first start, printed once and kept
// in a 0600 file for the operator. Checks are cached briefly so the API does
// not hit the database per request; a revoked token stops working within
// the cache lifetime (2 s).
#pragma once

#include "store/storage.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace honeycomb::core {

class Auth {
 public:
  explicit Auth(store::Storage& storage) : storage_(storage) {}

  /// A new random token: "hc_" + 43 base64url characters (256 bits).
  static std::string generate_token();
  /// Hex SHA-256.
  static std::string hash(std::string_view token);

  /// Creates and stores a token named `name`; returns the token (shown once).
  std::string create(const std::string& name);
  /// First start: when no token exists, creates one named "initial", writes
  /// it to `file` (mode 0600) and returns it; otherwise returns "".
  std::string ensure_initial(const std::filesystem::path& file);

  /// Checks an `Authorization` header value ("Bearer <token>"). Blocking
  /// on a cache miss (a storage lookup): call it from the database pool or
  /// accept that one lookup per 2 s per token runs inline.
  bool check_header(std::string_view authorization);
  bool check_token(std::string_view token);
  /// Non-blocking: the cached result for this header when it is fresh,
  /// false for a malformed header, nullopt when check_header() must look it
  /// up (the API then runs that on the database pool).
  std::optional<bool> check_header_cached(std::string_view authorization);
  /// Drops cached results (after a revocation in this process; tests).
  void forget_cached();

 private:
  store::Storage& storage_;
  std::mutex mutex_;
  struct CacheEntry {
    bool valid = false;
    std::chrono::steady_clock::time_point checked;
  };
  std::unordered_map<std::string, CacheEntry> cache_;  ///< by hash; bounded (cleared when large)
};

}  // namespace honeycomb::core
