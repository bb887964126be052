// Failed API logins per client address: after `max_failures` in a window,
// the address gets 429 (without its token being looked at) until the window
// ends, so guessing tokens from one address is slow and does not reach the
// database. Bounded: the map is cleared when it holds too many addresses (a
// spray from many addresses then starts its windows over, which only costs
// the sprayer). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace honeycomb::core::api {

class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LoginLimiter(std::uint32_t max_failures = 10, std::chrono::seconds window = std::chrono::seconds(60),
                        std::size_t max_clients = 16'384)
      : max_failures_(max_failures), window_(window), max_clients_(max_clients) {}

  /// 0 when `client` may try to log in; otherwise the seconds until it may.
  std::uint32_t blocked_for(const std::string& client, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    auto it = clients_.find(client);
    if (it == clients_.end() || now - it->second.window_start >= window_) {
      return 0;
    }
    if (it->second.failures < max_failures_) {
      return 0;
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.window_start + window_ - now);
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, left.count()));
  }

  /// Counts a failed login; true when this one reached the limit (log it once).
  bool failed(const std::string& client, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    if (clients_.size() >= max_clients_ && !clients_.contains(client)) {
      clients_.clear();
    }
    auto& entry = clients_[client];
    if (entry.failures == 0 || now - entry.window_start >= window_) {
      entry = Entry{now, 0};
    }
    return ++entry.failures == max_failures_;
  }

 private:
  struct Entry {
    Clock::time_point window_start;
    std::uint32_t failures = 0;
  };
  std::uint32_t max_failures_;
  std::chrono::seconds window_;
  std::size_t max_clients_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> clients_;
};

}  // namespace honeycomb::core::api
