// Per-client token bucket: `rate` requests a second with a burst of one
// second's worth. The map of clients is bounded: idle clients (full
// buckets) are dropped first, and everything when that is not enough.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace honeycomb::core::api {

class RateLimiter {
 public:
  /// `rate` 0: unlimited.
  explicit RateLimiter(std::uint32_t rate, std::size_t max_clients = 16'384) : rate_(rate), max_clients_(max_clients) {}

  /// 0 when `client` may make a request now; otherwise the seconds to wait
  /// (for Retry-After, at least 1).
  std::uint32_t acquire(const std::string& client, std::chrono::steady_clock::time_point now);
  std::uint32_t acquire(const std::string& client) { return acquire(client, std::chrono::steady_clock::now()); }

  std::size_t clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;
  };
  void evict_locked(std::chrono::steady_clock::time_point now);

  std::uint32_t rate_;
  std::size_t max_clients_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace honeycomb::core::api
