#include "honeypot/bytes.hpp"

#include <gtest/gtest.h>

namespace honeycomb::honeypot {
namespace {

using namespace std::string_literals;

TEST(HoneypotBytes, HexIsTwoLowerCaseDigitsPerByte) {
  EXPECT_EQ(to_hex("\x00\x7f\xff GET"s), "007fff20474554");
  EXPECT_EQ(to_hex(""), "");
}

TEST(HoneypotBytes, PrintableEscapesControlAndHighBytes) {
  EXPECT_EQ(to_printable("GET / HTTP/1.0\r\n\r\n"), "GET / HTTP/1.0\\r\\n\\r\\n");
  EXPECT_EQ(to_printable("\x00\x16\x03\x01\xc3\xa9 a\\b\t"s), "\\x00\\x16\\x03\\x01\\xc3\\xa9 a\\\\b\\t");
}

TEST(HoneypotBytes, UnescapeUndoesPrintableForEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
  }
  std::string error;
  const auto back = unescape(to_printable(all), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, all);
}

TEST(HoneypotBytes, UnescapeNamesTheBadEscape) {
  std::string error;
  EXPECT_FALSE(unescape("220 ok\\q", error));
  EXPECT_NE(error.find("unknown escape '\\q' at offset 6"), std::string::npos) << error;
  EXPECT_FALSE(unescape("\\x4", error));
  EXPECT_NE(error.find("two hex digits"), std::string::npos) << error;
  EXPECT_FALSE(unescape("trailing\\", error));
  EXPECT_NE(error.find("lone"), std::string::npos) << error;
}

TEST(HoneypotBytes, PortListTakesPortsAndRangesInOrder) {
  std::string error;
  const auto ports = parse_port_list(" 23, 21,8000-8002 ", 64, error);
  ASSERT_TRUE(ports) << error;
  EXPECT_EQ(*ports, (std::vector<std::uint16_t>{23, 21, 8000, 8001, 8002}));
}

TEST(HoneypotBytes, PortListRefusesWhatIsNotAPortList) {
  std::string error;
  for (const char* bad : {"", "0", "65536", "21,", "x", "9-8", "21,21", "1-100"}) {
    EXPECT_FALSE(parse_port_list(bad, 64, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(parse_port_list("1-65", 64, error));
  EXPECT_EQ(error, "more than 64 ports");
}

TEST(HoneypotBytes, SplitListTrimsAndSkipsEmptyItems) {
  EXPECT_EQ(split_list(" publickey, password,,keyboard-interactive ,"),
            (std::vector<std::string_view>{"publickey", "password", "keyboard-interactive"}));
  EXPECT_TRUE(split_list(" , ").empty());
}

}  // namespace
}  // namespace honeycomb::honeypot
