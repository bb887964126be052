// What makes one install of a built-in honeypot differ from another: a seed
// stable for this machine and service, and the fake names and banners drawn
// from it. Two installs that answered byte for byte alike would be one
// fingerprint for every attacker's scanner to learn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace honeycomb::honeypot {

/// Stable across restarts, different per machine (from /etc/machine-id, else
/// the host name) and per service name.
std::uint64_t install_seed(std::string_view service);

/// The `index`-th well-mixed number of `seed` (splitmix64): per-install
/// choices that stay the same across restarts.
std::uint64_t seeded_draw(std::uint64_t seed, std::uint64_t index);

/// A plausible server host name ("web-03", "db07"...) picked by `seed`.
std::string fake_hostname(std::uint64_t seed);

/// A fresh random session id (12 hex digits) that ties a connection's events.
std::string new_session_id();

/// The banner a common server sends first on `port` (FTP, SSH, Telnet, SMTP,
/// POP3, IMAP, VNC, IRC...), its version and host name picked by `seed`;
/// empty for a port whose protocol lets the client speak first.
std::string default_banner(std::uint16_t port, std::uint64_t seed);

}  // namespace honeycomb::honeypot
