// What only the PostgreSQL backend does: its schema version table, its
// connections (timeouts, locks), one partition of events per UTC day and
// retention by whole partitions, several cores on one database. The storage
// contract both backends share is in storage_test.cpp. Each test gets a
// database of its own on the test server (store_test_support.hpp).
#include "store/storage.hpp"
#include "store_test_support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace honeycomb::store {
namespace {

using namespace test_support;

class PgStoreTest : public StoreFixture {
 protected:
  Backend backend() const override { return Backend::postgres; }
};

std::int64_t day_start(std::int64_t us) {
  return (us >= 0 ? us : us - kDayUs + 1) / kDayUs * kDayUs;
}

/// The partition that holds the events of `us`'s UTC day: events_pYYYYMMDD.
std::string day_partition(std::int64_t us) {
  const std::time_t seconds = us / 1'000'000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char name[32];
  std::strftime(name, sizeof name, "events_p%Y%m%d", &utc);
  return name;
}

bool table_exists(PgConnection& db, const std::string& name) {
  return db.value("SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
}

std::size_t rows_in(PgConnection& db, const std::string& table) {
  const auto n = db.value("SELECT count(*) FROM " + table);
  return n ? std::stoul(*n) : 0;
}

/// The partitions of `events`, by name.
std::set<std::string> partitions(PgConnection& db) {
  const auto names = db.column(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = 'events'::regclass");
  return names ? std::set<std::string>(names->begin(), names->end()) : std::set<std::string>{};
}

/// Text of `n` characters that does not compress: PostgreSQL compresses
/// long values, and the size tests need bytes on disk.
std::string incompressible(std::size_t n, std::mt19937& random) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
  std::string text(n, ' ');
  for (auto& c : text) {
    c = kAlphabet[pick(random)];
  }
  return text;
}

/// Undoes schema 6 (the hashed filter indexes), for a test that sets an
/// older version and opens the store to migrate it again.
const char* const kBackToSchemaFive =
    "CREATE INDEX events_pot_time ON events(pot_id, event_us); "
    "CREATE INDEX events_type_time ON events(event_type, event_us); "
    "CREATE INDEX events_pot_type_time ON events(pot_type, event_us); "
    "DROP INDEX events_pot_key_time, events_type_key_time, events_pot_type_key_time; ";

struct OpenOutcome {
  bool returned = false;  ///< within the limit
  bool opened = false;
  std::string error;
};

/// open_postgres() on a thread of its own, so that a connection attempt that
/// hangs fails the test at `limit` instead of blocking it until ctest kills it.
OpenOutcome open_within(const StorageOptions& options, std::chrono::seconds limit) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable done;
    OpenOutcome outcome;
  };
  auto shared = std::make_shared<Shared>();
  std::thread([shared, options] {
    std::string error;
    const bool opened = open_postgres(options, error) != nullptr;
    std::lock_guard lock(shared->mutex);
    shared->outcome = {true, opened, error};
    shared->done.notify_all();
  }).detach();  // left behind only when it hangs, and then the test fails
  std::unique_lock lock(shared->mutex);
  shared->done.wait_for(lock, limit, [&] { return shared->outcome.returned; });
  return shared->outcome;
}

TEST(PostgresUri, IsRecognisedByItsScheme) {
  EXPECT_TRUE(is_postgres_uri("postgresql://honeycomb@db.example:5432/honeycomb?sslmode=require"));
  EXPECT_TRUE(is_postgres_uri("postgres://db/honeycomb"));
  EXPECT_FALSE(is_postgres_uri("/var/lib/honeycomb/events.db"));
  EXPECT_FALSE(is_postgres_uri("events.db"));
  EXPECT_FALSE(is_postgres_uri("mysql://db/honeycomb"));
}

// A URI chooses PostgreSQL whatever `path` says (a path SQLite cannot open).
TEST_F(PgStoreTest, OpenStorageChoosesPostgresForAUri) {
  StorageOptions o;
  o.path = dir_.file("no/such/dir/events.db");
  o.postgres_uri = pg_.uri();
  std::string error;
  auto s = open_storage(o, error);
  ASSERT_TRUE(s) << error;
  append_all(*s, range(0, 3));
  s->flush();
  EXPECT_EQ(count(*s, {}), 3u);
  EXPECT_GT(s->used_bytes(), 0) << "PostgreSQL can tell its size (retention_max_mb needs it)";
}

TEST_F(PgStoreTest, RefusesNewerSchema) {
  {
    auto s = open();  // creates the schema
    ASSERT_TRUE(s);
  }
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  ASSERT_EQ(db.value("SELECT count(*) FROM honeycomb_schema"), "1");
  ASSERT_EQ(db.exec("UPDATE honeycomb_schema SET version = 99"), "");
  StorageOptions o;
  o.postgres_uri = pg_.uri();
  std::string error;
  EXPECT_FALSE(open_postgres(o, error));
  EXPECT_NE(error.find("newer than this build's"), std::string::npos) << error;
}

// Schema 3: the writer sets ids itself, a block of 65,536 per nextval. A
// database of schema 2 (one nextval per row, cached by 16,384) keeps its
// rows; the new ids come after every old one, ascend in each core's
// arrival order, and two cores' blocks never overlap. Schema 4: ids get a
// B-tree instead of the BRIN index.
TEST_F(PgStoreTest, MigratesSchemaTwoToIdBlocksAndAnIdIndex) {
  {
    auto s = open();  // creates the schema
    ASSERT_TRUE(s);
  }
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  ASSERT_EQ(db.exec(std::string(kBackToSchemaFive) +
                    "ALTER SEQUENCE events_id_seq INCREMENT BY 1 CACHE 16384; DROP INDEX events_id; "
                    "CREATE INDEX events_id_brin ON events USING brin(id); "
                    "UPDATE honeycomb_schema SET version = 2"),
            "");
  ASSERT_EQ(db.exec("INSERT INTO events(event_id, received_us, event_us, node_id, pot_id, pot_type, event_type, "
                    "src_ip, src_port, dst_ip, dst_port, username, password, command, session, url, message, raw) "
                    "SELECT 'old-' || g, 1, " +
                    std::to_string(kT0) +
                    " - g, 7, 'pot-0', 'ssh', 'login', '10.0.0.1', 1, '10.0.0.2', 22, '', '', '', '', '', '', '{}' "
                    "FROM generate_series(1, 100) g"),
            "");
  const auto old_max = std::stoll(db.value("SELECT max(id) FROM events").value_or("0"));

  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(db.value("SELECT version FROM honeycomb_schema"), "6");
  EXPECT_EQ(db.value("SELECT increment_by FROM pg_sequences WHERE sequencename = 'events_id_seq'"), "65536");
  EXPECT_EQ(db.value("SELECT indexdef FROM pg_indexes WHERE indexname = 'events_id'"),
            "CREATE INDEX events_id ON ONLY public.events USING btree (id)");
  EXPECT_FALSE(table_exists(db, "events_id_brin"));
  append_all(*a, range(0, 10));
  a->flush();
  append_all(*b, range(10, 20));
  b->flush();
  append_all(*a, range(20, 30));
  a->flush();

  const auto ids = db.column("SELECT id FROM events ORDER BY id");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 130u);
  EXPECT_EQ(std::set<std::string>(ids->begin(), ids->end()).size(), 130u) << "ids are unique";
  EXPECT_EQ(db.value("SELECT count(*) FROM events WHERE event_id LIKE 'ev-%' AND id <= " + std::to_string(old_max)),
            "0");
  // Core a's events, by id: its two batches in the order they arrived.
  std::vector<std::string> expected;
  for (const int i : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29}) {
    expected.push_back("ev-" + std::to_string(i));
  }
  EXPECT_EQ(db.column("SELECT event_id FROM events WHERE event_id LIKE 'ev-%' AND id < (SELECT min(id) FROM events "
                      "WHERE event_id = 'ev-10') ORDER BY id"),
            expected);
}

// Schema 5: long text is compressed with lz4, in the partitions that were
// there before the migration and in those made after it (the server of
// scripts/pg-test-server.sh is Debian's, built with lz4). Schema 6: the pot,
// event type and pot type indexes are on hashtext() of the value, in the
// partitions there before and after.
TEST_F(PgStoreTest, MigratesSchemaFourToLz4AndHashedFilterIndexes) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    append_all(*s, range(0, 1));  // makes kT0's day partition
    s->flush();
  }
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  const std::string old_day = day_partition(kT0);
  ASSERT_TRUE(table_exists(db, old_day));
  const std::string text_columns =
      "SELECT attname FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum > 0 AND atttypid = "
      "'text'::regtype";
  // Back to schema 4: every column compressed by the server's default (pglz).
  ASSERT_EQ(db.exec("DO $$ DECLARE t regclass; c name; BEGIN FOR t IN SELECT 'events'::regclass UNION ALL SELECT "
                    "inhrelid::regclass FROM pg_inherits WHERE inhparent = 'events'::regclass LOOP FOR c IN " +
                    text_columns +
                    " LOOP EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION default', t, c); END LOOP; "
                    "END LOOP; END $$; " +
                    kBackToSchemaFive + "UPDATE honeycomb_schema SET version = 4"),
            "");
  const auto lz4_columns = [&](const std::string& table) {
    return db.value("SELECT count(*) FROM pg_attribute WHERE attrelid = '" + table +
                    "'::regclass AND attnum > 0 AND atttypid = 'text'::regtype AND attcompression = 'l'");
  };
  ASSERT_EQ(lz4_columns(old_day), "0");
  const auto columns = db.value("SELECT count(*) FROM (" + text_columns + ") c");
  ASSERT_TRUE(columns && std::stoi(*columns) >= 13) << "events' text columns";

  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(db.value("SELECT version FROM honeycomb_schema"), "6");
  EXPECT_EQ(lz4_columns("events"), columns);
  EXPECT_EQ(lz4_columns(old_day), columns);
  // A long record (compressible, as JSON is) into the old day and into a
  // day whose partition the store makes now.
  std::vector<events::Event> batch = {make_event(1), make_event(2, kT0 + 3 * kDayUs)};
  for (auto& e : batch) {
    e.raw_json = R"({"kexAlgs":[)";
    for (int i = 0; i < 300; ++i) {
      e.raw_json += R"("curve25519-sha256",)";
    }
    e.raw_json += R"("ext-info-c"]})";
  }
  append_all(*s, std::move(batch));
  s->flush();
  ASSERT_TRUE(table_exists(db, day_partition(kT0 + 3 * kDayUs)));
  EXPECT_EQ(lz4_columns(day_partition(kT0 + 3 * kDayUs)), columns);
  const std::string filter_indexes =
      "SELECT string_agg(regexp_replace(indexdef, '^.* USING ', ''), '; ' ORDER BY regexp_replace(indexdef, '^.* USING "
      "', '')) FROM pg_indexes WHERE "
      "tablename = '{}' AND indexdef ~ '(pot_id|event_type|pot_type)'";
  const std::string hashed =
      "btree (hashtext(event_type), event_us); btree (hashtext(pot_id), event_us); btree (hashtext(pot_type), "
      "event_us)";
  for (const auto& table : {std::string("events"), old_day, day_partition(kT0 + 3 * kDayUs)}) {
    EXPECT_EQ(db.value(fmt::format(fmt::runtime(filter_indexes), table)), hashed) << table;
  }
  EXPECT_EQ(db.column("SELECT tableoid::regclass::text || ' ' || pg_column_compression(raw) FROM events "
                      "WHERE event_id IN ('ev-1', 'ev-2') ORDER BY event_id"),
            (std::vector<std::string>{old_day + " lz4", day_partition(kT0 + 3 * kDayUs) + " lz4"}));
}

// Schema 6: the pot, event type and pot type indexes are keyed by
// hashtext() of the value, so a filter must ask for the hash to use them. A
// page for a rare value reads each one (idx_scan, flushed when the store's
// connections close), and of two pot ids with the same hash a filter finds
// only its own (the text is compared too).
TEST_F(PgStoreTest, FilterPagesReadTheHashedIndexes) {
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  {
    auto s = open();
    ASSERT_TRUE(s);
    auto events = range(0, 3000);
    for (int i = 0; i < 10; ++i) {
      auto e = make_event(5000 + i);
      e.pot_id = "rare-pot";
      e.event_type = "rare.type";
      e.pot_type = "rare_type";
      events.push_back(std::move(e));
    }
    append_all(*s, std::move(events));
    s->flush();
  }
  ASSERT_EQ(db.exec("ANALYZE events"), "");
  const auto scans = [&db](const std::string& index) {
    const auto n = db.value(
        "SELECT coalesce(sum(s.idx_scan), 0) FROM pg_stat_user_indexes s JOIN pg_inherits i ON i.inhrelid = "
        "s.indexrelid WHERE i.inhparent = '" +
        index + "'::regclass");
    return n ? std::stoll(*n) : -1;
  };
  const std::vector<std::pair<std::string, EventFilter>> cases = {
      {"events_pot_key_time", EventFilter{.pot_id = "rare-pot"}},
      {"events_type_key_time", EventFilter{.event_type = "rare.type"}},
      {"events_pot_type_key_time", EventFilter{.pot_type = "rare_type"}},
  };
  for (const auto& [index, filter] : cases) {
    SCOPED_TRACE(index);
    const auto before = scans(index);
    ASSERT_GE(before, 0);
    {
      auto s = open();
      ASSERT_TRUE(s);
      EXPECT_EQ(ids_of(*s, filter, 4).size(), 10u);
    }
    EXPECT_TRUE(wait_for([&] { return scans(index) > before; })) << "the page did not read " << index;
  }

  // Two pot ids whose hashes collide: each filter finds only its own.
  const auto pair = db.column(
      "SELECT v FROM (SELECT min(v) AS a, max(v) AS b FROM (SELECT 'pot-' || g AS v FROM generate_series(1, 300000) g) "
      "x GROUP BY hashtext(v) HAVING count(*) > 1 LIMIT 1) p, LATERAL (VALUES (a), (b)) l(v)");
  ASSERT_TRUE(pair && pair->size() == 2) << "no two of 300,000 pot ids share a hash";
  auto s = open();
  ASSERT_TRUE(s);
  std::vector<events::Event> colliding;
  for (int i = 0; i < 5; ++i) {
    auto e = make_event(6000 + i);
    e.pot_id = (*pair)[i % 2];
    colliding.push_back(std::move(e));
  }
  append_all(*s, std::move(colliding));
  s->flush();
  EXPECT_EQ(count(*s, EventFilter{.pot_id = (*pair)[0]}), 3u);
  EXPECT_EQ(count(*s, EventFilter{.pot_id = (*pair)[1]}), 2u);
}

// A wrong URI, a server that is not there, a database that does not exist:
// open fails with a reason, soon (a hanging connect would hold the core's
// start-up forever).
TEST_F(PgStoreTest, BadUriOrUnreachableServerFailsToOpen) {
  for (const std::string& uri : {
           std::string("postgresql://[::1"),                            // unterminated IPv6 host
           std::string("postgresql://honeycomb@127.0.0.1:1/postgres"),  // nothing listens on port 1
           with_database(pg_.admin_uri(), "hc_no_such_database"),       // the server is there, the database not
           std::string("postgresql://honeycomb@192.0.2.1:5432/postgres?connect_timeout=2"),  // TEST-NET-1
       }) {
    StorageOptions o;
    o.postgres_uri = uri;
    const auto started = steady_clock::now();
    const auto outcome = open_within(o, std::chrono::seconds(15));
    ASSERT_TRUE(outcome.returned) << uri << ": open_postgres() still connecting after 15 s";
    EXPECT_FALSE(outcome.opened) << uri;
    EXPECT_FALSE(outcome.error.empty()) << uri;
    EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10)) << uri;
  }
}

// The writer waits for a lock at most busy_timeout_ms (lock_timeout); a
// batch that cannot be written after commit_attempts is reported, and the
// writer carries on once the lock is gone.
TEST_F(PgStoreTest, CommitFailureIsRetriedThenReported) {
  StorageOptions o;
  o.busy_timeout_ms = 100;
  o.commit_attempts = 2;
  auto s = open(o);
  ASSERT_TRUE(s);
  PgConnection other(pg_.uri());
  ASSERT_TRUE(other.connected()) << other.error();
  ASSERT_EQ(other.exec("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE"), "");
  std::atomic<int> result{-1};
  auto batch = range(0, 5);
  ASSERT_TRUE(s->append(batch, [&](bool ok) { result = ok ? 1 : 0; }));
  s->flush();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(s->counters().failed, 5u);
  EXPECT_EQ(s->counters().stored, 0u);
  ASSERT_EQ(other.exec("ROLLBACK"), "");

  batch = range(0, 5);
  ASSERT_TRUE(s->append(batch, [&](bool ok) { result = ok ? 1 : 0; }));
  s->flush();
  EXPECT_EQ(result.load(), 1);
  EXPECT_EQ(s->counters().stored, 5u);
  EXPECT_EQ(count(*s, {}), 5u);
}

// Events live in a table partitioned by event time, one partition per UTC
// day (events_pYYYYMMDD); times far from now (before now - 400 days, after
// now + 2 days) go to events_default rather than make a partition each.
TEST_F(PgStoreTest, EventsArePartitionedByUtcDay) {
  auto s = open();
  ASSERT_TRUE(s);
  const auto today = day_start(now_us());
  const std::int64_t days[] = {today - 10 * kDayUs, today - 5 * kDayUs, today - 2 * kDayUs};
  std::vector<events::Event> batch;
  int i = 0;
  for (const auto day : days) {
    for (int k = 0; k < 4; ++k, ++i) {
      batch.push_back(make_event(i, day + 3'600'000'000LL * (k * 7 + 1)));  // 01:00, 08:00, 15:00, 22:00
    }
  }
  append_all(*s, std::move(batch));
  s->flush();
  EXPECT_EQ(count(*s, {}), 12u);

  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  std::set<std::string> expected;
  for (const auto day : days) {
    expected.insert(day_partition(day));
    EXPECT_EQ(rows_in(db, day_partition(day)), 4u) << day_partition(day);
  }
  // A day without events has no partition (today's and tomorrow's may be
  // made ahead of their first event).
  std::set<std::string> day_partitions;
  for (const auto& name : partitions(db)) {
    if (name.starts_with("events_p") && name != day_partition(today) && name != day_partition(today + kDayUs)) {
      day_partitions.insert(name);
    }
  }
  EXPECT_EQ(day_partitions, expected);

  const std::int64_t y1999 = 928'195'200'000'000;  // 1999-06-01T00:00:00Z
  std::vector<events::Event> far{make_event(100, y1999), make_event(101, today + 30 * kDayUs)};
  append_all(*s, std::move(far));
  s->flush();
  EXPECT_EQ(rows_in(db, "events_default"), 2u);
  EXPECT_FALSE(table_exists(db, day_partition(y1999)));
  EXPECT_FALSE(table_exists(db, day_partition(today + 30 * kDayUs)));
  EXPECT_EQ(count(*s, {}), 14u);
  EventQuery q;
  q.filter.until_us = y1999 + 1;
  auto page = s->query(q);
  ASSERT_TRUE(page) << page.error.message;
  ASSERT_EQ(page.value->events.size(), 1u);
  EXPECT_EQ(page.value->events[0].event.event_id, "ev-100");
  EXPECT_EQ(page.value->events[0].event.event_us, y1999);
  auto got = s->get(page.value->events[0].id);
  ASSERT_TRUE(got) << got.error.message;
  EXPECT_EQ(got.value->event.event_id, "ev-100");
}

// Age retention drops the partitions of days wholly past the cutoff and
// deletes the older rows of the day the cutoff falls in.
TEST_F(PgStoreTest, RetentionByAgeDropsWholeDaysAndTrimsTheCutoffDay) {
  const auto now = now_us();
  const auto cutoff = now - kDayUs;  // retention_days = 1; later passes only move it forward
  const std::int64_t old_days[] = {now - 5 * kDayUs, now - 3 * kDayUs};
  std::vector<events::Event> batch;
  std::set<std::string> kept;
  int i = 0;
  for (const auto day : old_days) {
    for (int k = 0; k < 10; ++k) {
      batch.push_back(make_event(i++, day + k));
    }
  }
  for (int k = 0; k < 5; ++k) {  // the cutoff's day, before the cutoff: deleted
    batch.push_back(make_event(i++, day_start(cutoff) + k));
  }
  for (int k = 0; k < 5; ++k) {  // after the cutoff, well clear of the passes to come: kept
    kept.insert("ev-" + std::to_string(i));
    batch.push_back(make_event(i++, cutoff + 1'800'000'000LL + k));
  }
  for (int k = 0; k < 5; ++k) {  // an hour old: kept
    kept.insert("ev-" + std::to_string(i));
    batch.push_back(make_event(i++, now - 3'600'000'000LL + k));
  }
  {
    auto s = open();  // no retention yet: every day gets its partition
    ASSERT_TRUE(s);
    append_all(*s, std::move(batch));
    s->flush();
    ASSERT_EQ(count(*s, {}), 35u);
  }
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  for (const auto day : old_days) {
    ASSERT_TRUE(table_exists(db, day_partition(day))) << day_partition(day);
  }

  StorageOptions o;
  o.retention_days = 1;
  o.retention_interval_ms = 5;
  auto s = open(o);
  ASSERT_TRUE(s);
  const auto old_partitions_gone = [&] {
    return std::none_of(std::begin(old_days), std::end(old_days),
                        [&](std::int64_t day) { return table_exists(db, day_partition(day)); });
  };
  ASSERT_TRUE(wait_for([&] { return count(*s, {}) == kept.size() && old_partitions_gone(); }))
      << count(*s, {}) << " events left";
  std::set<std::string> left;
  ASSERT_TRUE(s->export_events({}, [&](const StoredEvent& e) {
    EXPECT_GE(e.event.event_us, cutoff) << e.event.event_id;
    left.insert(e.event.event_id);
    return true;
  }));
  EXPECT_EQ(left, kept);
  if (day_start(cutoff + 1'800'000'000LL) == day_start(cutoff)) {  // the cutoff's day kept some: trimmed, not dropped
    EXPECT_TRUE(table_exists(db, day_partition(cutoff)));
  }
  EXPECT_TRUE(wait_for([&] { return s->counters().retention_deleted == 25u; }))
      << s->counters().retention_deleted << " counted as deleted";
}

// Size retention drops the oldest day's partition while the database is over
// retention_max_mb, but never the newest day's, whatever its size.
TEST_F(PgStoreTest, RetentionBySizeDropsTheOldestDaysButNeverTheNewest) {
  constexpr int kPerDay = 800;  // ~1.2 MB a day, so that two days are always over 1 MB
  const auto today = day_start(now_us());
  std::mt19937 random(9);
  std::set<std::string> newest;
  std::vector<std::string> old_partitions;
  {
    auto s = open();  // no retention while writing: every day gets its partition
    ASSERT_TRUE(s);
    int i = 0;
    for (int back = 3; back >= 0; --back) {
      const auto day = today - back * kDayUs;
      if (back > 0) {
        old_partitions.push_back(day_partition(day));
      }
      std::vector<events::Event> batch;
      for (int k = 0; k < kPerDay; ++k, ++i) {
        auto e = make_event(i, day + k * 1'000'000LL);
        e.raw_json = R"({"pad":")" + incompressible(1500, random) + R"("})";
        if (back == 0) {
          newest.insert(e.event_id);
        }
        batch.push_back(std::move(e));
      }
      ASSERT_TRUE(append_when_room(*s, batch));
    }
    s->flush();
    ASSERT_EQ(count(*s, {}), 4u * kPerDay);
    EXPECT_GT(s->used_bytes(), 4 * 1024 * 1024);
  }

  StorageOptions o;
  o.retention_max_mb = 1;
  o.retention_interval_ms = 5;
  auto s = open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(wait_for([&] { return count(*s, {}) == newest.size(); })) << count(*s, {}) << " events left";
  std::set<std::string> left;
  ASSERT_TRUE(s->export_events({}, [&](const StoredEvent& e) {
    left.insert(e.event.event_id);
    return true;
  }));
  EXPECT_EQ(left, newest);
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  for (const auto& name : old_partitions) {
    EXPECT_FALSE(table_exists(db, name)) << name;
  }
  EXPECT_TRUE(table_exists(db, day_partition(today)));
  EXPECT_TRUE(wait_for([&] { return s->counters().retention_deleted == 3u * kPerDay; }))
      << s->counters().retention_deleted << " counted as deleted";
  // Still over 1 MB, but the newest day stays: later passes leave it alone.
  const auto steps = s->counters().retention_steps;
  ASSERT_TRUE(wait_for([&] { return s->counters().retention_steps >= steps + 3; }));
  EXPECT_EQ(count(*s, {}), newest.size());
  EXPECT_EQ(s->counters().retention_deleted, 3u * kPerDay);
}

// Reads give up after query_timeout_ms (statement_timeout, which counts the
// time spent waiting for a lock too): a table locked by someone else makes
// them time out rather than hold a database thread.
TEST_F(PgStoreTest, ReadsTimeOutWhileTheTableIsLocked) {
  StorageOptions o;
  o.query_timeout_ms = 300;
  auto s = open(o);
  ASSERT_TRUE(s);
  append_all(*s, range(0, 20));
  s->flush();
  PgConnection other(pg_.uri());
  ASSERT_TRUE(other.connected()) << other.error();
  ASSERT_EQ(other.exec("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE"), "");
  const auto started = steady_clock::now();
  auto page = s->query(EventQuery{});
  ASSERT_FALSE(page);
  EXPECT_TRUE(page.error.timed_out) << page.error.message;
  EXPECT_FALSE(page.error.bad_request);
  auto st = s->stats(StatsQuery{});
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error.timed_out) << st.error.message;
  auto a = s->attacker_summary("10.0.1.9");
  ASSERT_FALSE(a);
  EXPECT_TRUE(a.error.timed_out) << a.error.message;
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
  ASSERT_EQ(other.exec("ROLLBACK"), "");
  // The connections that timed out still work.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(count(*s, {}), 20u);
    auto summary = s->attacker_summary("10.0.1.9");
    ASSERT_TRUE(summary) << summary.error.message;
    EXPECT_EQ(summary.value->event_count, 3u);  // i = 1, 6, 11 (i % 5 == 1; 16 has an IPv6 source)
  }
}

// Several cores on one database, each with its own Storage: they see each
// other's events, tokens and nodes, an event sent to both (a node that
// failed over mid-batch) is stored once, and a join token is taken once.
// Several writer threads: every event stored once (resent ones too), and the
// commits reported in the order the batches were appended, which a node's
// cumulative acknowledgement relies on.
TEST_F(PgStoreTest, SeveralWritersStoreOnceAndReportInOrder) {
  StorageOptions o;
  o.writers = 4;
  o.max_batch = 64;  // many small transactions, so that the writers overlap
  auto s = open(o);
  ASSERT_TRUE(s);
  std::mutex mu;
  std::vector<int> reported;
  constexpr int kBatches = 200;
  constexpr int kPerBatch = 50;
  for (int b = 0; b < kBatches; ++b) {
    // Every fifth batch resends the one before it (a node that reconnected).
    const int first = b % 5 == 4 ? (b - 1) * kPerBatch : b * kPerBatch;
    auto batch = range(first, first + kPerBatch);
    const auto report = [&, b](bool ok) {
      EXPECT_TRUE(ok);
      std::lock_guard lk(mu);
      reported.push_back(b);
    };
    ASSERT_TRUE(wait_for([&] { return s->append(batch, report); }));
  }
  s->flush();
  std::vector<int> expected(kBatches);
  std::iota(expected.begin(), expected.end(), 0);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(reported, expected) << "commits reported in append order";
  }
  const auto c = s->counters();
  const auto unique = static_cast<std::uint64_t>(kBatches / 5 * 4 * kPerBatch);
  EXPECT_EQ(c.stored, unique);
  EXPECT_EQ(c.duplicates, static_cast<std::uint64_t>(kBatches * kPerBatch) - unique);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_GT(c.transactions, static_cast<std::uint64_t>(kBatches / 2));
  const auto ids = ids_of(*s, {});
  EXPECT_EQ(ids.size(), unique);
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "ids are unique";
}

TEST_F(PgStoreTest, TwoStoragesShareOneDatabase) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  append_all(*a, range(0, 10));
  a->flush();
  EXPECT_EQ(count(*b, {}), 10u);
  append_all(*b, range(5, 15));
  b->flush();
  EXPECT_EQ(b->counters().stored, 5u);
  EXPECT_EQ(b->counters().duplicates, 5u);
  EXPECT_EQ(count(*a, {}), 15u);

  // The same events through both at once: each stored once, whoever wins.
  auto for_a = range(100, 1100);
  auto for_b = range(100, 1100);
  std::thread through_b([&] { ASSERT_TRUE(append_when_room(*b, for_b)); });
  ASSERT_TRUE(append_when_room(*a, for_a));
  through_b.join();
  a->flush();
  b->flush();
  const auto ca = a->counters();
  const auto cb = b->counters();
  EXPECT_EQ(ca.failed + cb.failed, 0u);
  EXPECT_EQ(ca.stored + cb.stored, 1015u);
  EXPECT_EQ(ca.duplicates + cb.duplicates, 1005u);
  const auto ids = ids_of(*b, {});
  EXPECT_EQ(ids.size(), 1015u);
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "ids are unique across cores";

  const auto token = a->add_token("ci", std::string(64, 'a'), "read");
  ASSERT_GT(token.id, 0);
  auto found = b->find_token(std::string(64, 'a'));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(found->scope, "read");
  EXPECT_TRUE(b->revoke_token("ci"));
  EXPECT_TRUE(a->find_token(std::string(64, 'a'))->revoked);

  NodeRecord node;
  node.node_id = kBigNode;
  node.name = "edge-1";
  node.node_type = "Full";
  node.status = "Running";
  node.pots = {{"cowrie-01", "cowrie", "Running", "", kT0}};
  a->save_node(node);
  const auto nodes = b->load_nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].node_id, kBigNode);
  ASSERT_EQ(nodes[0].pots.size(), 1u);
  EXPECT_EQ(nodes[0].pots[0].pot_id, "cowrie-01");

  const std::int64_t now = 1'800'000'000'000'000;
  ASSERT_GT(a->add_join_token("sensor-1", std::string(64, 'j'), now + 1000).id, 0);
  auto taken = b->redeem_join_token(std::string(64, 'j'), 42, now);
  ASSERT_EQ(taken.index(), 0u) << std::get<std::string>(taken);
  auto again = a->redeem_join_token(std::string(64, 'j'), 43, now);
  ASSERT_EQ(again.index(), 1u);
  EXPECT_NE(std::get<std::string>(again).find("already used"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::store

namespace honeycomb::store {
namespace {

// Several cores on one database: what a core commits reaches the other
// cores' listeners (read back by the ids it notified), never its own.
TEST_F(PgStoreTest, OtherCoresHearOfCommittedEvents) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  std::mutex mu;
  std::vector<StoredEvent> heard_by_b, heard_by_a;
  ClusterHandlers hb;
  hb.remote_events = [&](std::vector<StoredEvent> events) {
    std::lock_guard lk(mu);
    heard_by_b.insert(heard_by_b.end(), events.begin(), events.end());
  };
  ClusterHandlers ha;
  ha.remote_events = [&](std::vector<StoredEvent> events) {
    std::lock_guard lk(mu);
    heard_by_a.insert(heard_by_a.end(), events.begin(), events.end());
  };
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  a->join_cluster(1001, ha);
  b->join_cluster(1002, hb);
  EXPECT_TRUE(a->shared());
  // The listener is up once its heartbeat is in: then nothing is missed.
  ASSERT_TRUE(wait_for([&] { return db.value("SELECT count(*) FROM cores") == "2"; }));
  append_all(*a, range(0, 300));
  a->flush();
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lk(mu);
    return heard_by_b.size() >= 300;
  }));
  std::lock_guard lk(mu);
  ASSERT_EQ(heard_by_b.size(), 300u);
  std::set<std::string> ids;
  for (const auto& e : heard_by_b) {
    ids.insert(e.event.event_id);
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(heard_by_b.front().event.event_id, "ev-0");  // oldest first, whole records
  EXPECT_EQ(heard_by_b.front().event.raw_json, make_event(0).raw_json);
  EXPECT_TRUE(heard_by_a.empty()) << "a core does not hear its own events";
}

// Presence says which live core has a node; a command queued for that core
// is taken there once, and its answer comes back to the sender.
TEST_F(PgStoreTest, CommandsReachTheCoreThatHasTheNode) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  std::atomic<int> b_woken{0};
  ClusterHandlers hb;
  hb.commands_waiting = [&] { ++b_woken; };
  PgConnection db(pg_.uri());
  ASSERT_TRUE(db.connected()) << db.error();
  a->join_cluster(2001, {});
  b->join_cluster(2002, hb);
  ASSERT_TRUE(wait_for([&] { return db.value("SELECT count(*) FROM cores") == "2"; }));
  b->set_node_presence(kBigNode, true);
  a->set_node_presence(7, true);
  auto presence = a->node_presence();
  ASSERT_EQ(presence.size(), 2u);
  EXPECT_EQ(presence[kBigNode], 2002u);
  EXPECT_EQ(presence[7], 2001u);

  const auto id = a->send_command(2002, kBigNode, R"({"NodeCommand":{}})", 5000);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(wait_for([&] { return b_woken.load() > 0; })) << "the core that has the node is told at once";
  EXPECT_TRUE(a->take_commands().empty()) << "not a's command to run";
  auto taken = b->take_commands();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, id);
  EXPECT_EQ(taken[0].node_id, kBigNode);
  EXPECT_EQ(taken[0].envelope, R"({"NodeCommand":{}})");
  EXPECT_EQ(taken[0].timeout_ms, 5000);
  EXPECT_TRUE(b->take_commands().empty()) << "taken once";
  EXPECT_FALSE(a->command_answer(id));
  b->answer_command(id, R"({"outcome":"answered"})");
  EXPECT_EQ(a->command_answer(id).value_or(""), R"({"outcome":"answered"})");

  // A node that left, and a core that is gone: no longer present.
  b->set_node_presence(kBigNode, false);
  EXPECT_FALSE(a->node_presence().contains(kBigNode));
  a.reset();  // leaves: its nodes go with it
  EXPECT_FALSE(b->node_presence().contains(7));
}

}  // namespace
}  // namespace honeycomb::store
