#include "honeypot/install.hpp"

#include <array>
#include <fstream>
#include <random>
#include <unistd.h>

namespace honeycomb::honeypot {
namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ULL) {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

/// splitmix64 of seed + index.
std::uint64_t seeded_draw(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

template <std::size_t N>
std::string_view pick(const std::array<std::string_view, N>& items, std::uint64_t seed, std::uint64_t index) {
  return items[seeded_draw(seed, index) % N];
}

std::string machine_identity() {
  std::string id;
  std::ifstream in("/etc/machine-id");
  if (in && std::getline(in, id) && !id.empty()) {
    return id;
  }
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) == 0) {
    return host.data();
  }
  return "honeycomb";
}

}  // namespace

std::uint64_t install_seed(std::string_view service) {
  static const std::string identity = machine_identity();
  return fnv1a(service, fnv1a("/", fnv1a(identity)));
}

std::string fake_hostname(std::uint64_t seed) {
  static constexpr std::array<std::string_view, 12> prefixes{"srv",   "web", "db",    "app", "backup", "mail",
                                                             "files", "nas", "build", "dev", "prod",   "ops"};
  const auto number = seeded_draw(seed, 1) % 40 + 1;
  std::string name(pick(prefixes, seed, 0));
  if (seeded_draw(seed, 2) % 2 == 0) {
    name += '-';
  }
  if (number < 10) {
    name += '0';
  }
  name += std::to_string(number);
  return name;
}

std::string new_session_id() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seq{device(), device(), device(), device()};
    return std::mt19937_64(seq);
  }();
  static constexpr char digits[] = "0123456789abcdef";
  std::uint64_t bits = generator();
  std::string id(12, '0');
  for (char& c : id) {
    c = digits[bits & 0x0f];
    bits >>= 4;
  }
  return id;
}

std::string default_banner(std::uint16_t port, std::uint64_t seed) {
  const std::string host = fake_hostname(seed);
  const auto minor = [&](std::uint64_t index, std::uint64_t count, std::uint64_t base = 1) {
    return std::to_string(base + seeded_draw(seed, index) % count);
  };
  switch (port) {
    case 21:
    case 2121: {
      static constexpr std::array<std::string_view, 3> servers{"vsftpd", "proftpd", "pureftpd"};
      const auto server = pick(servers, seed, 10);
      if (server == "vsftpd") {
        return "220 (vsFTPd 3.0." + minor(11, 3, 3) + ")\r\n";
      }
      if (server == "proftpd") {
        return "220 ProFTPD Server (" + host + ") [::ffff:10." + minor(12, 250) + "." + minor(13, 250) + "." +
               minor(14, 250) + "]\r\n";
      }
      return "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50 "
             "allowed.\r\n220 This is a private system - No anonymous login\r\n";
    }
    case 22:
    case 2222: {
      static constexpr std::array<std::string_view, 3> versions{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u",
                                                                "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.",
                                                                "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u"};
      const auto version = pick(versions, seed, 20);
      return std::string(version) +
             (version.find("Ubuntu") != std::string_view::npos ? minor(21, 7, 4) : minor(21, 3)) + "\r\n";
    }
    case 23:
    case 2323:
      // Linux telnetd opens with DO TERMINAL-TYPE, DO TSPEED, DO XDISPLOC,
      // DO NEW-ENVIRON: what scanners recognise telnet by.
      return {"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", 12};
    case 25:
    case 587:
      return "220 " + host + ".localdomain ESMTP Postfix (Debian/GNU)\r\n";
    case 110:
      return "+OK Dovecot (Debian) ready.\r\n";
    case 143:
      return "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] "
             "Dovecot (Debian) ready.\r\n";
    case 5900:
    case 5901:
      return "RFB 003.008\n";
    case 6667:
      return ":" + host + ".localdomain NOTICE * :*** Looking up your hostname...\r\n";
    default:
      return {};
  }
}

}  // namespace honeycomb::honeypot
