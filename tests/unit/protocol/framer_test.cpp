// Framer: values split and joined arbitrarily, bounded, recovering at '\n'.
#include "protocol/framer.hpp"

#include "protocol/codec.hpp"
#include "test_util.hpp"

#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace honeycomb::protocol {
namespace {

using ::testing::ElementsAre;

/// Records what the framer reports, values serialised for easy comparison.
struct Recorder {
  std::vector<std::string> values;
  std::vector<std::string> errors;
  std::vector<std::string> events;  ///< both, in order: "v:<json>" / "e:<reason>"
  Framer::Sink sink{
      [this](boost::json::value&& v) {
        values.push_back(boost::json::serialize(v));
        events.push_back("v:" + values.back());
      },
      [this](std::string_view reason) {
        errors.emplace_back(reason);
        events.push_back("e:" + errors.back());
      },
  };
};

const std::string kStatus =
    R"({"version":2,"message":{"NodeStatusUpdate":{"node_id":16298147445003569694,"status":"Running"}}})";
const std::string kDrop = R"({"version":2,"message":"NodeDrop"})";

/// Every test runs with values in the default memory (what the node's link
/// uses) and in the framer's scratch memory (the core's sessions).
class ProtocolFramer : public ::testing::TestWithParam<Framer::ValueMemory> {
 protected:
  Framer make(std::size_t max_bytes = std::size_t{4} * 1024 * 1024) const { return Framer(max_bytes, GetParam()); }
};

std::string memory_name(const ::testing::TestParamInfo<Framer::ValueMemory>& p) {
  return p.param == Framer::ValueMemory::owned ? "owned" : "scratch";
}

INSTANTIATE_TEST_SUITE_P(Memory, ProtocolFramer,
                         ::testing::Values(Framer::ValueMemory::owned, Framer::ValueMemory::scratch), memory_name);

TEST_P(ProtocolFramer, OneEnvelopePerLine) {
  Framer f = make();
  Recorder r;
  f.feed(kStatus + "\n", r.sink);
  ASSERT_THAT(r.values, ElementsAre(kStatus));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(f.pending_bytes(), 0u);
  // What the framer yields decodes (node_id above 2^63 intact).
  const auto d = decode(test::parse_json(r.values[0]));
  ASSERT_TRUE(std::holds_alternative<Decoded>(d));
  EXPECT_EQ(std::get<NodeStatusUpdate>(std::get<Decoded>(d).message).node_id, 16298147445003569694ull);
}

TEST_P(ProtocolFramer, TwoEnvelopesInOneFeed) {
  Framer f = make();
  Recorder r;
  f.feed(kStatus + "\n" + kDrop + "\n", r.sink);
  EXPECT_THAT(r.values, ElementsAre(kStatus, kDrop));
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(ProtocolFramer, ConcatenatedWithoutNewlines) {
  Framer f = make();
  Recorder r;
  f.feed(kStatus + kDrop + kStatus, r.sink);
  EXPECT_THAT(r.values, ElementsAre(kStatus, kDrop, kStatus));
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(ProtocolFramer, NoTrailingNewlineStillDeliversAtOnce) {
  Framer f = make();
  Recorder r;
  f.feed(kDrop, r.sink);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
  EXPECT_EQ(f.pending_bytes(), 0u);
  f.feed("\n", r.sink);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(ProtocolFramer, BlankLinesAndWhitespaceBetweenValuesAreIgnored) {
  Framer f = make();
  Recorder r;
  f.feed("\n\n  \t\r\n" + kDrop + "\r\n\n   " + kStatus + "  \n\n", r.sink);
  f.feed("\n", r.sink);  // HonnyPotter-style lone newline
  f.feed("   ", r.sink);
  f.feed("", r.sink);
  EXPECT_THAT(r.values, ElementsAre(kDrop, kStatus));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(f.pending_bytes(), 0u);
}

TEST_P(ProtocolFramer, SplitAtEveryBytePosition) {
  const std::string stream = kStatus + "\n" + kDrop + "\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    Framer f = make();
    Recorder r;
    f.feed(std::string_view(stream).substr(0, cut), r.sink);
    f.feed(std::string_view(stream).substr(cut), r.sink);
    EXPECT_THAT(r.values, ElementsAre(kStatus, kDrop)) << "cut at " << cut;
    EXPECT_TRUE(r.errors.empty()) << "cut at " << cut;
  }
}

TEST_P(ProtocolFramer, ByteByByte) {
  const std::string stream = kStatus + "\n" + kDrop + kStatus + "\n\n";
  Framer f = make();
  Recorder r;
  for (char c : stream) {
    f.feed(std::string_view(&c, 1), r.sink);
  }
  EXPECT_THAT(r.values, ElementsAre(kStatus, kDrop, kStatus));
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(ProtocolFramer, PendingBytesCountsThePartialValue) {
  Framer f = make();
  Recorder r;
  f.feed("  \n" + kStatus.substr(0, 10), r.sink);
  EXPECT_EQ(f.pending_bytes(), 10u);
  f.feed(kStatus.substr(10), r.sink);
  EXPECT_EQ(f.pending_bytes(), 0u);
  EXPECT_THAT(r.values, ElementsAre(kStatus));
}

TEST_P(ProtocolFramer, OversizedValueIsSkippedToTheNextLine) {
  Framer f = make(64);
  Recorder r;
  const std::string big = R"({"version":2,"message":{"PotEvent":{"data":")" + std::string(200, 'x') + R"("}}})";
  f.feed(big + "\n" + kDrop + "\n", r.sink);
  EXPECT_THAT(r.events, ElementsAre("e:envelope larger than 64 bytes", "v:" + kDrop));
}

TEST_P(ProtocolFramer, OversizedValueAcrossManyFeedsIsNotBuffered) {
  Framer f = make(1024);
  Recorder r;
  f.feed(R"({"version":2,"message":{"PotEvent":{"data":")", r.sink);
  const std::string chunk(4096, 'y');
  for (int i = 0; i < 256; ++i) {  // 1 MiB without a newline
    f.feed(chunk, r.sink);
    EXPECT_LE(f.pending_bytes(), 1024u);
  }
  EXPECT_THAT(r.errors, ElementsAre("envelope larger than 1024 bytes"));
  f.feed("\"}}}\n" + kDrop, r.sink);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST_P(ProtocolFramer, ValueOfExactlyMaxBytesIsAccepted) {
  Framer f = make(kStatus.size());
  Recorder r;
  f.feed(kStatus + "\n" + kStatus + "\n", r.sink);
  EXPECT_THAT(r.values, ElementsAre(kStatus, kStatus));
  EXPECT_TRUE(r.errors.empty());
  Framer g = make(kStatus.size() - 1);
  Recorder r2;
  g.feed(kStatus + "\n" + kDrop + "\n", r2.sink);
  EXPECT_THAT(r2.events,
              ElementsAre("e:envelope larger than " + std::to_string(kStatus.size() - 1) + " bytes", "v:" + kDrop));
}

TEST_P(ProtocolFramer, LargeEventsFitTheDefaultLimit) {
  Framer f = make();  // 4 MiB default: a 300 KB event (spec §1) passes
  Recorder r;
  const std::string big = R"({"version":2,"message":{"PotEvent":{"data":")" + std::string(300 * 1024, 'p') + R"("}}})";
  for (std::size_t i = 0; i < big.size(); i += 1460) {  // TCP-segment-sized feeds
    f.feed(std::string_view(big).substr(i, 1460), r.sink);
  }
  f.feed("\n", r.sink);
  ASSERT_EQ(r.values.size(), 1u);
  EXPECT_EQ(r.values[0].size(), big.size());
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(ProtocolFramer, GarbageLineThenGoodLine) {
  Framer f = make();
  Recorder r;
  f.feed("hello there, not json\n" + kDrop + "\n", r.sink);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
  EXPECT_EQ(r.events.front().substr(0, 2), "e:");
}

TEST_P(ProtocolFramer, SyntaxErrorMidValueSkipsOnlyItsLine) {
  Framer f = make();
  Recorder r;
  f.feed(kDrop + R"({"version":2,"message":{"NodeDrop":}})" + kStatus + "\n" + kDrop + "\n", r.sink);
  // The value before the bad one is delivered; the rest of the bad line
  // (including kStatus) is skipped; the next line decodes.
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0], "v:" + kDrop);
  EXPECT_EQ(r.events[1].substr(0, 2), "e:");
  EXPECT_EQ(r.events[2], "v:" + kDrop);
}

TEST_P(ProtocolFramer, GarbageSplitAcrossFeedsThenGoodLine) {
  Framer f = make();
  Recorder r;
  f.feed("{\"version\":2,\"mess", r.sink);
  f.feed("age\":nope, more garbage", r.sink);
  f.feed(" still garbage without newline {\"x\":1}", r.sink);
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.values.empty());
  f.feed("\n" + kDrop, r.sink);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST_P(ProtocolFramer, ErrorOnTheNewlineItselfResumesAfterIt) {
  Framer f = make();
  Recorder r;
  f.feed("tru\n" + kDrop + "\n", r.sink);
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
}

TEST_P(ProtocolFramer, DeeplyNestedJsonIsAnErrorNotACrash) {
  Framer f = make();
  Recorder r;
  f.feed(std::string(100000, '[') + "\n" + kDrop + "\n", r.sink);
  f.feed(std::string(50000, '{') + "\n", r.sink);
  f.feed(std::string(100000, '[') + std::string(100000, ']') + "\n" + kStatus + "\n", r.sink);
  EXPECT_EQ(r.errors.size(), 3u);
  EXPECT_THAT(r.values, ElementsAre(kDrop, kStatus));
}

TEST_P(ProtocolFramer, InvalidUtf8IsAnError) {
  Framer f = make();
  Recorder r;
  f.feed("{\"version\":2,\"message\":\"Node\xff\xfe\"}\n" + kDrop + "\n", r.sink);
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.values, ElementsAre(kDrop));
}

TEST_P(ProtocolFramer, GoEscapesDecode) {
  Framer f = make();
  Recorder r;
  f.feed(R"({"version":2,"message":{"NodeEvent":{"type":"Error","message":"\u003cb\u003e \u0026 \u2028"}}})"
         "\n",
         r.sink);
  ASSERT_EQ(r.values.size(), 1u);
  const auto d = test::decode_ok(r.values[0]);
  EXPECT_EQ(std::get<NodeEvent>(d.message).text, "<b> & \u2028");
}

TEST_P(ProtocolFramer, ScalarTopLevelValuesAreFramedToo) {
  Framer f = make();
  Recorder r;
  f.feed("12", r.sink);
  EXPECT_TRUE(r.values.empty());  // "12" may continue
  f.feed("3 \"s\" true\n", r.sink);
  EXPECT_THAT(r.values, ElementsAre("123", "\"s\"", "true"));
}

TEST_P(ProtocolFramer, EmptySinkCallbacksAreAllowed) {
  Framer f = make(16);
  f.feed(kDrop + "\ngarbage\n" + kStatus + "\n", Framer::Sink{});
  EXPECT_EQ(f.pending_bytes(), 0u);
}

TEST_P(ProtocolFramer, RandomChunkingKeepsEveryValueInOrder) {
  std::string stream;
  std::vector<std::string> expected;
  std::mt19937 rng(12345);
  for (int i = 0; i < 300; ++i) {
    std::string v =
        R"({"version":2,"message":{"NodeStatusUpdate":{"node_id":)" + std::to_string(i) + R"(,"status":"Running"}}})";
    expected.push_back(v);
    stream += v;
    switch (rng() % 4) {
      case 0:
        break;  // concatenated
      case 1:
        stream += "\n";
        break;
      case 2:
        stream += "\r\n\n";
        break;
      default:
        stream += "   ";
    }
  }
  for (int round = 0; round < 20; ++round) {
    Framer f = make();
    Recorder r;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t n = 1 + rng() % 200;
      f.feed(std::string_view(stream).substr(pos, n), r.sink);
      pos += n;
    }
    EXPECT_EQ(r.values, expected) << "round " << round;
    EXPECT_THAT(r.errors, ::testing::IsEmpty());
  }
}

// on_line is offered each value whose line ends in the same feed; what it
// takes is not parsed, what it declines is, and a value that spans feeds
// never reaches it.
TEST_P(ProtocolFramer, LinesGoToOnLineFirst) {
  Framer f = make(200);
  Recorder r;
  std::vector<std::string> offered;
  r.sink.on_line = [&](std::string_view line) {
    offered.emplace_back(line);
    return line == kDrop;  // takes only this one
  };
  f.feed("  " + kDrop + "\n" + kStatus + "\n" + R"({"a":1}{"b":2})" + "\n" + kDrop.substr(0, 10), r.sink);
  f.feed(kDrop.substr(10) + "\n" + kDrop + "\r\n" + std::string(250, ' ') + "[" + std::string(250, '1') + "]\n",
         r.sink);
  EXPECT_THAT(offered, ElementsAre(kDrop, kStatus, R"({"a":1}{"b":2})", R"({"b":2})", kDrop + "\r"));
  EXPECT_THAT(r.values, ElementsAre(kStatus, R"({"a":1})", R"({"b":2})", kDrop, kDrop));
  ASSERT_EQ(r.errors.size(), 1u);  // the long line: not offered (over max_bytes), refused as before
}

TEST_P(ProtocolFramer, ManyValuesOnOneLongLineStayLinear) {
  // 1,000,000 tiny values on one 2 MB line: each must not rescan the rest of
  // the line for a newline (quadratic: about a terabyte of memchr, minutes;
  // linear: well under a second even under ASan).
  std::string stream;
  stream.reserve(2'000'000);
  for (int i = 0; i < 1'000'000; ++i) {
    stream += "{}";
  }
  Framer f = make();
  std::size_t values = 0;
  const Framer::Sink sink{[&](boost::json::value&&) { ++values; }, [](std::string_view) {}};
  const auto start = std::chrono::steady_clock::now();
  f.feed(stream, sink);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(values, 1'000'000u);
  EXPECT_LT(elapsed, std::chrono::seconds(20));
}

}  // namespace
}  // namespace honeycomb::protocol
