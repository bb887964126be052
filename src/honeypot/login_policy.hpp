// Which login attempts the ssh and telnet honeypots let in. An attacker who
// never gets in never shows what they came to do; one who gets in at once
// with anything smells a honeypot. So: a list of credentials that always
// work, and/or the Nth attempt from an address succeeds (and those same
// credentials keep working for that address).
#pragma once

#include "honeypot/connection_gate.hpp"

#include <honeycomb/alert.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace honeycomb::honeypot {

class LoginPolicy {
 public:
  /// Addresses remembered at most; past that the memory starts over.
  static constexpr std::size_t kMaxSources = 65536;

  /// `accept_after`: the Nth attempt from an address succeeds (0: never).
  /// `credentials`: "user:password,user:*" always accepted ('*': any
  /// password). nullopt, with `error` set, when `credentials` is malformed.
  static std::optional<LoginPolicy> make(std::int64_t accept_after, std::string_view credentials, std::string& error);

  /// From the parameters accept_after (default 3) and credentials;
  /// std::invalid_argument naming the parameter when one is wrong.
  static LoginPolicy from_args(const ServiceArgs& args);

  /// Decides (and counts) one attempt. Thread-safe.
  bool attempt(const ConnectionGate::SourceKey& source, std::string_view user, std::string_view password);

 private:
  LoginPolicy() = default;
  struct KeyHash {
    std::size_t operator()(const ConnectionGate::SourceKey& key) const noexcept;
  };
  struct SourceState {
    std::uint32_t attempts = 0;
    std::optional<std::pair<std::string, std::string>> accepted;
  };
  /// Per-address attempts, behind a pointer so the policy stays movable.
  struct Memory {
    std::mutex mutex;
    std::unordered_map<ConnectionGate::SourceKey, SourceState, KeyHash> sources;
  };

  std::int64_t accept_after_ = 0;
  std::vector<std::pair<std::string, std::string>> credentials_;
  std::unique_ptr<Memory> memory_ = std::make_unique<Memory>();
};

}  // namespace honeycomb::honeypot
