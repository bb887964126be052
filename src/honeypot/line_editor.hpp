// What a terminal's line discipline and bash's readline do with the keys an
// attacker types into an SSH session that asked for a pty: the fake shell
// gets whole lines, the attacker sees their keys echoed, backspace erases,
// Ctrl-C abandons the line, Ctrl-D on an empty line logs out. Cursor and
// function keys (escape sequences) are swallowed.
//
// Runs on attacker bytes: the line is bounded, nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::honeypot {

class LineEditor {
 public:
  enum class Kind {
    line,          ///< Enter: `text` is the line
    interrupt,     ///< Ctrl-C
    end_of_input,  ///< Ctrl-D on an empty line
  };
  struct Input {
    Kind kind = Kind::line;
    std::string text;
  };

  explicit LineEditor(std::size_t max_line) : max_line_(max_line) {}

  /// Feeds typed bytes: appends what they complete to `inputs` and what the
  /// terminal shows to `echo`.
  void feed(std::string_view bytes, std::vector<Input>& inputs, std::string& echo);

  /// Lines that reached max_line (the rest of each was dropped).
  [[nodiscard]] std::size_t cut_lines() const { return cut_lines_; }

 private:
  enum class Escape { none, start, csi, ss3 };

  std::size_t max_line_;
  std::string line_;
  Escape escape_ = Escape::none;
  bool after_cr_ = false;
  bool cut_ = false;
  std::size_t cut_lines_ = 0;
};

/// Splits what a session without a pty sends (`ssh host < script`) into
/// lines: '\n' ends one, a '\r' before it is dropped, lines are cut at
/// `max_line`. `partial` carries the unfinished line between calls.
void split_lines(std::string_view bytes, std::string& partial, std::size_t max_line, std::vector<std::string>& lines);

}  // namespace honeycomb::honeypot
