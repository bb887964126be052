// What the storage tests share (storage_test.cpp runs on every backend,
// sqlite_storage_test.cpp and pg_storage_test.cpp test what only one of them
// does): events made from a number, helpers that append to and page through
// a store, and the fixture that opens the store of a test's backend: a
// SQLite file in a temporary directory, or a PostgreSQL database of its own
// on the test server.
#pragma once

#include "store/storage.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <libpq-fe.h>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace honeycomb::store::test_support {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

inline constexpr std::int64_t kT0 = 1'795'352'890'000'000;  // 2026-11-22T13:08:10Z
inline constexpr std::uint64_t kBigNode = 18446744073709551615ull;
inline constexpr std::int64_t kDayUs = 86'400'000'000;

inline std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "honeycomb-store-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// The share of the pages of the file's [from, to) that are in the OS
/// page cache (mincore() on a mapping of the file).
inline double cached_share(const std::string& path, std::int64_t from, std::int64_t to) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
    ADD_FAILURE() << "cannot read " << path;
    if (fd >= 0) {
      ::close(fd);
    }
    return 0.0;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    ADD_FAILURE() << "cannot map " << path;
    return 0.0;
  }
  const auto page = static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in(static_cast<std::size_t>((st.st_size + page - 1) / page));
  EXPECT_EQ(::mincore(map, size, in.data()), 0);
  ::munmap(map, size);
  std::size_t n = 0, cached = 0;
  for (std::int64_t p = from / page; p < std::min<std::int64_t>(to, st.st_size) / page; ++p, ++n) {
    cached += in[static_cast<std::size_t>(p)] & 1U;
  }
  return n == 0 ? 0.0 : static_cast<double>(cached) / static_cast<double>(n);
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = steady_clock::now() + limit;
  while (!pred()) {
    if (steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

inline events::Event make_event(int i, std::int64_t event_us = 0) {
  events::Event e;
  e.event_id = "ev-" + std::to_string(i);
  e.received_us = kT0 + i;
  e.event_us = event_us != 0 ? event_us : kT0 + static_cast<std::int64_t>(i) * 1'000'000;
  e.node_id = i % 2 == 0 ? kBigNode : 7;
  e.pot_id = "pot-" + std::to_string(i % 3);
  e.pot_type = i % 3 == 0 ? "honnypotter" : "cowrie";
  e.event_type = i % 2 == 0 ? "cowrie.login.failed" : "cowrie.command.input";
  e.src_ip = i % 4 == 0 ? "2001:db8::" + std::to_string(i % 10 + 1) : "10.0." + std::to_string(i % 5) + ".9";
  e.src_port = 40000 + i;
  e.dst_ip = "192.0.2.1";
  e.dst_port = 22;
  e.username = i % 2 == 0 ? "root" : "admin";
  e.password = "pw" + std::to_string(i % 3);
  e.command = i % 2 == 1 ? "uname -a" : "";
  e.session = "s" + std::to_string(i / 4);
  e.message = "message " + std::to_string(i);
  e.raw_json = R"({"eventid":")" + e.event_type + R"(","n":)" + std::to_string(i) + R"(,"note":"Needle-)" +
               std::to_string(i % 7) + R"("})";
  return e;
}

inline void append_all(Storage& s, std::vector<events::Event> events) {
  ASSERT_TRUE(s.append(events));
  EXPECT_TRUE(events.empty());
}

inline std::vector<events::Event> range(int from, int to) {
  std::vector<events::Event> v;
  for (int i = from; i < to; ++i) {
    v.push_back(make_event(i));
  }
  return v;
}

/// The ids of every event matching `f`, newest first, following the cursors.
inline std::vector<std::int64_t> ids_of(Storage& s, const EventFilter& f, std::size_t limit = 1000) {
  std::vector<std::int64_t> out;
  EventQuery q;
  q.filter = f;
  q.limit = limit;
  while (true) {
    auto page = s.query(q);
    EXPECT_TRUE(page) << page.error.message;
    if (!page) {
      return out;
    }
    for (const auto& e : page.value->events) {
      out.push_back(e.id);
    }
    if (page.value->next_cursor.empty()) {
      return out;
    }
    if (page.value->next_cursor == q.cursor) {  // a broken cursor would page forever
      ADD_FAILURE() << "the cursor did not move past " << q.cursor;
      return out;
    }
    q.cursor = page.value->next_cursor;
  }
}

inline std::size_t count(Storage& s, const EventFilter& f) {
  return ids_of(s, f).size();
}

/// Appends more than the queue holds, as a node session does: retry while
/// the writer catches up (bounded wait).
inline bool append_when_room(Storage& s, std::vector<events::Event>& batch) {
  return wait_for([&] { return s.append(batch); });
}

// ---- PostgreSQL ----

/// What to do when there is no test server. The PostgreSQL tests fail
/// rather than skip: a run that skipped them would look like a pass.
inline constexpr const char* kHowToGetAPostgresServer =
    "The PostgreSQL storage tests need the test server: run them through `ctest` (its fixture starts one), "
    "or start one with `scripts/pg-test-server.sh start DIR` and export HONEYCOMB_TEST_PG_DIR=DIR.";

/// `uri` ("postgresql://user@host:port/db?params") naming `database` instead.
inline std::string with_database(const std::string& uri, const std::string& database) {
  const auto scheme = uri.find("://");
  const auto authority = scheme == std::string::npos ? 0 : scheme + 3;
  const auto params = uri.find('?', authority);
  const auto slash = uri.find('/', authority);
  if (slash == std::string::npos || slash > params) {
    return uri.substr(0, params) + "/" + database + (params == std::string::npos ? "" : uri.substr(params));
  }
  return uri.substr(0, slash + 1) + database + (params == std::string::npos ? "" : uri.substr(params));
}

/// A libpq connection for what a test does beside the storage: create and
/// drop databases, hold locks, look at the schema.
class PgConnection {
 public:
  explicit PgConnection(const std::string& uri) {
    // connect_timeout before the URI: one in the URI wins.
    const char* keys[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {"5", uri.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
  }
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory"; }

  /// Runs `sql` (one statement or several); "" when it succeeded, else why not.
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    std::string error;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      error = PQerrorMessage(conn_);
      if (error.empty()) {
        error = PQresStatus(status);
      }
    }
    PQclear(result);
    return error;
  }

  /// The first column of every row `sql` returns (NULL as ""); nullopt
  /// when it failed (the reason is a test failure).
  std::optional<std::vector<std::string>> column(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn_);
      PQclear(result);
      return std::nullopt;
    }
    std::vector<std::string> values;
    for (int row = 0; row < PQntuples(result); ++row) {
      values.emplace_back(PQgetvalue(result, row, 0));
    }
    PQclear(result);
    return values;
  }

  /// The first column of the first row; nullopt when `sql` failed or
  /// returned no row.
  std::optional<std::string> value(const std::string& sql) {
    auto values = column(sql);
    if (!values || values->empty()) {
      return std::nullopt;
    }
    return values->front();
  }

 private:
  PGconn* conn_ = nullptr;
};

/// A database of its own for one test, on the server whose admin URI is in
/// $HONEYCOMB_TEST_PG_DIR/uri. drop() forces out connections left behind.
class PgTestDatabase {
 public:
  PgTestDatabase() = default;
  ~PgTestDatabase() { drop(); }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  /// Creates the database: "" when done, else what failed and how to get a
  /// server.
  std::string create() {
    const char* dir = std::getenv("HONEYCOMB_TEST_PG_DIR");
    if (dir == nullptr || *dir == '\0') {
      return std::string("HONEYCOMB_TEST_PG_DIR is not set. ") + kHowToGetAPostgresServer;
    }
    const auto uri_file = fs::path(dir) / "uri";
    std::ifstream in(uri_file);
    std::string admin_uri;
    std::getline(in, admin_uri);
    while (!admin_uri.empty() && std::isspace(static_cast<unsigned char>(admin_uri.back()))) {
      admin_uri.pop_back();
    }
    if (admin_uri.empty()) {
      return "no server URI in " + uri_file.string() + ". " + kHowToGetAPostgresServer;
    }
    PgConnection admin(admin_uri);
    if (!admin.connected()) {
      return "the PostgreSQL test server at " + admin_uri + " is unreachable: " + admin.error() +
             kHowToGetAPostgresServer;
    }
    // The process id keeps parallel test processes (ctest -j) apart.
    static std::atomic<int> created{0};
    const auto name = "hc_t_" + std::to_string(getpid()) + "_" + std::to_string(created++);
    if (auto error = admin.exec("CREATE DATABASE " + name); !error.empty()) {
      return "CREATE DATABASE " + name + " failed: " + error;
    }
    admin_uri_ = admin_uri;
    name_ = name;
    uri_ = with_database(admin_uri_, name_);
    return "";
  }

  /// Drops the database (after the storages on it are destroyed).
  void drop() {
    if (name_.empty()) {
      return;
    }
    PgConnection admin(admin_uri_);
    const auto error =
        admin.connected() ? admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)") : admin.error();
    EXPECT_EQ(error, "") << "dropping the test database " << name_;
    name_.clear();
  }

  const std::string& uri() const { return uri_; }
  const std::string& admin_uri() const { return admin_uri_; }

 private:
  std::string admin_uri_;
  std::string name_;
  std::string uri_;
};

// ---- the fixture ----

enum class Backend { sqlite, postgres };

inline const char* backend_name(Backend b) {
  return b == Backend::postgres ? "postgres" : "sqlite";
}
/// How gtest shows a test's parameter ("GetParam() = postgres").
inline void PrintTo(Backend b, std::ostream* os) {
  *os << backend_name(b);
}

/// Opens the store of the test's backend(); reopening opens the same one. A
/// PostgreSQL test gets a fresh database, dropped after the test; without a
/// server the test fails.
class StoreFixture : public ::testing::Test {
 protected:
  virtual Backend backend() const = 0;

  void SetUp() override {
    if (backend() == Backend::postgres) {
      if (auto error = pg_.create(); !error.empty()) {
        GTEST_FAIL() << error;
      }
    }
  }
  // The tests' storages are gone by now (locals of the test body).
  void TearDown() override { pg_.drop(); }

  /// `o` pointed at this test's store unless it names one already.
  StorageOptions at_store(StorageOptions o) const {
    if (backend() == Backend::postgres) {
      if (o.postgres_uri.empty()) {
        o.postgres_uri = pg_.uri();
      }
    } else if (o.path.empty()) {
      o.path = dir_.file("events.db");
    }
    return o;
  }

  /// What the database itself holds, for a failure message: on PostgreSQL,
  /// the rows of each partition of `events` and the sessions on it, read on
  /// a connection of the test's own (the storage's readers are suspects).
  std::string database_state() {
    if (backend() != Backend::postgres) {
      return "";
    }
    PgConnection c(pg_.uri());
    std::string out = "\nthe database itself:";
    for (const char* sql :
         {"SELECT p || ': ' || n FROM (SELECT tableoid::regclass::text AS p, count(*) AS n FROM events "
          "GROUP BY 1) AS parts",
          "SELECT 'search_path ' || current_setting('search_path')",
          "SELECT 'session ' || pid || ' ' || coalesce(state, '?') || ' xmin ' || "
          "coalesce(backend_xmin::text, '-') || ': ' || left(query, 60) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()"}) {
      for (const auto& row : c.column(sql).value_or(std::vector<std::string>{})) {
        out += "\n  " + row;
      }
    }
    return out;
  }

  std::unique_ptr<Storage> open(StorageOptions o = {}) {
    std::string error;
    auto s = open_storage(at_store(std::move(o)), error);
    EXPECT_TRUE(s) << error;
    return s;
  }

  TempDir dir_;
  PgTestDatabase pg_;
};

}  // namespace honeycomb::store::test_support
