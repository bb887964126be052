#include "honeypot/login_policy.hpp"

#include "honeypot/tcp_server.hpp"

#include <stdexcept>

namespace honeycomb::honeypot {

std::optional<LoginPolicy> LoginPolicy::make(std::int64_t accept_after, std::string_view credentials,
                                             std::string& error) {
  if (accept_after < 0) {
    error = "accept_after must be 0 (never) or more";
    return std::nullopt;
  }
  LoginPolicy policy;
  policy.accept_after_ = accept_after;
  while (!credentials.empty()) {
    const auto comma = credentials.find(',');
    const auto item = credentials.substr(0, comma);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "'" + std::string(item) + "' is not user:password (use user:* for any password)";
      return std::nullopt;
    }
    policy.credentials_.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    credentials.remove_prefix(comma == std::string_view::npos ? credentials.size() : comma + 1);
  }
  return policy;
}

LoginPolicy LoginPolicy::from_args(const ServiceArgs& args) {
  std::string error;
  auto policy = make(int_arg(args, "accept_after", 3, 0, 1'000'000), args.get("credentials", ""), error);
  if (!policy) {
    throw std::invalid_argument("credentials: " + error);
  }
  return std::move(*policy);
}

std::size_t LoginPolicy::KeyHash::operator()(const ConnectionGate::SourceKey& key) const noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

bool LoginPolicy::attempt(const ConnectionGate::SourceKey& source, std::string_view user, std::string_view password) {
  for (const auto& [u, p] : credentials_) {
    if (u == user && (p == "*" || p == password)) {
      return true;
    }
  }
  if (accept_after_ == 0) {
    return false;
  }
  std::lock_guard lock(memory_->mutex);
  auto& sources = memory_->sources;
  if (sources.size() >= kMaxSources && sources.find(source) == sources.end()) {
    sources.clear();
  }
  auto& state = sources[source];
  if (state.accepted) {
    return state.accepted->first == user && state.accepted->second == password;
  }
  if (++state.attempts >= static_cast<std::uint64_t>(accept_after_)) {
    state.accepted.emplace(user, password);
    return true;
  }
  return false;
}

}  // namespace honeycomb::honeypot
