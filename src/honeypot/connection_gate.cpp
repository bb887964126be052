#include "honeypot/connection_gate.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <sys/resource.h>

namespace honeycomb::honeypot {

ConnectionGate::SourceKey source_key(const boost::asio::ip::address& source) {
  ConnectionGate::SourceKey key{};
  if (source.is_v4()) {
    const auto v4 = source.to_v4().to_bytes();
    key[10] = 0xff;
    key[11] = 0xff;
    std::memcpy(key.data() + 12, v4.data(), v4.size());
  } else {
    const auto v6 = source.to_v6().to_bytes();
    std::memcpy(key.data(), v6.data(), v6.size());
  }
  return key;
}

std::size_t ConnectionGate::KeyHash::operator()(const SourceKey& key) const noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

ConnectionGate::Verdict ConnectionGate::admit(const boost::asio::ip::address& source, Ticket& ticket) {
  const SourceKey key = source_key(source);
  std::lock_guard lock(mutex_);
  if (active_ >= limits_.max_connections) {
    refused_total_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::total_cap;
  }
  auto& count = per_source_[key];
  if (count >= limits_.max_per_source) {
    refused_source_.fetch_add(1, std::memory_order_relaxed);
    return Verdict::source_cap;
  }
  ++count;
  ++active_;
  ticket = Ticket(this, key);
  return Verdict::admitted;
}

std::size_t ConnectionGate::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

void ConnectionGate::release(const SourceKey& key) {
  std::lock_guard lock(mutex_);
  --active_;
  // Erase at zero: a scan from many addresses must not grow the map forever.
  if (auto it = per_source_.find(key); it != per_source_.end() && --it->second == 0) {
    per_source_.erase(it);
  }
}

ConnectionGate::Ticket& ConnectionGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = other.gate_;
    key_ = other.key_;
    other.gate_ = nullptr;
  }
  return *this;
}

void ConnectionGate::Ticket::release() {
  if (gate_ != nullptr) {
    gate_->release(key_);
    gate_ = nullptr;
  }
}

std::uint64_t raise_open_file_limit(std::size_t connections) {
  // Listeners, the log, integrations' files and sockets: a margin for them.
  constexpr rlim_t kReserve = 256;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  const rlim_t wanted = static_cast<rlim_t>(connections) + kReserve;
  if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
    const rlim_t previous = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      limit.rlim_cur = previous;
    }
  }
  return limit.rlim_cur;
}

}  // namespace honeycomb::honeypot
