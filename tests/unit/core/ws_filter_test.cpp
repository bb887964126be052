// The WebSocket stream's building blocks without a network: CIDR matching,
// filter parsing and matching, and a client's bounded queue with its missed
// counts.
#include "core/metrics.hpp"
#include "core/ws/client_queue.hpp"
#include "core/ws/stream_filter.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

namespace honeycomb::core::ws {
namespace {

namespace json = boost::json;

StreamFilter filter_of(std::string_view text) {
  auto parsed = parse_filter(json::parse(text));
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error());
  return parsed ? *parsed : StreamFilter{};
}

std::string error_of(std::string_view text) {
  auto parsed = parse_filter(json::parse(text));
  EXPECT_FALSE(parsed.has_value()) << text;
  return parsed ? std::string() : parsed.error();
}

StreamItem item(StreamItem::Kind kind, std::uint64_t node, std::string pot_type, std::string event_type,
                std::string src, std::string pot_id = "pot-1") {
  StreamItem i;
  i.kind = kind;
  i.node_id = node;
  i.pot_id = std::move(pot_id);
  i.pot_type = std::move(pot_type);
  i.event_type = std::move(event_type);
  i.src_ip = std::move(src);
  return i;
}

ItemPtr shared(std::string tag) {
  auto i = std::make_shared<StreamItem>();
  i->json = std::move(tag);
  return i;
}

TEST(WsCidr, Ipv4NetworksMatchByPrefix) {
  auto c = Cidr::parse("10.0.0.0/8");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->contains("10.255.1.1"));
  EXPECT_TRUE(c->contains("10.0.0.0"));
  EXPECT_FALSE(c->contains("11.0.0.1"));
  EXPECT_FALSE(c->contains("9.255.255.255"));
  EXPECT_TRUE(c->contains("::ffff:10.1.1.1"));  // IPv4-mapped
  EXPECT_FALSE(c->contains("2001:db8::1"));
  EXPECT_FALSE(c->contains("not an address"));
  EXPECT_FALSE(c->contains(""));

  auto odd = Cidr::parse("10.128.0.0/9");
  ASSERT_TRUE(odd.has_value());
  EXPECT_TRUE(odd->contains("10.200.0.1"));
  EXPECT_FALSE(odd->contains("10.100.0.1"));

  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->contains("203.0.113.9"));
  EXPECT_FALSE(all->contains("::1"));
}

TEST(WsCidr, Ipv6NetworksMatchByPrefix) {
  auto c = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->contains("2001:db8:1::1"));
  EXPECT_TRUE(c->contains("2001:0db8:ffff:ffff::"));
  EXPECT_FALSE(c->contains("2001:db9::1"));
  EXPECT_FALSE(c->contains("10.0.0.1"));

  auto mapped = Cidr::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->contains("10.1.2.3"));
  EXPECT_FALSE(mapped->contains("11.1.2.3"));

  auto odd = Cidr::parse("fe80::/10");
  ASSERT_TRUE(odd.has_value());
  EXPECT_TRUE(odd->contains("febf::1"));
  EXPECT_FALSE(odd->contains("fec0::1"));
}

TEST(WsCidr, SingleAddressesAndCanonicalText) {
  auto one = Cidr::parse("1.2.3.4");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->text(), "1.2.3.4/32");
  EXPECT_TRUE(one->contains("1.2.3.4"));
  EXPECT_FALSE(one->contains("1.2.3.5"));

  auto six = Cidr::parse("2001:db8::7");
  ASSERT_TRUE(six.has_value());
  EXPECT_EQ(six->text(), "2001:db8::7/128");
  EXPECT_TRUE(six->contains("2001:db8:0:0::7"));
  EXPECT_FALSE(six->contains("2001:db8::8"));

  EXPECT_EQ(Cidr::parse("10.1.2.3/8")->text(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::parse("2001:db8:ffff::1/32")->text(), "2001:db8::/32");
}

TEST(WsCidr, GarbageIsRefused) {
  for (const char* bad : {"", "abc", "300.1.1.1", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "::/129",
                          "1.2.3.4/ 8", "fe80::1%eth0/64", "10.0.0.0/99999999999999999999999"}) {
    EXPECT_FALSE(Cidr::parse(bad).has_value()) << bad;
  }
}

TEST(WsFilter, EmptyFilterMatchesEverything) {
  const auto f = filter_of("{}");
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::event, 1, "cowrie", "login", "10.0.0.1")));
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::node_status, 7, "", "", "")));
  EXPECT_TRUE(f.to_json().empty());
  EXPECT_TRUE(parse_filter(json::value(nullptr)).has_value());
}

TEST(WsFilter, FieldsApplyWhereTheItemHasThem) {
  const auto f = filter_of(R"({"pot_type":"cowrie","event_type":"login","src":"10.0.0.0/8"})");
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::event, 1, "cowrie", "login", "10.0.0.1")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::event, 1, "dionaea", "login", "10.0.0.1")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::event, 1, "cowrie", "command", "10.0.0.1")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::event, 1, "cowrie", "login", "192.168.0.1")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::event, 1, "cowrie", "login", "")));
  // Pot status has a pot type but no event type or source.
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::pot_status, 1, "cowrie", "", "")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::pot_status, 1, "dionaea", "", "")));
  // Node status has none of them.
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::node_status, 1, "", "", "")));
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::node_event, 1, "", "", "")));
}

TEST(WsFilter, NodeAndKinds) {
  const auto f = filter_of(R"({"node":"42","kinds":["event","pot_status"]})");
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::event, 42, "x", "y", "1.1.1.1")));
  EXPECT_TRUE(f.matches(item(StreamItem::Kind::pot_status, 42, "x", "", "")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::node_status, 42, "", "", "")));
  EXPECT_FALSE(f.matches(item(StreamItem::Kind::event, 43, "x", "y", "1.1.1.1")));

  EXPECT_EQ(*filter_of(R"({"node":42})").node, 42U);
  EXPECT_EQ(*filter_of(R"({"node":"16298147445003569694"})").node, 16298147445003569694ULL);
  EXPECT_EQ(*filter_of(R"({"node":16298147445003569694})").node, 16298147445003569694ULL);
  EXPECT_FALSE(filter_of(R"({"node":""})").node.has_value());
  EXPECT_FALSE(filter_of(R"({"node":null})").node.has_value());
  EXPECT_EQ(filter_of(R"({"pot_id":"p1"})").pot_id, "p1");
  EXPECT_EQ(filter_of(R"({"kinds":[]})").kinds, 0U);
}

TEST(WsFilter, EchoIsCanonical) {
  const auto f = filter_of(
      R"({"kinds":["pot_status","event"],"src":"10.1.2.3/8","node":7,"pot_type":"cowrie","event_type":"login",)"
      R"("pot_id":"p"})");
  EXPECT_EQ(json::value(f.to_json()), json::parse(R"({"pot_type":"cowrie","pot_id":"p","event_type":"login",)"
                                                  R"("node":"7","src":"10.0.0.0/8","kinds":["event","pot_status"]})"));
}

TEST(WsFilter, InvalidFiltersSayWhy) {
  EXPECT_NE(error_of(R"({"pot_typo":"cowrie"})").find("pot_typo"), std::string::npos);
  EXPECT_NE(error_of(R"({"node":"12a"})").find("node"), std::string::npos);
  EXPECT_NE(error_of(R"({"node":-1})").find("node"), std::string::npos);
  EXPECT_NE(error_of(R"({"node":1.5})").find("node"), std::string::npos);
  EXPECT_NE(error_of(R"({"node":true})").find("node"), std::string::npos);
  EXPECT_NE(error_of(R"({"src":"300.0.0.0/8"})").find("src"), std::string::npos);
  EXPECT_NE(error_of(R"({"src":8})").find("src"), std::string::npos);
  EXPECT_NE(error_of(R"({"kinds":"event"})").find("kinds"), std::string::npos);
  EXPECT_NE(error_of(R"({"kinds":["evnt"]})").find("kinds"), std::string::npos);
  EXPECT_NE(error_of(R"({"kinds":[1]})").find("kinds"), std::string::npos);
  EXPECT_NE(error_of(R"({"pot_type":{"a":1}})").find("pot_type"), std::string::npos);
  EXPECT_NE(error_of(R"({"event_type":"x)" + std::string(300, 'x') + R"("})").find("longer"), std::string::npos);
  EXPECT_FALSE(parse_filter(json::parse("[]")).has_value());
  EXPECT_FALSE(parse_filter(json::parse("\"cowrie\"")).has_value());
}

TEST(WsFilter, ErrorsQuoteKeysWithoutBreakingACharacter) {
  // 255 ASCII bytes, then a two-byte character across the 256-byte cut.
  const std::string key = std::string(255, 'k') + "\xc3\xa9" + "tail";
  EXPECT_EQ(error_quote(key), std::string(255, 'k'));
  EXPECT_EQ(error_quote("short \xe2\x82\xac"), "short \xe2\x82\xac");
  EXPECT_EQ(error_quote(std::string(300, 'x')).size(), kMaxFilterStringLength);
  const auto error = error_of("{\"" + key + "\":1}");
  EXPECT_NE(error.find(std::string(255, 'k') + "'"), std::string::npos) << error;
  // The error goes back to the client in a JSON text frame: valid UTF-8.
  boost::system::error_code ec;
  (void)json::parse(json::serialize(json::value(error)), ec);
  EXPECT_FALSE(ec) << error;
}

TEST(WsClientQueue, DropsWhenFullAndReportsTheGapWhereItWas) {
  Metrics metrics;
  ClientQueue q(2, metrics);
  EXPECT_FALSE(q.next().has_value());  // writer now waits
  EXPECT_TRUE(q.offer(shared("a")));   // wakes it
  EXPECT_FALSE(q.offer(shared("b")));
  EXPECT_FALSE(q.offer(shared("c")));  // full: missed
  EXPECT_FALSE(q.offer(shared("d")));
  EXPECT_EQ(metrics.ws_messages_dropped_total.load(), 2U);

  auto n = q.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->item->json, "a");
  EXPECT_EQ(n->missed, 0U);
  EXPECT_FALSE(q.offer(shared("e")));  // room again: queued after the gap
  n = q.next();
  EXPECT_EQ(n->item->json, "b");
  EXPECT_EQ(n->missed, 0U);
  n = q.next();
  EXPECT_EQ(n->item->json, "e");
  EXPECT_EQ(n->missed, 2U);
  EXPECT_FALSE(q.next().has_value());
}

TEST(WsClientQueue, MissedIsReportedOnceTheQueueRunsEmpty) {
  Metrics metrics;
  ClientQueue q(1, metrics);
  q.offer(shared("a"));
  for (int i = 0; i < 5; ++i) {
    q.offer(shared("x"));
  }
  EXPECT_EQ(q.next()->item->json, "a");
  auto n = q.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->item, nullptr);
  EXPECT_EQ(n->missed, 5U);
  EXPECT_FALSE(q.next().has_value());
}

TEST(WsClientQueue, FilterRepliesAndClose) {
  Metrics metrics;
  ClientQueue q(1, metrics);
  q.set_filter(filter_of(R"({"pot_type":"cowrie"})"));
  auto other = std::make_shared<StreamItem>(item(StreamItem::Kind::event, 1, "dionaea", "x", "1.1.1.1"));
  auto mine = std::make_shared<StreamItem>(item(StreamItem::Kind::event, 1, "cowrie", "x", "1.1.1.1"));
  EXPECT_FALSE(q.offer(other));
  q.offer(mine);
  q.offer(other);
  EXPECT_EQ(metrics.ws_messages_dropped_total.load(), 0U);  // filtered out is not missed
  q.offer(mine);
  EXPECT_EQ(metrics.ws_messages_dropped_total.load(), 1U);

  // Replies go past the capacity, in order, carrying the gap before them.
  q.push_reply(shared("r1"));
  q.push_reply(shared("r2"));
  EXPECT_EQ(q.pending_replies(), 2U);
  EXPECT_EQ(q.next()->item, mine);
  auto r1 = q.next();
  EXPECT_EQ(r1->item->json, "r1");
  EXPECT_TRUE(r1->reply);
  EXPECT_EQ(r1->missed, 1U);
  EXPECT_EQ(q.pending_replies(), 1U);

  q.close();
  EXPECT_EQ(q.pending_replies(), 0U);
  EXPECT_FALSE(q.offer(mine));
  EXPECT_FALSE(q.push_reply(shared("r3")));
  EXPECT_FALSE(q.next().has_value());
}

}  // namespace
}  // namespace honeycomb::core::ws
