// The telnet protocol (RFC 854/855) as a decoy server speaks it: the options
// Linux telnetd negotiates, a decoder that separates the client's data from
// its commands and answers the negotiation, and a line reader for prompts
// and shells (echo, backspace, every line ending clients send).
//
// Both run on attacker bytes: every buffer is bounded, every state has a way
// out, and nothing here throws on input.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::honeypot::telnet {

inline constexpr unsigned char kIac = 255;
inline constexpr unsigned char kDont = 254;
inline constexpr unsigned char kDo = 253;
inline constexpr unsigned char kWont = 252;
inline constexpr unsigned char kWill = 251;
inline constexpr unsigned char kSb = 250;
inline constexpr unsigned char kSe = 240;
inline constexpr unsigned char kOptEcho = 1;
inline constexpr unsigned char kOptSuppressGoAhead = 3;
inline constexpr unsigned char kOptTerminalType = 24;
inline constexpr unsigned char kOptWindowSize = 31;
inline constexpr unsigned char kOptTerminalSpeed = 32;
inline constexpr unsigned char kOptLinemode = 34;
inline constexpr unsigned char kOptXDisplay = 35;
inline constexpr unsigned char kOptNewEnviron = 39;

/// What the server sends first, byte for byte what Linux telnetd sends (and
/// what scanners such as nmap recognise it by): DO TERMINAL-TYPE, DO TSPEED,
/// DO XDISPLOC, DO NEW-ENVIRON.
std::string_view server_greeting();

/// What the server sends before login speaks: WILL ECHO, WILL
/// SUPPRESS-GO-AHEAD, DO NAWS (the server echoes, so a password is not
/// shown; the client sends characters as typed).
std::string_view server_login_options();

class Decoder {
 public:
  static constexpr std::size_t kMaxSubnegotiation = 512;
  static constexpr std::size_t kMaxTerminalType = 64;

  /// Appends the data bytes of `input` to `data` and the answers owed to the
  /// client's negotiation to `reply`. Commands may span calls.
  void feed(std::string_view input, std::string& data, std::string& reply);

  /// The terminal type the client reported (empty until it did).
  [[nodiscard]] const std::string& terminal_type() const { return terminal_type_; }
  /// True once the client refused our echo (DONT ECHO): it echoes itself.
  [[nodiscard]] bool client_echoes() const { return client_echoes_; }
  /// Subnegotiations longer than kMaxSubnegotiation (cut, then skipped).
  [[nodiscard]] std::uint64_t oversized_subnegotiations() const { return oversized_; }

 private:
  enum class State : std::uint8_t { data, iac, option, subneg, subneg_iac };
  void on_option(unsigned char command, unsigned char option, std::string& reply);
  void on_subnegotiation(std::string& reply);
  /// Sends `command option` at most once per pair: a client that repeats
  /// itself must not start a negotiation loop.
  void answer(unsigned char command, unsigned char option, std::string& reply);

  State state_ = State::data;
  unsigned char command_ = 0;
  std::string subneg_;
  bool subneg_cut_ = false;
  std::string terminal_type_;
  std::uint64_t oversized_ = 0;
  bool client_echoes_ = false;
  std::bitset<std::size_t{4} * 256> answered_;  ///< (command we sent, option) pairs
};

/// Cuts decoded data into lines the way a tty in canonical mode would:
/// CR, LF, CR LF and CR NUL end a line; backspace and DEL erase; a line
/// longer than `max_line` is cut there (the rest of it is dropped, counted).
class LineReader {
 public:
  explicit LineReader(std::size_t max_line) : max_line_(max_line) {}

  /// Appends complete lines to `lines`. With `echo`, appends to `echo_out`
  /// what a terminal shows for the keys (CR LF at a line's end, "\b \b" for
  /// an erase).
  void feed(std::string_view data, std::vector<std::string>& lines, bool echo, std::string& echo_out);

  [[nodiscard]] std::uint64_t cut_lines() const { return cut_lines_; }
  /// Bytes of the line being typed.
  [[nodiscard]] std::size_t pending() const { return line_.size(); }

 private:
  std::size_t max_line_;
  std::string line_;
  bool after_cr_ = false;
  bool cutting_ = false;
  std::uint64_t cut_lines_ = 0;
};

}  // namespace honeycomb::honeypot::telnet
