// What an SSH client says before encryption starts: its identification
// line ("SSH-2.0-OpenSSH_9.2p1 ...") and its first KEXINIT, whose algorithm
// lists fingerprint the client software (HASSH: MD5 of the key exchange,
// cipher, MAC and compression lists it offers, client to server). libssh
// does not expose the lists it receives, so the ssh honeypot reads them from
// the cleartext bytes it forwards.
//
// Runs on attacker bytes: bounded (the line, the packet), never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace honeycomb::honeypot {

struct SshClientHello {
  std::string version;           ///< identification line without CR LF (printable-escaped)
  std::string hassh;             ///< 32 lower-case hex digits; empty until the KEXINIT was read
  std::string hassh_algorithms;  ///< "kex;ciphers;macs;compression", what hassh is the MD5 of
};

class SshHelloReader {
 public:
  /// RFC 4253 4.2: the identification line is at most 255 bytes with CR LF.
  static constexpr std::size_t kMaxVersionLine = 255;
  /// RFC 4253 6.1: packets of 35000 bytes must be accepted; a KEXINIT is
  /// rarely over 2 KiB.
  static constexpr std::size_t kMaxPacket = 35000;

  enum class State {
    reading,    ///< wants more bytes
    done,       ///< version and KEXINIT read; hello() complete
    not_ssh,    ///< the first bytes are not an SSH identification line
    malformed,  ///< an SSH line, then something that is not a KEXINIT packet
  };

  /// Takes the next bytes from the client; returns the state after them.
  /// Once not `reading`, further bytes are ignored.
  State feed(std::string_view bytes);

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const SshClientHello& hello() const { return hello_; }
  /// The first bytes received (at most 256), for a not-ssh anomaly event.
  [[nodiscard]] std::string_view first_bytes() const { return first_bytes_; }

 private:
  State parse_version();
  State parse_kexinit();

  State state_ = State::reading;
  bool have_version_ = false;
  std::string buffer_;
  std::string first_bytes_;
  SshClientHello hello_;
};

/// The HASSH of a KEXINIT payload (message byte 20 included): fills `hello`
/// and returns true, or false when the payload is not a well-formed KEXINIT.
bool parse_kexinit_payload(std::string_view payload, SshClientHello& hello);

}  // namespace honeycomb::honeypot
