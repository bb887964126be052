#include "honeypot/line_editor.hpp"

namespace honeycomb::honeypot {

namespace {
constexpr char kCtrlC = 0x03;
constexpr char kCtrlD = 0x04;
constexpr char kBackspace = 0x08;
constexpr char kCtrlU = 0x15;
constexpr char kEscape = 0x1b;
constexpr char kDelete = 0x7f;

bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}
}  // namespace

void LineEditor::feed(std::string_view bytes, std::vector<Input>& inputs, std::string& echo) {
  for (const char c : bytes) {
    const bool was_after_cr = after_cr_;
    after_cr_ = false;
    if (escape_ != Escape::none) {
      // ESC [ params final (CSI), ESC O x (SS3), ESC x: nothing is echoed.
      if (escape_ == Escape::start) {
        escape_ = c == '[' ? Escape::csi : c == 'O' ? Escape::ss3 : Escape::none;
      } else if (escape_ == Escape::ss3 || (c >= 0x40 && c <= 0x7e)) {
        escape_ = Escape::none;
      }
      continue;
    }
    switch (c) {
      case '\r':
      case '\n':
        if (c == '\n' && was_after_cr) {
          break;  // CR LF is one Enter
        }
        after_cr_ = c == '\r';
        echo += "\r\n";
        inputs.push_back({Kind::line, std::move(line_)});
        line_.clear();
        cut_ = false;
        break;
      case '\0':
        break;  // CR NUL from some clients
      case kCtrlC:
        echo += "^C\r\n";
        line_.clear();
        cut_ = false;
        inputs.push_back({Kind::interrupt, {}});
        break;
      case kCtrlD:
        if (line_.empty()) {
          inputs.push_back({Kind::end_of_input, {}});
        }
        break;
      case kBackspace:
      case kDelete:
        if (!line_.empty()) {
          while (!line_.empty() && is_utf8_continuation(line_.back())) {
            line_.pop_back();
          }
          if (!line_.empty()) {
            line_.pop_back();
          }
          echo += "\b \b";
        }
        break;
      case kCtrlU:
        for (const char erased : line_) {
          if (!is_utf8_continuation(erased)) {
            echo += "\b \b";
          }
        }
        line_.clear();
        break;
      case kEscape:
        escape_ = Escape::start;
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          break;  // Tab and other control keys: bash would complete or beep
        }
        if (line_.size() >= max_line_) {
          if (!cut_) {
            cut_ = true;
            ++cut_lines_;
          }
          break;
        }
        line_.push_back(c);
        echo.push_back(c);
    }
  }
}

void split_lines(std::string_view bytes, std::string& partial, std::size_t max_line, std::vector<std::string>& lines) {
  while (!bytes.empty()) {
    const auto end = bytes.find('\n');
    const auto piece = bytes.substr(0, end);
    if (partial.size() < max_line) {
      partial.append(piece.substr(0, max_line - partial.size()));
    }
    if (end == std::string_view::npos) {
      return;
    }
    if (!partial.empty() && partial.back() == '\r') {
      partial.pop_back();
    }
    lines.push_back(std::move(partial));
    partial.clear();
    bytes.remove_prefix(end + 1);
  }
}

}  // namespace honeycomb::honeypot
