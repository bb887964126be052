// What only the SQLite backend does: its file and schema version, its
// migrations, its write lock and its row-by-row size retention. The
// storage contract both backends share is in storage_test.cpp.
#include "store/storage.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <sqlite3.h>
#include <string>
#include <utility>
#include <vector>

namespace honeycomb::store {
namespace {

using namespace test_support;

class SqliteStoreTest : public StoreFixture {
 protected:
  Backend backend() const override { return Backend::sqlite; }

  std::unique_ptr<Storage> open_at(const std::string& path) {
    StorageOptions o;
    o.path = path;
    return open(o);
  }
  /// A store at `path` holding events 0..n-1, flushed, still open.
  std::unique_ptr<Storage> open_filled(const std::string& path, int n) {
    auto s = open_at(path);
    if (s) {
      auto batch = range(0, n);
      EXPECT_TRUE(append_when_room(*s, batch));
      s->flush();
    }
    return s;
  }
};

TEST_F(SqliteStoreTest, RefusesNewerSchemaAndBadPath) {
  const auto path = dir_.file("future.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  StorageOptions o;
  o.path = path;
  std::string error;
  EXPECT_FALSE(open_sqlite(o, error));
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
  o.path = dir_.file("no/such/dir/x.db");
  error.clear();
  EXPECT_FALSE(open_sqlite(o, error));
  EXPECT_FALSE(error.empty());
}

// Past retention_max_mb the oldest rows go, a pass at a time, until the
// file's pages in use fit (PostgreSQL drops whole days instead:
// pg_storage_test.cpp).
TEST_F(SqliteStoreTest, RetentionBySize) {
  StorageOptions o;
  o.retention_max_mb = 2;
  o.retention_interval_ms = 5;
  auto s = open(o);
  ASSERT_TRUE(s);
  const std::string pad(2000, 'p');
  for (int round = 0; round < 10; ++round) {  // ~5 MB of events
    auto batch = range(round * 250, round * 250 + 250);
    for (auto& e : batch) {
      e.raw_json = R"({"pad":")" + pad + R"("})";
    }
    ASSERT_TRUE(s->append(batch));
  }
  s->flush();
  ASSERT_TRUE(wait_for([&] { return s->counters().retention_deleted > 0 && s->used_bytes() <= 2 * 1024 * 1024; }));
  // The counter is bumped after the deleting commit: wait until they agree
  // (seen under load: 2,482 rows counted while the last pass was committing).
  ASSERT_TRUE(wait_for([&] { return ids_of(*s, {}).size() + s->counters().retention_deleted == 2500u; }));
  const auto left = ids_of(*s, {});
  EXPECT_LT(left.size(), 2500u);
  EXPECT_GT(left.size(), 100u);
  EXPECT_EQ(left.size() + s->counters().retention_deleted, 2500u);
  // The newest survive.
  EXPECT_EQ(s->get(2500).value->event.event_id, "ev-2499");
}

// The WAL keeps its size while events come (its pages are written over,
// not freed and faulted in again) and is cut to nothing once the store is
// told it is idle, but not from under a reader still using it.
TEST_F(SqliteStoreTest, IdleStoreCutsItsWalUnlessAReaderUsesIt) {
  const auto path = dir_.file("events.db");
  const auto wal_bytes = [&] {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path + "-wal", ec);
    return ec ? std::uintmax_t{0} : n;
  };
  auto s = open();
  ASSERT_TRUE(s);
  const std::string pad(2000, 'p');
  auto batch = range(0, 2000);
  for (auto& e : batch) {
    e.raw_json = R"({"pad":")" + pad + R"("})";
  }
  ASSERT_TRUE(s->append(batch));
  s->flush();
  ASSERT_GT(wal_bytes(), 4u << 20);

  // A reader inside a read transaction holds the WAL: the idle tick leaves it.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM events;", nullptr, nullptr, nullptr), SQLITE_OK);
  s->release_memory();
  append_all(*s, range(2000, 2010));  // the writer went on after its idle work
  s->flush();
  EXPECT_GT(wal_bytes(), 0u);
  sqlite3_stmt* rows = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(reader, "SELECT count(*) FROM events", -1, &rows, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(rows), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(rows, 0), 2000) << "the reader's snapshot";
  sqlite3_finalize(rows);
  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);

  // The next idle tick cuts it; nothing is lost, and the writer goes on.
  ASSERT_TRUE(wait_for([&] {
    s->release_memory();
    return wal_bytes() == 0;
  }));
  EXPECT_EQ(count(*s, {}), 2010u);
  append_all(*s, range(2010, 2020));
  s->flush();
  EXPECT_EQ(count(*s, {}), 2020u);
  EXPECT_GT(wal_bytes(), 0u);
}

TEST_F(SqliteStoreTest, CommitFailureIsRetriedThenReported) {
  StorageOptions o;
  o.busy_timeout_ms = 1;
  o.commit_attempts = 2;
  auto s = open(o);
  ASSERT_TRUE(s);
  // Another connection holds the write lock: the writer's transactions fail.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("events.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::atomic<int> result{-1};
  auto batch = range(0, 5);
  ASSERT_TRUE(s->append(batch, [&](bool ok) { result = ok ? 1 : 0; }));
  s->flush();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(s->counters().failed, 5u);
  EXPECT_EQ(s->counters().stored, 0u);
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  batch = range(0, 5);
  ASSERT_TRUE(s->append(batch, [&](bool ok) { result = ok ? 1 : 0; }));
  s->flush();
  EXPECT_EQ(result.load(), 1);
  EXPECT_EQ(s->counters().stored, 5u);
}

/// Runs `sql` on the store's file (its own connection); the error if it fails.
std::string exec_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK || sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  return error;
}

/// One integer a query on the store's file gives (its own connection).
std::int64_t scalar(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    value = sqlite3_column_int64(st, 0);
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return value;
}

// A store of schema 1 (two filter indexes, no block postings or address
// summaries, no enrollment tables) is migrated in place, its events kept: the filter
// indexes go, and the postings of its full blocks are written at open.
TEST_F(SqliteStoreTest, MigratesSchemaOneInPlace) {
  const auto path = dir_.file("v1.db");
  constexpr int kEvents = 20'000;  // two full blocks of 8,192 and the rows past them
  ASSERT_TRUE(open_filled(path, kEvents));
  ASSERT_EQ(exec_sql(path,
                     "DROP TABLE event_blocks; DROP TABLE event_postings; DROP TABLE event_src; "
                     "DROP TABLE event_src_span; DROP TABLE event_src_span_stale; DROP TABLE store_meta; "
                     "CREATE INDEX events_pot_time ON events(pot_id, event_us); "
                     "CREATE INDEX events_type_time ON events(event_type, event_us); "
                     "DROP TABLE join_tokens; DROP TABLE node_certificates; "
                     "DROP TABLE node_totp; DROP TABLE audit_log; ALTER TABLE api_tokens DROP COLUMN scope; "
                     "PRAGMA user_version=1"),
            "");
  auto s = open_at(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(count(*s, {}), static_cast<std::size_t>(kEvents));
  EventFilter f;
  f.src = "10.0.1.9";
  std::size_t want_src = 0, want_pot_type = 0;
  for (const auto& e : range(0, kEvents)) {
    want_src += e.src_ip == "10.0.1.9" ? 1 : 0;
    want_pot_type += e.pot_id == "pot-1" && e.event_type == "cowrie.command.input" ? 1 : 0;
  }
  EXPECT_EQ(count(*s, f), want_src);
  f = {};
  f.pot_id = "pot-1";
  f.event_type = "cowrie.command.input";
  EXPECT_EQ(count(*s, f), want_pot_type);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%'"), 1);
  EXPECT_EQ(scalar(path, "SELECT user_version FROM pragma_user_version"), 6);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM event_blocks"), 2);  // blocks 0 and 1; ids 16384.. are read directly
  EXPECT_EQ(scalar(path, "SELECT value FROM store_meta WHERE name = 'indexed_below'"), 16'384);
}

// A store of schema 5 keeps its lists in a WITHOUT ROWID table keyed by
// (kind, key, blk): the migration moves every list into the rowid table
// with its two indexes, and each filter names the same events as before.
TEST_F(SqliteStoreTest, MigratesSchemaFiveListsInPlace) {
  const auto path = dir_.file("v5.db");
  constexpr int kEvents = 20'000;  // two full blocks of 8,192 and the rows past them
  std::vector<EventFilter> filters(4);
  filters[0].pot_id = "pot-1";
  filters[1].event_type = "cowrie.command.input";
  filters[2].pot_type = "cowrie";
  filters[3].node_id = make_event(0).node_id;
  std::vector<std::vector<std::int64_t>> before;
  {
    auto s = open_filled(path, kEvents);
    ASSERT_TRUE(s);
    for (const auto& f : filters) {
      before.push_back(ids_of(*s, f));
      ASSERT_FALSE(before.back().empty());
      EXPECT_LT(before.back().back(), 16'384);  // the oldest come from the written blocks' lists
    }
  }
  const auto lists = scalar(path, "SELECT count(*) FROM event_postings");
  ASSERT_GT(lists, 0);
  ASSERT_EQ(exec_sql(path,
                     "CREATE TABLE v5(kind INTEGER NOT NULL, key NOT NULL, blk INTEGER NOT NULL, "
                     "entries BLOB NOT NULL, PRIMARY KEY(kind, key, blk)) WITHOUT ROWID; "
                     "INSERT INTO v5 SELECT kind, key, blk, entries FROM event_postings; "
                     "DROP TABLE event_postings; ALTER TABLE v5 RENAME TO event_postings; PRAGMA user_version=5"),
            "");
  auto s = open_at(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(scalar(path, "SELECT user_version FROM pragma_user_version"), 6);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM event_postings"), lists);
  EXPECT_EQ(scalar(path,
                   "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'event_postings' AND "
                   "(sql LIKE '%id INTEGER PRIMARY KEY%' OR name IN ('event_postings_key', 'event_postings_blk'))"),
            3);
  for (std::size_t i = 0; i < filters.size(); ++i) {
    EXPECT_EQ(ids_of(*s, filters[i]), before[i]) << "filter " << i;
  }
}

// The checkpointer drops from the OS page cache what the file has grown
// past its window (store/page_cache_window.hpp): with a 1 MiB window, the
// older half of a 40 MB store leaves the cache.
TEST_F(SqliteStoreTest, CheckpointerDropsTheFileBehindItsCacheWindow) {
  StorageOptions o;
  o.path = dir_.file("window.db");
  o.cache_window_mb = 1;
  auto s = open(o);
  ASSERT_TRUE(s);
  auto batch = range(0, 36'000);  // ~1.1 KB each: the checkpointer runs every 16 MiB of WAL
  for (auto& e : batch) {
    e.message.assign(1000, 'm');
  }
  ASSERT_TRUE(append_when_room(*s, batch));
  s->flush();
  // The checkpointer copies the WAL into the file beside the writer.
  std::int64_t size = 0;
  ASSERT_TRUE(wait_for([&] { return (size = static_cast<std::int64_t>(fs::file_size(o.path))) > (20 << 20); }))
      << "the database file stayed at " << size << " bytes";
  double cached = 1.0;
  EXPECT_TRUE(wait_for([&] { return (cached = cached_share(o.path, 0, size / 2)) < 0.2; }))
      << "share of the older half still cached: " << cached;
}

// Retention that deletes rows inside written blocks (late events, old by
// their own time, among new ones) rebuilds those blocks' postings: the
// address's count from its lists and every filtered page name only rows
// that are left.
TEST_F(SqliteStoreTest, RetentionRebuildsTheBlocksItDeletesFrom) {
  const auto now = now_us();
  StorageOptions o;
  o.retention_days = 1;
  o.retention_interval_ms = 5;
  auto s = open(o);
  ASSERT_TRUE(s);
  constexpr int kEvents = 20'000;
  std::vector<events::Event> batch;
  std::size_t old_events = 0, kept_of_ip = 0, kept_pot = 0;
  for (int i = 0; i < kEvents; ++i) {
    auto e = make_event(i, now - 3'600'000'000LL + i);  // an hour old
    e.raw_json = "{}";
    if (i % 97 == 0) {
      e.event_us = now - 3 * 86'400'000'000LL + i;  // three days old: deleted
      ++old_events;
    } else {
      kept_of_ip += i % 7 == 0 ? 1 : 0;
      kept_pot += e.pot_id == "pot-2" ? 1 : 0;
    }
    if (i % 7 == 0) {
      e.src_ip = "198.51.100.7";
    }
    batch.push_back(std::move(e));
  }
  ASSERT_TRUE(append_when_room(*s, batch));
  s->flush();
  ASSERT_TRUE(wait_for([&] { return s->counters().retention_deleted >= old_events; }));
  EXPECT_EQ(s->counters().retention_deleted, old_events);
  auto a = s->attacker_summary("198.51.100.7");
  ASSERT_TRUE(a) << a.error.message;
  EXPECT_EQ(a.value->event_count, kept_of_ip);
  EventFilter f;
  f.src = "198.51.100.7";
  EXPECT_EQ(count(*s, f), kept_of_ip);
  f = {};
  f.pot_id = "pot-2";
  EXPECT_EQ(count(*s, f), kept_pot);
  EXPECT_EQ(count(*s, {}), static_cast<std::size_t>(kEvents) - old_events);
}

// The address summaries of a span of 64 blocks (524,288 ids) answer for
// its blocks: an address's count, times and newest events, and its
// filtered pages, are those of a scan, whether its rows are in the
// summarised span, in the blocks after it or past the last block; after
// retention deleted some of them (the span's summaries written again at the
// end of the pass); after a reopen; and after a schema-4 store got its
// summaries at open.
TEST_F(SqliteStoreTest, SpanSummariesAnswerForTheirBlocks) {
  constexpr int kEvents = 600'000;  // span 0 summarised; blocks 64..73 not
  constexpr std::size_t kSummarised = 200;
  const std::string busy = "198.51.100.7", rare = "203.0.113.9";
  const auto now = now_us();
  StorageOptions o;
  o.attacker_summarised = kSummarised;
  const auto is_busy = [](int i) { return i % 997 == 0 || i == 400'000; };
  // Three days old by their own time: deleted by retention (once span 0 is summarised).
  const auto is_old = [](int i) { return i % 997 == 0 && i < 100'000 && i % 3 == 0; };
  int newest_from = 0;  // the busy address's newest kSummarised events by id
  {
    std::vector<int> busy_at;
    for (int i = 0; i < kEvents; ++i) {
      if (is_busy(i)) {
        busy_at.push_back(i);
      }
    }
    newest_from = busy_at[busy_at.size() - kSummarised];
  }
  // What the store must say: per address, the event time of each row by id.
  std::map<std::string, std::map<std::int64_t, std::int64_t>> truth;
  std::size_t old_events = 0;
  const auto path = dir_.file("events.db");
  const auto check = [&](Storage& s, const std::string& why) {
    for (const std::string& ip : {busy, rare}) {
      SCOPED_TRACE(why + ": " + ip);
      const auto& rows = truth[ip];
      auto a = s.attacker_summary(ip);
      ASSERT_TRUE(a) << a.error.message;
      EXPECT_EQ(a.value->event_count, rows.size());
      std::int64_t first = std::numeric_limits<std::int64_t>::max(), last = 0;
      std::vector<std::pair<std::int64_t, std::int64_t>> order;  // newest first, as pages are
      for (const auto& [id, us] : rows) {
        first = std::min(first, us);
        last = std::max(last, us);
        order.emplace_back(us, id);
      }
      EXPECT_EQ(a.value->first_us, first);
      EXPECT_EQ(a.value->last_us, last);
      EXPECT_EQ(a.value->summarised, std::min(rows.size(), kSummarised));
      if (ip == busy) {  // the groups count the newest events, by id
        ASSERT_EQ(a.value->event_types.size(), 1u);
        EXPECT_EQ(a.value->event_types[0].key, "newest");
        EXPECT_EQ(a.value->event_types[0].count, kSummarised);
      }
      std::sort(order.rbegin(), order.rend());
      std::vector<std::int64_t> want;
      for (const auto& [us, id] : order) {
        want.push_back(id);
      }
      EventFilter f;
      f.src = ip;
      EXPECT_EQ(ids_of(s, f, 50), want);
    }
  };
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    std::vector<events::Event> batch;
    for (int i = 0; i < kEvents; ++i) {
      events::Event e;
      e.event_id = "e" + std::to_string(i);
      e.received_us = now;
      e.event_us = now - 3'600'000'000LL + i;
      e.node_id = 1;
      e.pot_id = "pot";
      e.pot_type = "cowrie";
      e.event_type = "other";
      e.src_ip = "10." + std::to_string(i % 7) + "." + std::to_string(i % 251) + ".1";
      e.raw_json = "{}";
      if (is_busy(i)) {
        e.src_ip = busy;
        e.event_type = i >= newest_from ? "newest" : "other";
      }
      if (i == 400'000) {
        e.event_us = now - 7'200'000'000LL;  // the busy address's oldest kept event, in mid-span
      }
      if (i == 100 || i == 300'000 || i == 590'000) {  // blocks 0 and 36, and 72 (past the span)
        e.src_ip = i == 590'000 ? "::ffff:" + rare : rare;
      }
      if (is_old(i)) {
        e.event_us = now - 3 * 86'400'000'000LL + i;
        ++old_events;
      }
      truth[e.src_ip.starts_with("::ffff:") ? e.src_ip.substr(7) : e.src_ip][i + 1] = e.event_us;  // id = i + 1
      batch.push_back(std::move(e));
      if (batch.size() == 10'000) {
        ASSERT_TRUE(append_when_room(*s, batch));
      }
    }
    ASSERT_TRUE(append_when_room(*s, batch));
    s->flush();
    check(*s, "stored");
  }
  {
    // Retention deletes rows of the summarised span; its pass ends with
    // the span's summaries written again.
    StorageOptions with_retention = o;
    with_retention.retention_days = 1;
    auto s = open(with_retention);
    ASSERT_TRUE(s);
    ASSERT_TRUE(wait_for([&] { return s->counters().retention_deleted >= old_events; }));
    ASSERT_TRUE(wait_for([&] { return scalar(path, "SELECT count(*) FROM event_src_span_stale") == 0; }));
    EXPECT_EQ(s->counters().retention_deleted, old_events);
    for (int i = 0; i < kEvents; ++i) {
      if (is_old(i)) {
        truth[busy].erase(i + 1);
      }
    }
    check(*s, "after retention");
  }
  EXPECT_EQ(scalar(path, "SELECT value FROM store_meta WHERE name = 'src_spans_below'"), 1);
  EXPECT_EQ(scalar(path, "SELECT count(*) FROM event_src_span WHERE span != 0"), 0);
  EXPECT_EQ(scalar(path, "SELECT blocks FROM event_src_span WHERE src = X'00000000000000000000ffffcb007109'"),
            (std::int64_t{1} << 0) | (std::int64_t{1} << 36));
  {
    auto s = open(o);
    ASSERT_TRUE(s);
    check(*s, "after a reopen");
    // A span listed as stale is not believed (readers use its blocks'
    // lists): here its summaries are made wrong as well.
    ASSERT_EQ(exec_sql(path,
                       "INSERT INTO event_src_span_stale(span) VALUES(0); "
                       "UPDATE event_src_span SET rows = rows + 1000, blocks = 0, first_us = 1"),
              "");
    check(*s, "with span 0 stale");
  }
  // A store of schema 4: the summaries are written at open.
  ASSERT_EQ(exec_sql(path,
                     "DROP TABLE event_src_span; DROP TABLE event_src_span_stale; "
                     "DELETE FROM store_meta WHERE name = 'src_spans_below'; PRAGMA user_version=4"),
            "");
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(scalar(path, "SELECT value FROM store_meta WHERE name = 'src_spans_below'"), 1);
  check(*s, "after the migration from schema 4");
}

}  // namespace
}  // namespace honeycomb::store
