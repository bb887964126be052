// Admission of attacker connections for the built-in honeypots: a cap on all
// concurrent connections and a smaller one per source address, so a single
// scanner or flood cannot take every slot from the attackers worth recording.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace honeycomb::honeypot {

class ConnectionGate {
 public:
  struct Limits {
    std::size_t max_connections = 1000;
    std::size_t max_per_source = 32;
  };
  enum class Verdict { admitted, total_cap, source_cap };
  /// A source address as 16 bytes (IPv4 as IPv4-mapped IPv6).
  using SourceKey = std::array<unsigned char, 16>;

  /// Holds one slot until destroyed. Movable, so it can live in a coroutine.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(ConnectionGate* gate, const SourceKey& key) : gate_(gate), key_(key) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_), key_(other.key_) { other.gate_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }
    [[nodiscard]] bool valid() const { return gate_ != nullptr; }

   private:
    void release();
    ConnectionGate* gate_ = nullptr;
    SourceKey key_{};
  };

  explicit ConnectionGate(Limits limits) : limits_(limits) {}
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  /// Takes a slot for a connection from `source`. On refusal `ticket` stays
  /// invalid and the refusal is counted.
  Verdict admit(const boost::asio::ip::address& source, Ticket& ticket);

  [[nodiscard]] std::size_t active() const;
  [[nodiscard]] std::uint64_t refused_total_cap() const { return refused_total_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t refused_source_cap() const { return refused_source_.load(std::memory_order_relaxed); }
  [[nodiscard]] const Limits& limits() const { return limits_; }

 private:
  struct KeyHash {
    std::size_t operator()(const SourceKey& key) const noexcept;
  };
  void release(const SourceKey& key);

  Limits limits_;
  mutable std::mutex mutex_;
  std::size_t active_ = 0;
  std::unordered_map<SourceKey, std::size_t, KeyHash> per_source_;
  std::atomic<std::uint64_t> refused_total_{0};
  std::atomic<std::uint64_t> refused_source_{0};
};

/// `source` as a SourceKey.
ConnectionGate::SourceKey source_key(const boost::asio::ip::address& source);

}  // namespace honeycomb::honeypot

namespace honeycomb::honeypot {

/// Raises this process's soft limit of open files (up to the hard limit) so
/// that `connections` sockets fit beside the process's other descriptors.
/// Returns the limit now in force.
std::uint64_t raise_open_file_limit(std::size_t connections);

}  // namespace honeycomb::honeypot
