#include "honeypot/ssh_hello.hpp"

#include "honeypot/bytes.hpp"

#include <algorithm>
#include <array>
#include <openssl/evp.h>

namespace honeycomb::honeypot {

namespace {

constexpr std::uint8_t kMsgKexInit = 20;
constexpr std::size_t kCookie = 16;
constexpr std::size_t kFirstBytes = 256;

std::uint32_t read_u32(std::string_view bytes) {
  return (std::uint32_t{static_cast<std::uint8_t>(bytes[0])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[2])} << 8) | std::uint32_t{static_cast<std::uint8_t>(bytes[3])};
}

/// Takes one SSH string (uint32 length, bytes) off the front of `rest`.
bool take_string(std::string_view& rest, std::string_view& out) {
  if (rest.size() < 4) {
    return false;
  }
  const auto length = read_u32(rest);
  rest.remove_prefix(4);
  if (length > rest.size()) {
    return false;
  }
  out = rest.substr(0, length);
  rest.remove_prefix(length);
  return true;
}

std::string md5_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_md5(), nullptr) != 1) {
    return {};
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

}  // namespace

bool parse_kexinit_payload(std::string_view payload, SshClientHello& hello) {
  if (payload.size() < 1 + kCookie || static_cast<std::uint8_t>(payload[0]) != kMsgKexInit) {
    return false;
  }
  auto rest = payload.substr(1 + kCookie);
  // kex, host key, ciphers c->s, s->c, MACs c->s, s->c, compression c->s, s->c
  std::array<std::string_view, 8> lists{};
  for (auto& list : lists) {
    if (!take_string(rest, list)) {
      return false;
    }
  }
  std::string algorithms;
  algorithms.reserve(lists[0].size() + lists[2].size() + lists[4].size() + lists[6].size() + 3);
  algorithms.append(lists[0]).append(";").append(lists[2]).append(";").append(lists[4]).append(";").append(lists[6]);
  // The lists are attacker text: the fingerprint is taken over the bytes as
  // sent, the recorded copy is made printable.
  hello.hassh = md5_hex(algorithms);
  hello.hassh_algorithms = to_printable(algorithms);
  return !hello.hassh.empty();
}

SshHelloReader::State SshHelloReader::feed(std::string_view bytes) {
  if (state_ != State::reading) {
    return state_;
  }
  if (first_bytes_.size() < kFirstBytes) {
    first_bytes_.append(bytes.substr(0, kFirstBytes - first_bytes_.size()));
  }
  // Never more than a version line and one packet are kept.
  constexpr std::size_t kMaxBuffered = kMaxVersionLine + 4 + kMaxPacket;
  if (buffer_.size() < kMaxBuffered) {
    buffer_.append(bytes.substr(0, kMaxBuffered - buffer_.size()));
  }
  if (!have_version_) {
    state_ = parse_version();
  }
  if (state_ == State::reading && have_version_) {
    state_ = parse_kexinit();
  }
  if (state_ != State::reading) {
    buffer_ = std::string();  // the bytes are forwarded anyway; free them
  }
  return state_;
}

SshHelloReader::State SshHelloReader::parse_version() {
  // A client must open with "SSH-" (RFC 4253 4.2: only servers may send
  // other lines first).
  constexpr std::string_view kPrefix = "SSH-";
  const auto compared = std::min(buffer_.size(), kPrefix.size());
  if (buffer_.compare(0, compared, kPrefix.substr(0, compared)) != 0) {
    return State::not_ssh;
  }
  const auto end = buffer_.find('\n');
  if (end == std::string::npos) {
    return buffer_.size() > kMaxVersionLine ? State::not_ssh : State::reading;
  }
  if (end + 1 > kMaxVersionLine) {
    return State::not_ssh;
  }
  auto line = std::string_view(buffer_).substr(0, end);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  hello_.version = to_printable(line);
  have_version_ = true;
  buffer_.erase(0, end + 1);
  return State::reading;
}

SshHelloReader::State SshHelloReader::parse_kexinit() {
  if (buffer_.size() < 5) {
    return State::reading;
  }
  const auto packet_length = read_u32(buffer_);
  const auto padding = static_cast<std::uint8_t>(buffer_[4]);
  if (packet_length > kMaxPacket || packet_length < std::size_t{padding} + 1 + 1 + kCookie) {
    return State::malformed;
  }
  if (buffer_.size() < 4 + std::size_t{packet_length}) {
    return State::reading;
  }
  const auto payload = std::string_view(buffer_).substr(5, packet_length - padding - 1);
  return parse_kexinit_payload(payload, hello_) ? State::done : State::malformed;
}

}  // namespace honeycomb::honeypot
