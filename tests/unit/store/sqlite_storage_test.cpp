// What only the SQLite backend does: its file and schema version, its
// migrations, its write lock and its row-by-row size retention. The
// storage contract both backends share is in storage_test.cpp.
#include "store/storage.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <sqlite3.h>

namespace honeycomb::store {
namespace {

using namespace test_support;

class SqliteStoreTest : public StoreFixture {
 protected:
  Backend backend() const override { return Backend::sqlite; }
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

// A store of schema 1 (before the pot_type, node and source indexes) is
// migrated in place, its events kept.
TEST_F(SqliteStoreTest, MigratesSchemaOneInPlace) {
  const auto path = dir_.file("v1.db");
  {
    StorageOptions o;
    o.path = path;
    auto s = open(o);
    ASSERT_TRUE(s);
    append_all(*s, range(0, 30));
    s->flush();
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP INDEX events_pot_type_time; DROP INDEX events_node_time; "
                           "DROP INDEX events_block_src; DROP TABLE join_tokens; DROP TABLE node_certificates; "
                           "DROP TABLE node_totp; DROP TABLE audit_log; ALTER TABLE api_tokens DROP COLUMN scope; "
                           "PRAGMA user_version=1",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  StorageOptions o;
  o.path = path;
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(count(*s, {}), 30u);
  EventFilter f;
  f.src = "10.0.1.9";  // i % 4 != 0 and i % 5 == 1: 1, 6, 11, 21, 26
  EXPECT_EQ(count(*s, f), 5u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                               "('events_pot_type_time', 'events_node_time', 'events_block_src')), "
                               "(SELECT user_version FROM pragma_user_version)",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 3);
  EXPECT_EQ(sqlite3_column_int(st, 1), 3);  // and on to schema 3 (enrollment, scopes, audit)
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace
}  // namespace honeycomb::store
