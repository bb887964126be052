#include "core/api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace honeycomb::core::api {

std::uint32_t RateLimiter::acquire(const std::string& client, std::chrono::steady_clock::time_point now) {
  if (rate_ == 0) {
    return 0;
  }
  const double capacity = rate_;
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      evict_locked(now);
    }
    it = buckets_.emplace(client, Bucket{capacity, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(capacity, b.tokens + elapsed * rate_);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  const double wait = (1.0 - b.tokens) / rate_;
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::ceil(wait)));
}

void RateLimiter::evict_locked(std::chrono::steady_clock::time_point now) {
  // A bucket refills completely within one second (burst = rate).
  std::erase_if(buckets_, [now](const auto& entry) { return now - entry.second.updated >= std::chrono::seconds(1); });
  if (buckets_.size() >= max_clients_) {
    buckets_.clear();
  }
}

std::size_t RateLimiter::clients() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace honeycomb::core::api
