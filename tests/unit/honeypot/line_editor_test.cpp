#include "honeypot/line_editor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace honeycomb::honeypot {
namespace {

using namespace std::string_literals;
using Kind = LineEditor::Kind;

struct Typed {
  std::vector<LineEditor::Input> inputs;
  std::string echo;
};

Typed type(LineEditor& editor, const std::string& keys) {
  Typed typed;
  editor.feed(keys, typed.inputs, typed.echo);
  return typed;
}

TEST(LineEditor, EnterEndsALineAndKeysAreEchoed) {
  LineEditor editor(100);
  const auto typed = type(editor, "uname -a\rid\r\n");
  ASSERT_EQ(typed.inputs.size(), 2U);
  EXPECT_EQ(typed.inputs[0].text, "uname -a");
  EXPECT_EQ(typed.inputs[1].text, "id");
  EXPECT_EQ(typed.echo, "uname -a\r\nid\r\n");  // CR LF is one Enter, not two
}

TEST(LineEditor, LineFeedAloneAndCrNulAreEnterToo) {
  LineEditor editor(100);
  const auto typed = type(editor, "ls\nw\r\0pwd\r"s);
  ASSERT_EQ(typed.inputs.size(), 3U);
  EXPECT_EQ(typed.inputs[2].text, "pwd");
}

TEST(LineEditor, BackspaceErasesWholeCharacters) {
  LineEditor editor(100);
  const auto typed = type(editor, "lsx\x7f -l\x08\x08\x08\xc3\xa9\x7f\r");
  ASSERT_EQ(typed.inputs.size(), 1U);
  EXPECT_EQ(typed.inputs[0].text, "ls");
  EXPECT_EQ(typed.echo, "lsx\b \b -l\b \b\b \b\b \b\xc3\xa9\b \b\r\n");
  const auto more = type(editor, "\x7f\x7f");
  EXPECT_EQ(more.echo, "");  // nothing left to erase
}

TEST(LineEditor, CtrlCAbandonsTheLineAndCtrlDOnAnEmptyLineEndsInput) {
  LineEditor editor(100);
  const auto typed = type(editor,
                          "rm -rf /\x03"
                          "ab\x04\x15\x04");
  ASSERT_EQ(typed.inputs.size(), 2U);
  EXPECT_EQ(typed.inputs[0].kind, Kind::interrupt);
  EXPECT_EQ(typed.inputs[1].kind, Kind::end_of_input);  // after Ctrl-U emptied "ab"
  EXPECT_EQ(typed.echo, "rm -rf /^C\r\nab\b \b\b \b");
}

TEST(LineEditor, EscapeSequencesAreSwallowed) {
  LineEditor editor(100);
  const auto typed = type(editor, "l\x1b[A\x1b[1;5Cs\x1bOP\t\r");
  ASSERT_EQ(typed.inputs.size(), 1U);
  EXPECT_EQ(typed.inputs[0].text, "ls");
  EXPECT_EQ(typed.echo, "ls\r\n");
}

TEST(LineEditor, LinesAreCutAtTheLimit) {
  LineEditor editor(8);
  const auto typed = type(editor, std::string(20, 'a') + "\rshort\r");
  ASSERT_EQ(typed.inputs.size(), 2U);
  EXPECT_EQ(typed.inputs[0].text, std::string(8, 'a'));
  EXPECT_EQ(typed.inputs[1].text, "short");
  EXPECT_EQ(editor.cut_lines(), 1U);
}

TEST(SplitLines, NewlinesEndLinesAcrossCalls) {
  std::string partial;
  std::vector<std::string> lines;
  split_lines("echo a\r\nec", partial, 100, lines);
  split_lines("ho b\nrest", partial, 100, lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"echo a", "echo b"}));
  EXPECT_EQ(partial, "rest");
  lines.clear();
  split_lines(std::string(500, 'x') + "\n", partial, 100, lines);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].size(), 100U);
}

}  // namespace
}  // namespace honeycomb::honeypot
