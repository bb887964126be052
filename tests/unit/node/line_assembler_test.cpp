#include "node/line_assembler.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace honeycomb::node {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<std::pair<std::string, std::size_t>> oversized;
};

/// Feeds `chunks` as separate reads, each copied into a padded buffer as the
/// event port's read buffer is.
Collected feed(LineAssembler& a, const std::vector<std::string>& chunks, bool finish = true) {
  Collected c;
  // Views are kept until the read is done, as the event port does (it
  // appends a whole read's lines at once), so a view the assembler
  // overwrote within the same read shows up here.
  std::vector<std::string_view> views;
  auto on_line = [&](std::string_view l) { views.push_back(l); };
  auto on_oversize = [&](std::string_view head, std::size_t total) { c.oversized.emplace_back(head, total); };
  auto take_views = [&]() {
    for (auto v : views) {
      c.lines.emplace_back(v);
    }
    views.clear();
  };
  for (const auto& chunk : chunks) {
    std::string buffer = chunk + std::string(LineAssembler::kPadding, '\0');
    a.feed(std::string_view(buffer.data(), chunk.size()), on_line, on_oversize);
    take_views();
  }
  if (finish) {
    a.finish(on_line, on_oversize);
    take_views();
  }
  return c;
}

TEST(LineAssembler, SplitsLinesInOneRead) {
  LineAssembler a(1024);
  auto c = feed(a, {"{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n"});
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"}));
  EXPECT_TRUE(c.oversized.empty());
}

TEST(LineAssembler, JoinsALineSplitAcrossReads) {
  LineAssembler a(1024);
  auto c = feed(a, {"{\"a\"", ":1", "}\n{\"b\":", "2}\n"}, false);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(LineAssembler, ALineCompletedFromAnEarlierReadSurvivesTheRestOfTheRead) {
  LineAssembler a(1 << 20);
  const std::string long_tail(20'000, 'y');  // over the size a buffer is kept at
  auto c = feed(a, {"{\"n\":1", "}\n{\"n\":2}\n{\"n\":3" + long_tail, "}\n{\"n\":4"});
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3" + long_tail + "}", "{\"n\":4"}));
}

TEST(LineAssembler, LastLineWithoutNewlineCountsAtFinish) {
  LineAssembler a(1024);
  auto c = feed(a, {"{\"a\":1}\n{\"b\":2}"});
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST(LineAssembler, OversizedLineIsReportedWithItsHeadAndTheStreamGoesOn) {
  LineAssembler a(100);
  const std::string big(5000, 'x');
  auto c = feed(a, {"{\"ok\":1}\n" + big.substr(0, 50), big.substr(50, 3000), big.substr(3050) + "\n{\"ok\":2}\n"});
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"ok\":1}", "{\"ok\":2}"}));
  ASSERT_EQ(c.oversized.size(), 1u);
  EXPECT_EQ(c.oversized[0].second, 5000u);
  EXPECT_EQ(c.oversized[0].first, big.substr(0, LineAssembler::kHeadBytes));
  EXPECT_LE(a.buffered(), 100u);
}

TEST(LineAssembler, OversizedLineInOneReadAndAtFinish) {
  LineAssembler a(10);
  auto c = feed(a, {"01234567890123\n0123456789012345"});
  EXPECT_TRUE(c.lines.empty());
  ASSERT_EQ(c.oversized.size(), 2u);
  EXPECT_EQ(c.oversized[0], (std::pair<std::string, std::size_t>{"01234567890123", 14}));
  EXPECT_EQ(c.oversized[1].second, 16u);
}

TEST(LineAssembler, ALineOfExactlyTheLimitIsKept) {
  LineAssembler a(10);
  auto c = feed(a, {"01234", "56789\n"});
  EXPECT_EQ(c.lines, (std::vector<std::string>{"0123456789"}));
  EXPECT_TRUE(c.oversized.empty());
}

}  // namespace
}  // namespace honeycomb::node
