#include "honeypot/telnet.hpp"

#include <gtest/gtest.h>

namespace honeycomb::honeypot::telnet {
namespace {

using namespace std::string_literals;

TEST(TelnetDecoder, SeparatesDataFromNegotiationAndAnswersOnce) {
  Decoder decoder;
  std::string data;
  std::string reply;
  // DO ECHO (we offered it): nothing owed. DO LINEMODE: WONT. WILL TTYPE: ask for it.
  decoder.feed("\xff\xfd\x01\xff\xfd\x22\xff\xfb\x18root\r\n"s, data, reply);
  EXPECT_EQ(data, "root\r\n");
  EXPECT_EQ(reply, "\xff\xfc\x22\xff\xfa\x18\x01\xff\xf0"s);
  reply.clear();
  decoder.feed("\xff\xfd\x22\xff\xfb\x18"s, data, reply);  // repeated: no loop
  EXPECT_EQ(reply, "");
  // WILL LINEMODE: accepted, as telnetd does. WILL of anything else: DONT.
  decoder.feed("\xff\xfb\x22\xff\xfb\x05"s, data, reply);
  EXPECT_EQ(reply, "\xff\xfd\x22\xff\xfe\x05"s);
}

TEST(TelnetDecoder, ReadsTheTerminalTypeAcrossFeeds) {
  Decoder decoder;
  std::string data;
  std::string reply;
  decoder.feed("\xff\xfa\x18\x00XTE"s, data, reply);
  decoder.feed("RM-256COLOR\xff\xf0ok"s, data, reply);
  EXPECT_EQ(decoder.terminal_type(), "XTERM-256COLOR");
  EXPECT_EQ(data, "ok");
}

TEST(TelnetDecoder, EscapedIacIsData) {
  Decoder decoder;
  std::string data;
  std::string reply;
  decoder.feed(
      "a\xff\xff"
      "b"s,
      data, reply);
  EXPECT_EQ(data,
            "a\xff"
            "b"s);
}

TEST(TelnetDecoder, EndlessSubnegotiationIsBounded) {
  Decoder decoder;
  std::string data;
  std::string reply;
  decoder.feed("\xff\xfa\x18"s + std::string(100000, 'A'), data, reply);
  EXPECT_EQ(decoder.oversized_subnegotiations(), 1U);
  decoder.feed(
      "\xff\xf0"
      "after"s,
      data, reply);
  EXPECT_EQ(data, "after");
}

TEST(TelnetLineReader, EveryLineEndingAndErase) {
  LineReader reader(16);
  std::vector<std::string> lines;
  std::string echo;
  reader.feed("a\r\nb\r\0c\nd\re"s, lines, true, echo);
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "c", "d"}));
  lines.clear();
  reader.feed("x\x7fyz\b\r"s, lines, true, echo);
  EXPECT_EQ(lines, (std::vector<std::string>{"ey"}));
  EXPECT_NE(echo.find("\b \b"), std::string::npos);
}

TEST(TelnetLineReader, LongLinesAreCutAndCounted) {
  LineReader reader(4);
  std::vector<std::string> lines;
  std::string echo;
  reader.feed("abcdefgh\nok\n", lines, false, echo);
  EXPECT_EQ(lines, (std::vector<std::string>{"abcd", "ok"}));
  EXPECT_EQ(reader.cut_lines(), 1U);
  EXPECT_EQ(echo, "");
}

}  // namespace
}  // namespace honeycomb::honeypot::telnet
