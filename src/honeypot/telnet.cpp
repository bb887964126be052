#include "honeypot/telnet.hpp"

namespace honeycomb::honeypot::telnet {
namespace {

constexpr unsigned char kTerminalTypeIs = 0;
constexpr unsigned char kTerminalTypeSend = 1;

std::size_t command_slot(unsigned char command) {
  return static_cast<std::size_t>(command - kWill);  // WILL, WONT, DO, DONT: 0..3
}

}  // namespace

std::string_view server_greeting() {
  static constexpr char greeting[] = {
      static_cast<char>(kIac), static_cast<char>(kDo), static_cast<char>(kOptTerminalType),
      static_cast<char>(kIac), static_cast<char>(kDo), static_cast<char>(kOptTerminalSpeed),
      static_cast<char>(kIac), static_cast<char>(kDo), static_cast<char>(kOptXDisplay),
      static_cast<char>(kIac), static_cast<char>(kDo), static_cast<char>(kOptNewEnviron)};
  return {greeting, sizeof greeting};
}

std::string_view server_login_options() {
  static constexpr char options[] = {
      static_cast<char>(kIac), static_cast<char>(kWill), static_cast<char>(kOptEcho),
      static_cast<char>(kIac), static_cast<char>(kWill), static_cast<char>(kOptSuppressGoAhead),
      static_cast<char>(kIac), static_cast<char>(kDo),   static_cast<char>(kOptWindowSize)};
  return {options, sizeof options};
}

void Decoder::feed(std::string_view input, std::string& data, std::string& reply) {
  for (const char c : input) {
    const auto b = static_cast<unsigned char>(c);
    switch (state_) {
      case State::data:
        if (b == kIac) {
          state_ = State::iac;
        } else {
          data.push_back(c);
        }
        break;
      case State::iac:
        if (b == kIac) {
          data.push_back(c);  // IAC IAC: a literal 255
          state_ = State::data;
        } else if (b >= kWill && b <= kDont) {
          command_ = b;
          state_ = State::option;
        } else if (b == kSb) {
          subneg_.clear();
          subneg_cut_ = false;
          state_ = State::subneg;
        } else {
          state_ = State::data;  // NOP, GA, AYT, IP...: nothing to answer
        }
        break;
      case State::option:
        on_option(command_, b, reply);
        state_ = State::data;
        break;
      case State::subneg:
        if (b == kIac) {
          state_ = State::subneg_iac;
        } else if (subneg_.size() < kMaxSubnegotiation) {
          subneg_.push_back(c);
        } else if (!subneg_cut_) {
          subneg_cut_ = true;
          ++oversized_;
        }
        break;
      case State::subneg_iac:
        if (b == kSe) {
          on_subnegotiation(reply);
          state_ = State::data;
        } else if (b == kIac) {
          if (subneg_.size() < kMaxSubnegotiation) {
            subneg_.push_back(c);
          }
          state_ = State::subneg;
        } else {
          // A command inside a subnegotiation: the client broke the
          // protocol; drop the subnegotiation and read on as data.
          state_ = State::data;
        }
        break;
    }
  }
}

void Decoder::on_option(unsigned char command, unsigned char option, std::string& reply) {
  const bool offered_by_us = option == kOptEcho || option == kOptSuppressGoAhead;  // we said WILL
  const bool asked_by_us = option == kOptTerminalType || option == kOptWindowSize || option == kOptTerminalSpeed ||
                           option == kOptXDisplay || option == kOptNewEnviron;  // we said DO
  switch (command) {
    case kDo:
      if (!offered_by_us) {
        answer(kWont, option, reply);
      }
      break;
    case kWill:
      if (option == kOptTerminalType) {
        // Agreed: ask for the terminal type (once).
        if (const std::size_t slot = command_slot(kWill) * 256 + option; !answered_.test(slot)) {
          answered_.set(slot);
          reply.push_back(static_cast<char>(kIac));
          reply.push_back(static_cast<char>(kSb));
          reply.push_back(static_cast<char>(kOptTerminalType));
          reply.push_back(static_cast<char>(kTerminalTypeSend));
          reply.push_back(static_cast<char>(kIac));
          reply.push_back(static_cast<char>(kSe));
        }
      } else if (option == kOptLinemode) {
        // telnetd accepts a client's line mode; clients that are refused it
        // (hydra among them) fall back to sending a byte at a time.
        answer(kDo, option, reply);
      } else if (!asked_by_us) {
        answer(kDont, option, reply);
      }
      break;
    case kDont:
      // The client declines; nothing is owed. Without our echo it echoes.
      client_echoes_ = client_echoes_ || option == kOptEcho;
      break;
    default:
      break;  // WONT: nothing is owed
  }
}

void Decoder::on_subnegotiation(std::string& /*reply*/) {
  if (subneg_.size() >= 2 && static_cast<unsigned char>(subneg_[0]) == kOptTerminalType &&
      static_cast<unsigned char>(subneg_[1]) == kTerminalTypeIs) {
    terminal_type_.clear();
    for (std::size_t i = 2; i < subneg_.size() && terminal_type_.size() < kMaxTerminalType; ++i) {
      const char c = subneg_[i];
      if (c >= 0x21 && c < 0x7f) {
        terminal_type_.push_back(c);
      }
    }
  }
}

void Decoder::answer(unsigned char command, unsigned char option, std::string& reply) {
  // `command` is what we send; index by it so each answer goes out once.
  const std::size_t slot = command_slot(command) * 256 + option;
  if (answered_.test(slot)) {
    return;
  }
  answered_.set(slot);
  reply.push_back(static_cast<char>(kIac));
  reply.push_back(static_cast<char>(command));
  reply.push_back(static_cast<char>(option));
}

void LineReader::feed(std::string_view data, std::vector<std::string>& lines, bool echo, std::string& echo_out) {
  for (const char c : data) {
    const bool was_after_cr = after_cr_;
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      if (c == '\n' && was_after_cr) {
        continue;  // the LF of CR LF
      }
      after_cr_ = c == '\r';
      lines.push_back(std::move(line_));
      line_.clear();
      cutting_ = false;
      if (echo) {
        echo_out += "\r\n";
      }
      continue;
    }
    if (c == '\0') {
      continue;  // CR NUL's NUL, or padding
    }
    if (c == '\b' || c == '\x7f') {
      if (!line_.empty() && !cutting_) {
        line_.pop_back();
        if (echo) {
          echo_out += "\b \b";
        }
      }
      continue;
    }
    if (line_.size() >= max_line_) {
      if (!cutting_) {
        cutting_ = true;
        ++cut_lines_;
      }
      continue;
    }
    line_.push_back(c);
    if (echo) {
      echo_out.push_back(c);
    }
  }
}

}  // namespace honeycomb::honeypot::telnet
