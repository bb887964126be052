// SQLite storage. Schema, indexes, cursor, retention and dedup rules are
// documented in docs/EVENTS.md; this file says why where it is not obvious.
//
// Threads: one writer thread owns `writer_db_` and the insert statement;
// append() only moves events into a bounded queue. Reads use connections from
// a small pool (one per concurrent caller), registry/token writes use their
// own connection; WAL lets all of them run beside the writer.
#include "common/clock.hpp"
#include "common/thread_name.hpp"
#include "store/ingest_queue.hpp"
#include "store/page_cache_window.hpp"
#include "store/query_support.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_postings.hpp"
#include "store/storage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <malloc.h>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

namespace honeycomb::store {
namespace {

using postings::Entry;
using sqlite::Db;
using sqlite::Stmt;
using namespace query_support;  // NOLINT(google-build-using-namespace): the shared filter parts

constexpr int kSchemaVersion = 6;
constexpr std::int64_t kAuditKeep = 100'000;  ///< audit records kept (the oldest are deleted)
constexpr std::size_t kMaxPooledReaders = 8;
constexpr int kRetentionChunk = 5000;          ///< events deleted per retention transaction
constexpr int kCheckpointFrames = 256;         ///< WAL pages (64 KiB) that wake the checkpointer (16 MiB)
constexpr int kWriterCheckpointFrames = 4096;  ///< WAL pages past which the writer checkpoints itself (256 MiB)
/// The WAL file is cut back to this size when it restarts: more than it
/// grows to under load (kWriterCheckpointFrames plus a commit), so a busy
/// store writes its WAL over pages already in the page cache instead of
/// freeing them and faulting in new ones at the next pass (a third of the
/// writer's time where fresh pages are dear; docs/BENCHMARKS.md). Cut to
/// nothing once the store goes idle (SqliteStorage::truncate_idle_wal).
constexpr std::int64_t kWalKeptBytes = std::int64_t{512} << 20;

// Migrations: index i brings user_version i to i+1. Never edit a released
// step; append a new one.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  event_id TEXT,
  received_us INTEGER NOT NULL,
  event_us INTEGER NOT NULL,
  node_id INTEGER NOT NULL,
  pot_id TEXT NOT NULL,
  pot_type TEXT NOT NULL,
  event_type TEXT NOT NULL,
  src_ip TEXT NOT NULL,
  src_ip_bin BLOB,
  src_port INTEGER NOT NULL,
  dst_ip TEXT NOT NULL,
  dst_port INTEGER NOT NULL,
  username TEXT NOT NULL,
  password TEXT NOT NULL,
  command TEXT NOT NULL,
  session TEXT NOT NULL,
  url TEXT NOT NULL,
  message TEXT NOT NULL,
  raw TEXT NOT NULL
);
CREATE UNIQUE INDEX events_time_id ON events(event_us, event_id);
CREATE INDEX events_pot_time ON events(pot_id, event_us);
CREATE INDEX events_type_time ON events(event_type, event_us);
CREATE TABLE nodes(
  node_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  address TEXT NOT NULL,
  port INTEGER NOT NULL,
  node_type TEXT NOT NULL,
  status TEXT NOT NULL,
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL
);
CREATE TABLE pots(
  node_id INTEGER NOT NULL,
  pot_id TEXT NOT NULL,
  pot_type TEXT NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  updated_us INTEGER NOT NULL,
  PRIMARY KEY(node_id, pot_id)
) WITHOUT ROWID;
CREATE TABLE api_tokens(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_us INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
)sql",
    // 1 -> 2: the filters that had no index (a full scan and a sort of every
    // match on a large store). pot_type and node_id have few values, each
    // appended to in time order: cheap at ingest. The source address is a
    // random key: a global index on it would rewrite pages all over the
    // index at every commit, so it is block-local instead (blocks of 2^16
    // rows by arrival; inserts only touch the newest block's part) and a
    // query probes each block (docs/EVENTS.md).
    R"sql(
CREATE INDEX events_pot_type_time ON events(pot_type, event_us);
CREATE INDEX events_node_time ON events(node_id, event_us);
CREATE INDEX events_block_src ON events(id >> 16, src_ip_bin, event_us);
)sql",
    // 2 -> 3: node enrollment (join tokens, issued certificates, TOTP
    // secrets) and the audit log (docs/SECURITY.md).
    R"sql(
CREATE TABLE join_tokens(
  id INTEGER PRIMARY KEY,
  node_name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL,
  used_us INTEGER NOT NULL DEFAULT 0,
  used_by INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE node_certificates(
  serial TEXT PRIMARY KEY,
  node_id INTEGER NOT NULL,
  node_name TEXT NOT NULL,
  issued_us INTEGER NOT NULL,
  not_after_us INTEGER NOT NULL,
  revoked_us INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX node_certificates_node ON node_certificates(node_id);
CREATE TABLE node_totp(
  node_id INTEGER PRIMARY KEY,
  secret TEXT NOT NULL
);
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
CREATE TABLE audit_log(
  id INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL
);
)sql",
    // 3 -> 4: block postings instead of the five filter indexes, which cost
    // the writer more than the rows themselves (store/sqlite_postings.hpp).
    // The postings of the rows already stored are written at the first
    // open (SqliteStorage::catch_up), in chunks, with progress in the log.
    R"sql(
DROP INDEX events_pot_time;
DROP INDEX events_type_time;
DROP INDEX events_pot_type_time;
DROP INDEX events_node_time;
DROP INDEX events_block_src;
CREATE TABLE event_blocks(
  blk INTEGER PRIMARY KEY,
  min_us INTEGER NOT NULL,
  max_us INTEGER NOT NULL,
  rows INTEGER NOT NULL
);
CREATE TABLE event_postings(
  kind INTEGER NOT NULL,
  key NOT NULL,
  blk INTEGER NOT NULL,
  entries BLOB NOT NULL,
  PRIMARY KEY(kind, key, blk)
) WITHOUT ROWID;
CREATE TABLE event_src(
  blk INTEGER NOT NULL,
  src BLOB NOT NULL,
  entries BLOB NOT NULL,
  PRIMARY KEY(blk, src)
) WITHOUT ROWID;
CREATE TABLE store_meta(
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta(name, value) VALUES('indexed_below', 0);
)sql",
    // 4 -> 5: per span of 64 blocks, one summary per source address, so that
    // an address's count and blocks cost a probe per span, not per block
    // (store/sqlite_postings.hpp). Written at the first open for the spans
    // already stored (SqliteStorage::catch_up). The spans retention deleted
    // from are listed as stale until their summaries are written again.
    R"sql(
CREATE TABLE event_src_span(
  span INTEGER NOT NULL,
  src BLOB NOT NULL,
  rows INTEGER NOT NULL,
  first_us INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  blocks INTEGER NOT NULL,
  PRIMARY KEY(span, src)
) WITHOUT ROWID;
CREATE TABLE event_src_span_stale(span INTEGER PRIMARY KEY);
INSERT INTO store_meta(name, value) VALUES('src_spans_below', 0);
)sql",
    // 5 -> 6: the lists in a rowid table, found through an index of their
    // keys. Keyed by (kind, key, blk) WITHOUT ROWID, each list was part of
    // its key: the interior pages held copies of the lists' first bytes,
    // and a block's ~20 lists went into as many places of a large tree
    // (per transaction, 38 pages of postings in the WAL beside 82 of rows).
    // Now a block's lists are appended at the table's end, and its keys
    // are small entries of two small indexes (the second finds a block's
    // lists for a rebuild without a scan).
    R"sql(
CREATE TABLE event_lists(
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  key NOT NULL,
  blk INTEGER NOT NULL,
  entries BLOB NOT NULL
);
INSERT INTO event_lists(kind, key, blk, entries) SELECT kind, key, blk, entries FROM event_postings;
DROP TABLE event_postings;
ALTER TABLE event_lists RENAME TO event_postings;
CREATE UNIQUE INDEX event_postings_key ON event_postings(kind, key, blk);
CREATE INDEX event_postings_blk ON event_postings(blk);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

constexpr const char* kEventColumns =
    "id, event_id, received_us, event_us, node_id, pot_id, pot_type, event_type, src_ip, src_port, dst_ip, dst_port, "
    "username, password, command, session, url, message, raw";
constexpr int kIdColumn = 0;       ///< in kEventColumns
constexpr int kEventUsColumn = 3;  ///< in kEventColumns
constexpr int kRawColumn = 18;     ///< in kEventColumns
/// A free-text scan reads the clock once per this many non-matching rows.
constexpr std::uint64_t kScanClockEvery = 64;
// ---- filters ----

using Bind = std::variant<std::int64_t, std::string, Ip16>;

struct Where {
  std::string sql;  ///< " WHERE ..." or empty
  std::vector<Bind> binds;

  void add(std::string_view clause) {
    sql += sql.empty() ? " WHERE " : " AND ";
    sql += clause;
  }
};

/// `with_text`: false when the caller matches the free text itself (query()).
bool build_where(const EventFilter& f, Where& w, Error& error, bool with_text = true) {
  if (f.since_us) {
    w.add("event_us >= ?");
    w.binds.emplace_back(*f.since_us);
  }
  if (f.until_us) {
    w.add("event_us < ?");
    w.binds.emplace_back(*f.until_us);
  }
  if (f.node_id) {
    w.add("node_id = ?");
    w.binds.emplace_back(sqlite::to_db(*f.node_id));
  }
  if (!f.pot_id.empty()) {
    w.add("pot_id = ?");
    w.binds.emplace_back(f.pot_id);
  }
  if (!f.pot_type.empty()) {
    w.add("pot_type = ?");
    w.binds.emplace_back(f.pot_type);
  }
  if (!f.event_type.empty()) {
    w.add("event_type = ?");
    w.binds.emplace_back(f.event_type);
  }
  if (!f.src.empty()) {
    Ip16 lo{}, hi{};
    if (!parse_cidr(f.src, lo, hi)) {
      error = Error{"src: not an IP address or CIDR: '" + f.src + "'", true};
      return false;
    }
    w.add("src_ip_bin BETWEEN ? AND ?");
    w.binds.emplace_back(lo);
    w.binds.emplace_back(hi);
  }
  if (with_text && !f.text.empty()) {
    w.add("raw LIKE ? ESCAPE '\\'");
    w.binds.emplace_back(like_pattern(f.text));
  }
  return true;
}

int bind_all(Stmt& s, const std::vector<Bind>& binds, int first = 1) {
  int i = first;
  for (const auto& b : binds) {
    if (const auto* n = std::get_if<std::int64_t>(&b)) {
      s.bind(i, *n);
    } else if (const auto* t = std::get_if<std::string>(&b)) {
      s.bind_copy(i, *t);  // the binds may be temporaries
    } else {
      const auto& ip = std::get<Ip16>(b);
      s.bind_blob(i, ip.data(), 16);
    }
    ++i;
  }
  return i;
}

StoredEvent read_event(const Stmt& s) {
  StoredEvent r;
  r.id = s.int64(0);
  auto& e = r.event;
  e.event_id = s.text(1);
  e.received_us = s.int64(2);
  e.event_us = s.int64(3);
  e.node_id = sqlite::from_db(s.int64(4));
  e.pot_id = s.text(5);
  e.pot_type = s.text(6);
  e.event_type = s.text(7);
  e.src_ip = s.text(8);
  e.src_port = static_cast<std::int32_t>(s.int64(9));
  e.dst_ip = s.text(10);
  e.dst_port = static_cast<std::int32_t>(s.int64(11));
  e.username = s.text(12);
  e.password = s.text(13);
  e.command = s.text(14);
  e.session = s.text(15);
  e.url = s.text(16);
  e.message = s.text(17);
  e.raw_json = s.text(18);
  return r;
}

Error db_error(sqlite3* db, std::string_view what) {
  return Error{std::string(what) + ": " + sqlite::errmsg(db)};
}

/// One read transaction for as long as it lives: every figure of one
/// answer describes the same snapshot.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) { sqlite::exec(db_, "BEGIN"); }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() { sqlite::exec(db_, "COMMIT"); }

 private:
  sqlite3* db_;
};

/// Prepares `sql`, lets `bind` bind it, calls `row` for each row. False
/// when it failed or was interrupted (a Deadline says which).
template <class BindFn, class RowFn>
bool for_each_row(sqlite3* db, const std::string& sql, BindFn&& bind, RowFn&& row) {
  Stmt s;
  if (!s.prepare(db, sql)) {
    return false;
  }
  bind(s);
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    row(s);
  }
  return rc == SQLITE_DONE;
}

/// Interrupts the statements of a connection past a deadline (progress
/// handler), for as long as it lives.
class Deadline {
 public:
  Deadline(sqlite3* db, std::int64_t ms) : db_(db) {
    if (ms > 0) {
      until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      sqlite3_progress_handler(db_, 1000, &Deadline::check, this);
      armed_ = true;
    }
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    if (armed_) {
      sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    }
  }
  /// The error to report: a timeout when the deadline interrupted, else the database's.
  Error error(std::string_view what, std::int64_t ms,
              std::string_view hint = "narrow it (since/until, pot, event type)") const {
    if (expired_) {
      return Error{std::string(what) + ": took longer than " + std::to_string(ms) + " ms; " + std::string(hint), false,
                   false, true};
    }
    return db_error(db_, what);
  }

 private:
  static int check(void* self) {
    auto* d = static_cast<Deadline*>(self);
    if (std::chrono::steady_clock::now() > d->until_) {
      d->expired_ = true;
      return 1;
    }
    return 0;
  }

  sqlite3* db_;
  std::chrono::steady_clock::time_point until_{};
  bool armed_ = false;
  bool expired_ = false;
};

// ---- the storage ----

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(StorageOptions options) : options_(std::move(options)) {}

  ~SqliteStorage() override {
    queue_.stop();
    if (writer_.joinable()) {
      writer_.join();
    }
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) {
      checkpointer_.join();
    }
    insert_ = Stmt();
    std::lock_guard lk(pool_mu_);
    pool_.clear();
  }

  bool open(std::string& error) {
    writer_db_ = open_connection(false, error);
    if (!writer_db_) {
      return false;
    }
    sqlite3* db = writer_db_.get();
    // page_size only applies to a new database (before the first table);
    // 64 KiB pages measured ~1.5x faster ingest than 4 KiB for ~1 KB rows.
    if (!sqlite::exec(db, "PRAGMA page_size=65536") || !sqlite::exec(db, "PRAGMA journal_mode=WAL") ||
        !sqlite::exec(db, "PRAGMA synchronous=NORMAL") || !sqlite::exec(db, "PRAGMA temp_store=MEMORY") ||
        !sqlite::exec(db, ("PRAGMA journal_size_limit=" + std::to_string(kWalKeptBytes)).c_str()) ||
        !sqlite::exec(db, "PRAGMA wal_autocheckpoint=0") ||
        !sqlite::exec(
            db,
            ("PRAGMA cache_size=-" + std::to_string(std::max<std::int64_t>(options_.cache_mb, 2) * 1024)).c_str())) {
      error = options_.path + ": " + sqlite::errmsg(db);
      return false;
    }
    if (!migrate(error)) {
      return false;
    }
    if (!insert_.prepare(db,
                         "INSERT OR IGNORE INTO events(id, event_id, received_us, event_us, node_id, pot_id, "
                         "pot_type, event_type, src_ip, src_ip_bin, src_port, dst_ip, dst_port, username, password, "
                         "command, session, url, message, raw) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         true)) {
      error = options_.path + ": " + sqlite::errmsg(db);
      return false;
    }
    if (!catch_up()) {
      error = options_.path + ": writing the block postings: " + sqlite::errmsg(db);
      return false;
    }
    // Spans a retention pass left stale (the core stopped before it ended).
    for (bool left = true; left;) {
      if (!sqlite::exec(db, "BEGIN IMMEDIATE") || !refresh_stale_span(left) || !sqlite::exec(db, "COMMIT")) {
        error = options_.path + ": writing the address summaries: " + sqlite::errmsg(db);
        sqlite::exec(db, "ROLLBACK");
        return false;
      }
    }
    misc_db_ = open_connection(false, error);
    if (!misc_db_) {
      return false;
    }
    ckpt_db_ = open_connection(false, error);
    // A connection only knows the file is in WAL mode once it has read it;
    // before that, checkpoints on it do nothing.
    if (!ckpt_db_ || !sqlite::exec(ckpt_db_.get(), "PRAGMA journal_mode=WAL")) {
      if (ckpt_db_) {
        error = options_.path + ": " + sqlite::errmsg(ckpt_db_.get());
      }
      return false;
    }
    sqlite3_wal_hook(db, &SqliteStorage::wal_hook, this);
    cache_window_.emplace(options_.path, options_.cache_window_mb << 20);
    checkpointer_ = std::thread([this] {
      name_this_thread("store-ckpt");
      checkpoint_loop();
    });
    writer_ = std::thread([this] {
      name_this_thread("store-writer");
      writer_loop();
    });
    return true;
  }

  // ---- ingestion ----

  bool append(std::vector<events::Event>& batch, std::function<void(bool ok)> on_committed) override {
    return queue_.append(batch, std::move(on_committed));
  }

  void flush() override { queue_.flush(); }

  Counters counters() const override { return queue_.counters(); }

  // ---- events ----

  Result<EventPage> query(const EventQuery& q) override { return query_impl(q, options_.query_timeout_ms); }

  Result<EventPage> query_impl(const EventQuery& q, std::int64_t timeout_ms) {
    Result<EventPage> result;
    auto lease = reader(result.error);
    if (!lease) {
      return result;
    }
    std::int64_t cursor_us = 0, cursor_id = 0;
    if (!q.cursor.empty() && !parse_cursor(q.cursor, cursor_us, cursor_id)) {
      result.error = Error{"bad cursor", true};
      return result;
    }
    const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
    const EventFilter& f = q.filter;
    const bool posted_filter =
        f.node_id || !f.pot_id.empty() || !f.pot_type.empty() || !f.event_type.empty() || !f.src.empty();
    // Free text is matched row by row in time order (its scan stops at a
    // budget and resumes from a cursor), so it walks the time index even
    // when a posted filter is set; the others go through the postings.
    if (posted_filter && f.text.empty()) {
      return query_by_blocks(lease.db(), q, limit, cursor_us, cursor_id, timeout_ms);
    }
    Where w;
    // Free text is matched here, row by row, not by LIKE: the scan can then
    // stop at its time budget and say where it stopped (EventPage::partial).
    const bool scan_text = !f.text.empty();
    if (!build_where(f, w, result.error, /*with_text=*/false)) {
      return result;
    }
    if (!q.cursor.empty()) {
      add_cursor(w, cursor_us, cursor_id);
    }
    Stmt s;
    const std::string sql = std::string("SELECT ") + kEventColumns + " FROM events" + w.sql +
                            " ORDER BY event_us DESC, id DESC" +
                            (scan_text ? std::string() : " LIMIT " + std::to_string(limit + 1));
    if (!s.prepare(lease.db(), sql)) {
      result.error = db_error(lease.db(), "query");
      return result;
    }
    bind_all(s, w.binds);
    const Deadline deadline(lease.db(), timeout_ms);
    const TextMatcher text(f.text);
    const auto scan_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(q.text_scan_ms);
    std::uint64_t scanned = 0;
    EventPage page;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (scan_text && !text.matches(s.text_view(kRawColumn))) {
        if (q.text_scan_ms > 0 && (++scanned % kScanClockEvery) == 0 &&
            std::chrono::steady_clock::now() >= scan_until) {
          page.partial = true;
          page.next_cursor = make_cursor(s.int64(kEventUsColumn), s.int64(kIdColumn));
          break;
        }
        continue;
      }
      if (page.events.size() == limit) {
        const auto& last = page.events.back();
        page.next_cursor = make_cursor(last.event.event_us, last.id);
        break;
      }
      page.events.push_back(read_event(s));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      result.error = deadline.error("query", timeout_ms);
      return result;
    }
    result.value = std::move(page);
    return result;
  }

  /// Rows after the cursor in (event_us DESC, id DESC) order. The first
  /// conjunct is an index range on event_us; the second breaks ties by id.
  static void add_cursor(Where& w, std::int64_t cursor_us, std::int64_t cursor_id) {
    w.add("event_us <= ? AND (event_us < ? OR id < ?)");
    w.binds.emplace_back(cursor_us);
    w.binds.emplace_back(cursor_us);
    w.binds.emplace_back(cursor_id);
  }

  /// One list of a posted filter per block: its statement, bound once but
  /// for the block.
  struct PostedList {
    Stmt stmt;
    bool by_range = false;  ///< event_src: a CIDR may yield several addresses' lists
  };

  /// A filtered page through the block postings (store/sqlite_postings.hpp):
  /// the rows past the last written block are read directly (at most one
  /// block), then blocks newest first, each block's lists of the posted
  /// filters intersected and only the candidates that can still enter the
  /// page read from the table. Stops once no older block can hold an event
  /// newer than the page's last (their time spans say so).
  Result<EventPage> query_by_blocks(sqlite3* db, const EventQuery& q, std::size_t limit, std::int64_t cursor_us,
                                    std::int64_t cursor_id, std::int64_t timeout_ms) {
    Result<EventPage> result;
    const EventFilter& f = q.filter;
    const bool has_cursor = !q.cursor.empty();
    const ReadSnapshot snapshot(db);
    const Deadline deadline(db, timeout_ms);  // destroyed before the COMMIT
    const auto failed = [&](std::string_view what) {
      result.error = deadline.error(what, timeout_ms);
      return result;
    };
    std::int64_t indexed_below = 0;
    if (!postings::read_indexed_below(db, indexed_below)) {
      return failed("query");
    }
    // The best limit + 1 rows so far, a min-heap by page order (its top is
    // the page's last).
    std::vector<StoredEvent> best;
    const auto later_in_page = [](const StoredEvent& a, const StoredEvent& b) {
      return postings::newer(Entry{a.event.event_us, a.id}, Entry{b.event.event_us, b.id});
    };
    const std::size_t want = limit + 1;

    // 1. The rows without postings yet, read directly (rowid range).
    {
      Where w;
      if (!build_where(f, w, result.error, /*with_text=*/false)) {
        return result;
      }
      if (has_cursor) {
        add_cursor(w, cursor_us, cursor_id);
      }
      w.add("id >= ?");
      w.binds.emplace_back(indexed_below);
      Stmt s;
      // NOT INDEXED: the rowid range, not the time index over every row.
      if (!s.prepare(db, std::string("SELECT ") + kEventColumns + " FROM events NOT INDEXED" + w.sql +
                             " ORDER BY event_us DESC, id DESC LIMIT " + std::to_string(want))) {
        return failed("query");
      }
      bind_all(s, w.binds);
      int rc = 0;
      while ((rc = s.step()) == SQLITE_ROW) {
        best.push_back(read_event(s));
        std::push_heap(best.begin(), best.end(), later_in_page);
      }
      if (rc != SQLITE_DONE) {
        return failed("query");
      }
    }

    // 2. The written blocks whose time span can hold a match, newest first.
    struct Block {
      std::int64_t blk, max_us;
      std::int64_t older_max_us = 0;  ///< the latest event of this block and every older one
    };
    std::vector<Block> blocks;
    {
      Stmt s;
      if (!s.prepare(db, "SELECT blk, min_us, max_us FROM event_blocks WHERE blk < ? ORDER BY blk DESC")) {
        return failed("query");
      }
      s.bind(1, postings::block_of(indexed_below));
      int rc = 0;
      while ((rc = s.step()) == SQLITE_ROW) {
        const std::int64_t min_us = s.int64(1), max_us = s.int64(2);
        if ((f.since_us && max_us < *f.since_us) || (f.until_us && min_us >= *f.until_us) ||
            (has_cursor && min_us > cursor_us)) {
          continue;
        }
        blocks.push_back(Block{s.int64(0), max_us});
      }
      if (rc != SQLITE_DONE) {
        return failed("query");
      }
      std::int64_t older = std::numeric_limits<std::int64_t>::min();
      for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
        older = std::max(older, it->max_us);
        it->older_max_us = older;
      }
    }
    std::vector<PostedList> lists;
    const auto add_list = [&](postings::Kind kind, auto bind_key) {
      PostedList& l = lists.emplace_back();
      if (l.stmt.prepare(db, "SELECT entries FROM event_postings WHERE kind = ?1 AND key = ?2 AND blk = ?3")) {
        l.stmt.bind(1, static_cast<std::int64_t>(kind));
        bind_key(l.stmt);
      }
    };
    if (f.node_id) {
      const std::int64_t node = sqlite::to_db(*f.node_id);
      add_list(postings::Kind::node_id, [&](Stmt& s) { s.bind(2, node); });
    }
    if (!f.pot_id.empty()) {
      add_list(postings::Kind::pot_id, [&](Stmt& s) { s.bind(2, f.pot_id); });
    }
    if (!f.pot_type.empty()) {
      add_list(postings::Kind::pot_type, [&](Stmt& s) { s.bind(2, f.pot_type); });
    }
    if (!f.event_type.empty()) {
      add_list(postings::Kind::event_type, [&](Stmt& s) { s.bind(2, f.event_type); });
    }
    Ip16 src_lo{}, src_hi{};
    // One address: its span summaries say which blocks hold it, so that a
    // rare address costs a probe per span, not one per block.
    std::optional<postings::AddressSpans> address;
    if (!f.src.empty() && parse_cidr(f.src, src_lo, src_hi)) {  // build_where() refused a bad one above
      if (src_lo == src_hi && !postings::read_address_spans(db, src_lo, address.emplace())) {
        return failed("query");
      }
      PostedList& l = lists.emplace_back();
      l.by_range = true;
      if (l.stmt.prepare(db, "SELECT entries FROM event_src WHERE blk = ?3 AND src BETWEEN ?1 AND ?2")) {
        l.stmt.bind_blob(1, src_lo.data(), 16);
        l.stmt.bind_blob(2, src_hi.data(), 16);
      }
    }
    for (const auto& l : lists) {
      if (!l.stmt) {
        return failed("query");
      }
    }
    Stmt row;
    if (!row.prepare(db, std::string("SELECT ") + kEventColumns + " FROM events WHERE id = ?")) {
      return failed("query");
    }
    std::vector<std::vector<Entry>> found(lists.size());
    for (const Block& b : blocks) {
      if (best.size() == want) {
        // Nothing older can enter the page: its events are no later than
        // the page's last, and on a tie have lower ids (older blocks).
        if (b.older_max_us <= best.front().event.event_us) {
          break;
        }
      }
      if (address && !address->may_hold(b.blk)) {
        continue;
      }
      bool empty = false;
      for (std::size_t i = 0; i < lists.size() && !empty; ++i) {
        auto& st = lists[i].stmt;
        found[i].clear();
        st.bind(3, b.blk);
        int rc = 0;
        while ((rc = st.step()) == SQLITE_ROW) {
          postings::unpack(sqlite3_column_blob(st.get(), 0),
                           static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0)), found[i]);
        }
        sqlite3_reset(st.get());
        if (rc != SQLITE_DONE) {
          return failed("query");
        }
        if (lists[i].by_range) {
          std::sort(found[i].begin(), found[i].end(), postings::newer);  // several addresses' lists
        }
        empty = found[i].empty();
      }
      if (empty) {
        continue;
      }
      // The shortest list drives; the others only say yes or no by id.
      std::size_t driver = 0;
      for (std::size_t i = 1; i < found.size(); ++i) {
        if (found[i].size() < found[driver].size()) {
          driver = i;
        }
      }
      std::vector<std::vector<std::int64_t>> others;
      for (std::size_t i = 0; i < found.size(); ++i) {
        if (i == driver) {
          continue;
        }
        auto& ids = others.emplace_back();
        ids.reserve(found[i].size());
        for (const auto& e : found[i]) {
          ids.push_back(e.id);
        }
        std::sort(ids.begin(), ids.end());
      }
      for (const Entry& e : found[driver]) {
        if (best.size() == want && !postings::newer(e, Entry{best.front().event.event_us, best.front().id})) {
          break;  // newest first: the rest of this list cannot enter either
        }
        if ((f.since_us && e.event_us < *f.since_us) || (f.until_us && e.event_us >= *f.until_us) ||
            (has_cursor && !postings::newer(Entry{cursor_us, cursor_id}, e))) {
          continue;
        }
        const bool in_all = std::all_of(others.begin(), others.end(), [&](const auto& ids) {
          return std::binary_search(ids.begin(), ids.end(), e.id);
        });
        if (!in_all) {
          continue;
        }
        row.bind(1, e.id);
        const int rc = row.step();
        if (rc == SQLITE_ROW) {
          best.push_back(read_event(row));
          std::push_heap(best.begin(), best.end(), later_in_page);
          if (best.size() > want) {
            std::pop_heap(best.begin(), best.end(), later_in_page);
            best.pop_back();
          }
        }
        sqlite3_reset(row.get());
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
          return failed("query");
        }
      }
    }
    std::sort_heap(best.begin(), best.end(), later_in_page);
    EventPage page;
    if (best.size() > limit) {
      best.resize(limit);
      page.next_cursor = make_cursor(best.back().event.event_us, best.back().id);
    }
    page.events = std::move(best);
    result.value = std::move(page);
    return result;
  }

  void release_memory() override {
    // Each connection is released on the thread that uses it; each thread
    // then trims the heap (glibc's malloc_trim covers every arena), so the
    // pages return once the last of them is done.
    {
      std::lock_guard lk(pool_mu_);
      for (auto& db : pool_) {
        sqlite3_db_release_memory(db.get());
      }
    }
    {
      std::lock_guard lk(misc_mu_);
      if (misc_db_) {
        sqlite3_db_release_memory(misc_db_.get());
      }
    }
    ::malloc_trim(0);
    writer_release_ = true;
    queue_.notify();
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_release_ = true;
    }
    ckpt_cv_.notify_one();
  }

  Result<StoredEvent> get(std::int64_t id) override {
    Result<StoredEvent> result;
    auto lease = reader(result.error);
    if (!lease) {
      return result;
    }
    Stmt s;
    if (!s.prepare(lease.db(), std::string("SELECT ") + kEventColumns + " FROM events WHERE id = ?")) {
      result.error = db_error(lease.db(), "get");
      return result;
    }
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) {
      result.value = read_event(s);
    } else if (rc == SQLITE_DONE) {
      result.error = Error{"no event with id " + std::to_string(id), false, true};
    } else {
      result.error = db_error(lease.db(), "get");
    }
    return result;
  }

  Result<Stats> stats(const StatsQuery& q) override {
    Result<Stats> result;
    Where w;
    if (!build_where(q.filter, w, result.error)) {
      return result;
    }
    if (q.bucket_seconds <= 0) {
      result.error = Error{"bucket_seconds must be positive", true};
      return result;
    }
    auto lease = reader(result.error);
    if (!lease) {
      return result;
    }
    sqlite3* db = lease.db();
    const ReadSnapshot snapshot(db);
    const Deadline deadline(db, options_.query_timeout_ms);  // destroyed before the COMMIT
    Stats st;
    bool ok = true;
    auto run = [&](const std::string& sql, const std::vector<Bind>& extra, auto&& row) {
      ok = ok && for_each_row(
                     db, sql, [&](Stmt& s) { bind_all(s, w.binds, bind_all(s, extra)); }, row);
    };
    // One pass over the matching rows, counted in memory: reading each row
    // is what costs on a large store, and one query per figure read every
    // row eight times (bench/dashboard). A figure with more distinct values
    // than StorageOptions::stats_distinct_max is counted by SQL afterwards instead.
    const std::int64_t bucket_us = q.bucket_seconds * 1'000'000;
    const auto top = static_cast<std::size_t>(std::clamp<std::size_t>(q.top, 1, 1000));
    struct Figure {
      const char* column;
      std::vector<Count>* out;
      std::size_t limit;
      std::unordered_map<std::string, std::uint64_t, TextHash, std::equal_to<>> counts{};
      bool overflow = false;
    };
    std::array<Figure, 6> figures{{{"src_ip", &st.top_src_ips, top},
                                   {"username", &st.top_usernames, top},
                                   {"password", &st.top_passwords, top},
                                   {"command", &st.top_commands, top},
                                   {"pot_type", &st.by_pot_type, 1000},
                                   {"event_type", &st.by_event_type, 1000}}};
    std::unordered_map<std::int64_t, std::uint64_t> buckets;
    bool buckets_overflow = false;
    std::string columns = "event_us";
    for (const auto& f : figures) {
      columns += std::string(", ") + f.column;
    }
    run("SELECT " + columns + " FROM events" + w.sql, {}, [&](const Stmt& s) {
      ++st.total;
      const std::int64_t t = s.int64(0);
      // Floor division (event times before 1970 are possible in bad records).
      const std::int64_t b = t >= 0 ? t / bucket_us : (t + 1) / bucket_us - 1;
      if (auto it = buckets.find(b); it != buckets.end()) {
        ++it->second;
      } else if (buckets.size() < options_.stats_distinct_max) {
        buckets.emplace(b, 1);
      } else {
        buckets_overflow = true;
      }
      for (std::size_t i = 0; i < figures.size(); ++i) {
        auto& f = figures[i];
        const auto value = s.text_view(static_cast<int>(i) + 1);
        if (value.empty() || f.overflow) {
          continue;
        }
        // Looked up by the row's own bytes: a string is made only for a new value.
        if (auto it = f.counts.find(value); it != f.counts.end()) {
          ++it->second;
        } else if (f.counts.size() < options_.stats_distinct_max) {
          f.counts.emplace(std::string(value), 1);
        } else {
          f.overflow = true;
          f.counts.clear();
        }
      }
    });
    if (buckets_overflow) {
      buckets.clear();
      run("SELECT b, count(*) FROM (SELECT (CASE WHEN event_us >= 0 THEN event_us / ?1 ELSE (event_us + 1) / ?1 - 1 "
          "END) AS b FROM events" +
              w.sql + ") GROUP BY b",
          {bucket_us}, [&](const Stmt& s) { buckets.emplace(s.int64(0), static_cast<std::uint64_t>(s.int64(1))); });
    }
    st.buckets.reserve(buckets.size());
    for (const auto& [b, n] : buckets) {
      st.buckets.emplace_back(b * q.bucket_seconds, n);
    }
    std::sort(st.buckets.begin(), st.buckets.end());
    for (auto& f : figures) {
      if (f.overflow) {
        const std::string where =
            w.sql.empty() ? std::string(" WHERE ") + f.column + " != ''" : w.sql + " AND " + f.column + " != ''";
        run(std::string("SELECT ") + f.column + ", count(*) AS c FROM events" + where + " GROUP BY " + f.column +
                " ORDER BY c DESC, " + f.column + " LIMIT " + std::to_string(f.limit),
            {}, [&](const Stmt& s) {
              f.out->push_back(Count{s.text(0), static_cast<std::uint64_t>(s.int64(1))});
            });
        continue;
      }
      // By count, highest first, ties by value (as ORDER BY c DESC, value).
      std::vector<Count> all;
      all.reserve(f.counts.size());
      for (auto& [value, n] : f.counts) {
        all.push_back(Count{value, n});
      }
      const auto order = [](const Count& a, const Count& b) {
        return a.count != b.count ? a.count > b.count : a.key < b.key;
      };
      const auto keep = std::min(f.limit, all.size());
      std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), order);
      all.resize(keep);
      *f.out = std::move(all);
    }
    if (!ok) {
      result.error = deadline.error("stats", options_.query_timeout_ms);
      return result;
    }
    result.value = std::move(st);
    return result;
  }

  Result<AttackerSummary> attacker_summary(const std::string& ip) override {
    Result<AttackerSummary> result;
    Ip16 bin{};
    if (ip.find('/') != std::string::npos || !ip_to_bin(ip, bin)) {
      result.error = Error{"not an IP address: '" + ip + "'", true};
      return result;
    }
    auto lease = reader(result.error);
    if (!lease) {
      return result;
    }
    sqlite3* db = lease.db();
    AttackerSummary a;
    const ReadSnapshot snapshot(db);
    // The address's rows, copied once into a temporary table (its columns
    // that are counted, nothing else), so that the six groupings read a
    // small table instead of looking each row up again. Dropped before the
    // connection goes back to the pool, whatever happened.
    struct DropRows {
      sqlite3* db;
      ~DropRows() {
        sqlite::exec(db, "DROP TABLE IF EXISTS temp.attacker_rows; DROP TABLE IF EXISTS temp.attacker_ids");
      }
    } drop{db};
    sqlite::exec(db, "DROP TABLE IF EXISTS temp.attacker_rows; DROP TABLE IF EXISTS temp.attacker_ids");
    const Deadline deadline(db, options_.query_timeout_ms);  // destroyed before the DROP and the COMMIT
    bool ok = true;
    auto run = [&](const std::string& sql, bool bind_ip, auto&& row) {
      const auto bind = [&](Stmt& s) {
        if (bind_ip) {
          s.bind_blob(1, bin.data(), 16);
        }
      };
      ok = ok && for_each_row(db, sql, bind, row);
    };
    // The address's count and time span: per span of 64 blocks its summary
    // (one probe per span), then the lists of the blocks no summary covers
    // (the spans after the last summarised one, and stale ones), then the
    // rows past the last written block. Other addresses' rows are never read.
    std::int64_t indexed_below = 0;
    postings::AddressSpans where;
    ok = postings::read_indexed_below(db, indexed_below) && postings::read_address_spans(db, bin, where);
    const std::int64_t written_blocks = postings::block_of(indexed_below);
    std::vector<Entry> rows_of_ip;
    Stmt list;
    ok = ok && list.prepare(db, "SELECT entries FROM event_src WHERE blk = ? AND src = ?");
    list.bind_blob(2, bin.data(), 16);
    const auto read_block = [&](std::int64_t blk) {
      list.bind(1, blk);
      int rc = 0;
      while ((rc = list.step()) == SQLITE_ROW) {
        postings::unpack(sqlite3_column_blob(list.get(), 0),
                         static_cast<std::size_t>(sqlite3_column_bytes(list.get(), 0)), rows_of_ip);
      }
      sqlite3_reset(list.get());  // keeps the address bound
      ok = ok && rc == SQLITE_DONE;
    };
    for (std::int64_t blk = 0; ok && blk < written_blocks; ++blk) {
      if (!where.summarised(postings::span_of_block(blk))) {
        read_block(blk);
      } else {
        blk = postings::span_first_block(postings::span_of_block(blk) + 1) - 1;  // skip the span
      }
    }
    run("SELECT event_us, id FROM events NOT INDEXED WHERE id >= " + std::to_string(indexed_below) +
            " AND src_ip_bin = ?1",
        true, [&](const Stmt& s) {
          rows_of_ip.push_back(Entry{s.int64(0), s.int64(1)});
        });
    a.event_count = rows_of_ip.size();
    std::int64_t first_us = std::numeric_limits<std::int64_t>::max(),
                 last_us = std::numeric_limits<std::int64_t>::min();
    for (const auto& e : rows_of_ip) {
      first_us = std::min(first_us, e.event_us);
      last_us = std::max(last_us, e.event_us);
    }
    for (const auto& span : where.spans) {
      a.event_count += static_cast<std::uint64_t>(span.rows);
      first_us = std::min(first_us, span.first_us);
      last_us = std::max(last_us, span.last_us);
    }
    if (a.event_count > 0) {
      a.first_us = first_us;
      a.last_us = last_us;
    }
    // The ids the groups count are the newest: the summarised spans' lists
    // are read newest span first, only until enough newer ids are in hand.
    for (auto span = where.spans.rbegin(); ok && span != where.spans.rend(); ++span) {
      const std::int64_t after = postings::block_start(postings::span_first_block(span->span + 1));
      const auto newer = static_cast<std::size_t>(
          std::count_if(rows_of_ip.begin(), rows_of_ip.end(), [&](const Entry& e) { return e.id >= after; }));
      if (newer >= options_.attacker_summarised) {
        break;
      }
      for (int bit = postings::kSpanBlocks - 1; ok && bit >= 0; --bit) {
        if (((span->blocks >> bit) & 1U) != 0) {
          read_block(postings::span_first_block(span->span) + bit);
        }
      }
    }
    if (ok && a.event_count > 0) {
      // The newest attacker_summarised by arrival: reading each row is what
      // costs (about 6 us each on a cold 10 M-event store), so the busiest
      // address is cut there.
      a.summarised = std::min<std::uint64_t>(rows_of_ip.size(), options_.attacker_summarised);
      const auto keep = static_cast<std::ptrdiff_t>(a.summarised);
      std::nth_element(rows_of_ip.begin(), rows_of_ip.begin() + keep - 1, rows_of_ip.end(),
                       [](const Entry& x, const Entry& y) { return x.id > y.id; });
      run("CREATE TEMP TABLE attacker_ids(id INTEGER PRIMARY KEY)", false, [](const Stmt&) {});
      Stmt add;
      ok = ok && add.prepare(db, "INSERT INTO temp.attacker_ids(id) VALUES(?)");
      for (std::ptrdiff_t i = 0; ok && i < keep; ++i) {
        add.bind(1, rows_of_ip[static_cast<std::size_t>(i)].id);
        ok = add.step() == SQLITE_DONE;
        sqlite3_reset(add.get());
      }
      // NOT INDEXED: reach the rows by their ids (rowid lookups stay allowed).
      run("CREATE TEMP TABLE attacker_rows AS SELECT node_id, pot_id, pot_type, event_type, username, password, "
          "command, session, event_us FROM events NOT INDEXED WHERE id IN (SELECT id FROM temp.attacker_ids)",
          false, [](const Stmt&) {});
      const std::string rows = " FROM temp.attacker_rows";
      const std::string top = " LIMIT " + std::to_string(kAttackerTop);
      const std::string groups = " LIMIT " + std::to_string(kAttackerGroups);
      const auto count = [](const Stmt& s, int column) { return static_cast<std::uint64_t>(s.int64(column)); };
      run("SELECT node_id, count(*) AS c" + rows + " GROUP BY node_id ORDER BY c DESC, node_id" + groups, false,
          [&](const Stmt& s) {
            a.nodes.push_back({sqlite::from_db(s.int64(0)), count(s, 1)});
          });
      run("SELECT pot_id, pot_type, count(*) AS c" + rows + " GROUP BY pot_id, pot_type ORDER BY c DESC, pot_id" +
              groups,
          false, [&](const Stmt& s) {
            a.pots.push_back({s.text(0), s.text(1), count(s, 2)});
          });
      run("SELECT event_type, count(*) AS c" + rows + " GROUP BY event_type ORDER BY c DESC, event_type" + groups,
          false, [&](const Stmt& s) {
            a.event_types.push_back({s.text(0), count(s, 1)});
          });
      run("SELECT username, password, count(*) AS c" + rows +
              " WHERE username != '' GROUP BY username, password ORDER BY c DESC, username, password" + top,
          false, [&](const Stmt& s) {
            a.credentials.push_back({s.text(0), s.text(1), count(s, 2)});
          });
      run("SELECT command, count(*) AS c" + rows + " WHERE command != '' GROUP BY command ORDER BY c DESC, command" +
              top,
          false, [&](const Stmt& s) {
            a.commands.push_back({s.text(0), count(s, 1)});
          });
      run("SELECT session, pot_id, node_id, min(event_us), max(event_us) AS l, count(*)" + rows +
              " WHERE session != '' GROUP BY node_id, pot_id, session ORDER BY l DESC, session" + top,
          false, [&](const Stmt& s) {
            a.sessions.push_back(
                {s.text(0), s.text(1), sqlite::from_db(s.int64(2)), s.int64(3), s.int64(4), count(s, 5)});
          });
    }
    if (!ok) {
      result.error = deadline.error("attacker", options_.query_timeout_ms,
                                    "this address has too many events to summarise within the time limit");
      return result;
    }
    result.value = std::move(a);
    return result;
  }

  Result<std::uint64_t> export_events(const EventFilter& f,
                                      const std::function<bool(const StoredEvent&)>& each) override {
    return export_by_pages(f, each, [&](const EventQuery& q) { return query_impl(q, 0); });
  }

  // ---- registry ----

  void save_node(const NodeRecord& node) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    if (!sqlite::exec(db, "BEGIN IMMEDIATE")) {
      spdlog::error("store: save_node {}: {}", node.node_id, sqlite::errmsg(db));
      return;
    }
    bool ok = true;
    {
      Stmt s;
      ok = s.prepare(db,
                     "INSERT INTO nodes(node_id, name, address, port, node_type, status, first_seen_us, last_seen_us) "
                     "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(node_id) DO UPDATE SET name=excluded.name, "
                     "address=excluded.address, port=excluded.port, node_type=excluded.node_type, "
                     "status=excluded.status, first_seen_us=excluded.first_seen_us, "
                     "last_seen_us=excluded.last_seen_us");
      if (ok) {
        s.bind(1, sqlite::to_db(node.node_id));
        s.bind(2, node.name);
        s.bind(3, node.address);
        s.bind(4, static_cast<std::int64_t>(node.port));
        s.bind(5, node.node_type);
        s.bind(6, node.status);
        s.bind(7, node.first_seen_us);
        s.bind(8, node.last_seen_us);
        ok = s.step() == SQLITE_DONE;
      }
    }
    if (ok) {
      Stmt del;
      ok = del.prepare(db, "DELETE FROM pots WHERE node_id = ?");
      if (ok) {
        del.bind(1, sqlite::to_db(node.node_id));
        ok = del.step() == SQLITE_DONE;
      }
    }
    if (ok) {
      Stmt ins;
      ok = ins.prepare(db,
                       "INSERT OR REPLACE INTO pots(node_id, pot_id, pot_type, status, message, updated_us) "
                       "VALUES(?,?,?,?,?,?)");
      for (const auto& p : node.pots) {
        if (!ok) {
          break;
        }
        ins.bind(1, sqlite::to_db(node.node_id));
        ins.bind(2, p.pot_id);
        ins.bind(3, p.pot_type);
        ins.bind(4, p.status);
        ins.bind(5, p.message);
        ins.bind(6, p.updated_us);
        ok = ins.step() == SQLITE_DONE;
        ins.reset();
      }
    }
    if (!ok || !sqlite::exec(db, "COMMIT")) {
      spdlog::error("store: save_node {}: {}", node.node_id, sqlite::errmsg(db));
      sqlite::exec(db, "ROLLBACK");
    }
  }

  std::vector<NodeRecord> load_nodes() override {
    std::vector<NodeRecord> nodes;
    Error error;
    auto lease = reader(error);
    if (!lease) {
      spdlog::error("store: load_nodes: {}", error.message);
      return nodes;
    }
    sqlite3* db = lease.db();
    sqlite::exec(db, "BEGIN");
    std::map<std::uint64_t, NodeRecord> by_id;
    Stmt s;
    if (s.prepare(db,
                  "SELECT node_id, name, address, port, node_type, status, first_seen_us, last_seen_us FROM nodes")) {
      while (s.step() == SQLITE_ROW) {
        NodeRecord n;
        n.node_id = sqlite::from_db(s.int64(0));
        n.name = s.text(1);
        n.address = s.text(2);
        n.port = static_cast<std::uint16_t>(s.int64(3));
        n.node_type = s.text(4);
        n.status = s.text(5);
        n.first_seen_us = s.int64(6);
        n.last_seen_us = s.int64(7);
        by_id.emplace(n.node_id, std::move(n));
      }
    }
    Stmt p;
    if (p.prepare(db,
                  "SELECT node_id, pot_id, pot_type, status, message, updated_us FROM pots ORDER BY node_id, pot_id")) {
      while (p.step() == SQLITE_ROW) {
        auto it = by_id.find(sqlite::from_db(p.int64(0)));
        if (it == by_id.end()) {
          continue;
        }
        it->second.pots.push_back(PotRecord{p.text(1), p.text(2), p.text(3), p.text(4), p.int64(5)});
      }
    }
    sqlite::exec(db, "COMMIT");
    nodes.reserve(by_id.size());
    for (auto& [id, n] : by_id) {
      nodes.push_back(std::move(n));
    }
    return nodes;
  }

  // ---- tokens ----

  TokenRecord add_token(const std::string& name, const std::string& hash, const std::string& scope) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    TokenRecord t;
    t.name = name;
    t.hash = hash;
    t.created_us = unix_now_us();
    t.scope = scope;
    Stmt s;
    if (s.prepare(db, "INSERT INTO api_tokens(name, hash, created_us, revoked, scope) VALUES(?,?,?,0,?)")) {
      s.bind(1, name);
      s.bind(2, hash);
      s.bind(3, t.created_us);
      s.bind(4, scope);
      if (s.step() == SQLITE_DONE) {
        t.id = sqlite3_last_insert_rowid(db);
        return t;
      }
    }
    spdlog::error("store: add_token '{}': {}", name, sqlite::errmsg(db));
    return t;  // id 0: not stored
  }

  std::vector<TokenRecord> tokens() override { return select_tokens("", {}); }

  bool revoke_token(const std::string& id_or_name) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    auto update = [&](const char* sql, const Bind& b) {
      Stmt s;
      if (!s.prepare(db, sql)) {
        return false;
      }
      bind_all(s, {b});
      return s.step() == SQLITE_DONE && sqlite3_changes(db) > 0;
    };
    std::int64_t id = 0;
    auto [ptr, ec] = std::from_chars(id_or_name.data(), id_or_name.data() + id_or_name.size(), id);
    if (!id_or_name.empty() && ec == std::errc{} && ptr == id_or_name.data() + id_or_name.size() &&
        update("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND revoked = 0", Bind{id})) {
      return true;
    }
    return update("UPDATE api_tokens SET revoked = 1 WHERE name = ? AND revoked = 0", Bind{id_or_name});
  }

  std::optional<TokenRecord> find_token(const std::string& hash) override {
    auto found = select_tokens(" WHERE hash = ?", {Bind{hash}});
    if (found.empty()) {
      return std::nullopt;
    }
    return found.front();
  }

  // ---- node enrollment ----

  JoinTokenRecord add_join_token(const std::string& node_name, const std::string& hash,
                                 std::int64_t expires_us) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    JoinTokenRecord t;
    t.node_name = node_name;
    t.hash = hash;
    t.created_us = unix_now_us();
    t.expires_us = expires_us;
    Stmt s;
    if (s.prepare(db, "INSERT INTO join_tokens(node_name, hash, created_us, expires_us) VALUES(?,?,?,?)")) {
      s.bind(1, node_name);
      s.bind(2, hash);
      s.bind(3, t.created_us);
      s.bind(4, expires_us);
      if (s.step() == SQLITE_DONE) {
        t.id = sqlite3_last_insert_rowid(db);
        return t;
      }
    }
    spdlog::error("store: add_join_token '{}': {}", node_name, sqlite::errmsg(db));
    return t;  // id 0: not stored
  }

  std::vector<JoinTokenRecord> join_tokens() override { return select_join_tokens("", {}); }

  std::variant<JoinTokenRecord, std::string> redeem_join_token(const std::string& hash, std::uint64_t node_id,
                                                               std::int64_t now_us) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    // One UPDATE decides: two nodes presenting the same token at once cannot
    // both take it (the misc connection is serialised, and the row changes
    // only while unused and unexpired).
    Stmt s;
    if (s.prepare(
            db, "UPDATE join_tokens SET used_us = ?, used_by = ? WHERE hash = ? AND used_us = 0 AND expires_us > ?")) {
      s.bind(1, now_us);
      s.bind(2, static_cast<std::int64_t>(node_id));
      s.bind(3, hash);
      s.bind(4, now_us);
      if (s.step() != SQLITE_DONE) {
        return std::string("the core could not check the join token: ") + sqlite::errmsg(db);
      }
    }
    const bool taken = sqlite3_changes(db) > 0;
    auto found = select_join_tokens(" WHERE hash = ?", {Bind{hash}});
    return redeem_outcome(found, taken, node_id, now_us);
  }

  bool add_node_certificate(const NodeCertificateRecord& c) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    Stmt s;
    if (s.prepare(db,
                  "INSERT INTO node_certificates(serial, node_id, node_name, issued_us, not_after_us, revoked_us) "
                  "VALUES(?,?,?,?,?,?)")) {
      s.bind(1, c.serial);
      s.bind(2, static_cast<std::int64_t>(c.node_id));
      s.bind(3, c.node_name);
      s.bind(4, c.issued_us);
      s.bind(5, c.not_after_us);
      s.bind(6, c.revoked_us);
      if (s.step() == SQLITE_DONE) {
        return true;
      }
    }
    spdlog::error("store: add_node_certificate {}: {}", c.node_id, sqlite::errmsg(db));
    return false;
  }

  std::vector<NodeCertificateRecord> node_certificates() override {
    std::vector<NodeCertificateRecord> out;
    Error error;
    auto lease = reader(error);
    Stmt s;
    if (!lease || !s.prepare(lease.db(),
                             "SELECT serial, node_id, node_name, issued_us, not_after_us, revoked_us "
                             "FROM node_certificates ORDER BY issued_us")) {
      return out;
    }
    while (s.step() == SQLITE_ROW) {
      out.push_back(NodeCertificateRecord{s.text(0), static_cast<std::uint64_t>(s.int64(1)), s.text(2), s.int64(3),
                                          s.int64(4), s.int64(5)});
    }
    return out;
  }

  int revoke_node_certificates(const std::string& node_or_serial, std::int64_t now_us) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    Stmt s;
    // A node id is a u64 stored as its int64 bit pattern (like nodes.node_id).
    std::uint64_t id = 0;
    const auto* end = node_or_serial.data() + node_or_serial.size();
    auto [ptr, ec] = std::from_chars(node_or_serial.data(), end, id);
    const bool is_id = !node_or_serial.empty() && ec == std::errc{} && ptr == end;
    if (!s.prepare(db,
                   "UPDATE node_certificates SET revoked_us = ?1 WHERE revoked_us = 0 AND "
                   "(serial = ?2 OR node_name = ?2 OR (?4 AND node_id = ?3))")) {
      return 0;
    }
    s.bind(1, now_us);
    s.bind(2, node_or_serial);
    s.bind(3, static_cast<std::int64_t>(id));
    s.bind(4, std::int64_t{is_id ? 1 : 0});
    if (s.step() != SQLITE_DONE) {
      spdlog::error("store: revoke_node_certificates '{}': {}", node_or_serial, sqlite::errmsg(db));
      return 0;
    }
    return sqlite3_changes(db);
  }

  std::vector<std::pair<std::uint64_t, std::string>> node_totp_keys() override {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    Error error;
    auto lease = reader(error);
    Stmt s;
    if (!lease || !s.prepare(lease.db(), "SELECT node_id, secret FROM node_totp")) {
      return out;
    }
    while (s.step() == SQLITE_ROW) {
      out.emplace_back(static_cast<std::uint64_t>(s.int64(0)), s.text(1));
    }
    return out;
  }

  bool set_node_totp_key(std::uint64_t node_id, const std::string& key) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    Stmt s;
    if (s.prepare(db, "INSERT OR REPLACE INTO node_totp(node_id, secret) VALUES(?,?)")) {
      s.bind(1, static_cast<std::int64_t>(node_id));
      s.bind(2, key);
      if (s.step() == SQLITE_DONE) {
        return true;
      }
    }
    spdlog::error("store: set_node_totp_key {}: {}", node_id, sqlite::errmsg(db));
    return false;
  }

  // ---- audit log ----

  void audit(const AuditRecord& r) override {
    std::lock_guard lk(misc_mu_);
    sqlite3* db = misc_db_.get();
    Stmt s;
    if (s.prepare(db, "INSERT INTO audit_log(time_us, actor, action, target, outcome) VALUES(?,?,?,?,?)")) {
      s.bind(1, r.time_us != 0 ? r.time_us : unix_now_us());
      s.bind(2, r.actor);
      s.bind(3, r.action);
      s.bind(4, r.target);
      s.bind(5, r.outcome);
      if (s.step() == SQLITE_DONE) {
        // Bounded: the newest kAuditKeep records are kept.
        if (++audit_inserts_ % 1024 == 0) {
          const auto trim =
              "DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - " + std::to_string(kAuditKeep);
          sqlite::exec(db, trim.c_str());
        }
        return;
      }
    }
    spdlog::error("store: audit {} {}: {}", r.action, r.target, sqlite::errmsg(db));
  }

  std::vector<AuditRecord> audit_log(std::size_t limit, std::int64_t before) override {
    std::vector<AuditRecord> out;
    Error error;
    auto lease = reader(error);
    Stmt s;
    if (!lease || !s.prepare(lease.db(),
                             "SELECT id, time_us, actor, action, target, outcome FROM audit_log "
                             "WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2")) {
      return out;
    }
    s.bind(1, before);
    s.bind(2, static_cast<std::int64_t>(limit));
    while (s.step() == SQLITE_ROW) {
      out.push_back(AuditRecord{s.int64(0), s.int64(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    }
    return out;
  }

  std::int64_t used_bytes() override {
    Error error;
    auto lease = reader(error);
    if (!lease) {
      return -1;
    }
    return used_bytes_of(lease.db());
  }

 private:
  // ---- connections ----

  Db open_connection(bool read_only, std::string& error) const {
    sqlite3* raw = nullptr;
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(options_.path.c_str(), &raw, flags, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) {
      error = options_.path + ": " + sqlite::errmsg(raw);
      return Db();
    }
    sqlite3_busy_timeout(raw, options_.busy_timeout_ms);
    sqlite3_extended_result_codes(raw, 1);
    if (read_only) {
      sqlite::exec(raw, "PRAGMA mmap_size=268435456");
    } else {
      sqlite::exec(raw, "PRAGMA wal_autocheckpoint=0");  // the checkpointer thread does it
      // Debian builds SQLite with SQLITE_SECURE_DELETE: every freed cell
      // and page zeroed, which costs the writer a memset per moved cell and
      // retention a write of every page it frees. Attackers' events need no
      // shredding (what a deleted row held is still in backups and exports).
      sqlite::exec(raw, "PRAGMA secure_delete=OFF");
    }
    return db;
  }

  /// A pooled read connection, returned on destruction.
  class Lease {
   public:
    Lease(SqliteStorage* owner, Db db) : owner_(owner), db_(std::move(db)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (db_) {
        owner_->release(std::move(db_));
      }
    }
    sqlite3* db() const { return db_.get(); }
    explicit operator bool() const { return static_cast<bool>(db_); }

   private:
    SqliteStorage* owner_;
    Db db_;
  };

  Lease reader(Error& error) {
    {
      std::lock_guard lk(pool_mu_);
      if (!pool_.empty()) {
        Db db = std::move(pool_.back());
        pool_.pop_back();
        return Lease(this, std::move(db));
      }
    }
    std::string message;
    Db db = open_connection(true, message);
    if (!db) {
      error = Error{message};
    }
    return Lease(this, std::move(db));
  }

  void release(Db db) {
    if (sqlite3_get_autocommit(db.get()) == 0) {
      sqlite::exec(db.get(), "ROLLBACK");  // never pool a connection that pins a snapshot
    }
    std::lock_guard lk(pool_mu_);
    if (pool_.size() < kMaxPooledReaders) {
      pool_.push_back(std::move(db));
    }
  }

  std::vector<TokenRecord> select_tokens(const std::string& where, std::vector<Bind> binds) {
    std::vector<TokenRecord> out;
    Error error;
    auto lease = reader(error);
    if (!lease) {
      return out;
    }
    Stmt s;
    if (!s.prepare(lease.db(),
                   "SELECT id, name, hash, created_us, revoked, scope FROM api_tokens" + where + " ORDER BY id")) {
      return out;
    }
    bind_all(s, binds);
    while (s.step() == SQLITE_ROW) {
      out.push_back(TokenRecord{s.int64(0), s.text(1), s.text(2), s.int64(3), s.int64(4) != 0, s.text(5)});
    }
    return out;
  }

  std::vector<JoinTokenRecord> select_join_tokens(const std::string& where, std::vector<Bind> binds) {
    std::vector<JoinTokenRecord> out;
    Error error;
    auto lease = reader(error);
    Stmt s;
    if (!lease ||
        !s.prepare(lease.db(), "SELECT id, node_name, hash, created_us, expires_us, used_us, used_by FROM join_tokens" +
                                   where + " ORDER BY id")) {
      return out;
    }
    bind_all(s, binds);
    while (s.step() == SQLITE_ROW) {
      out.push_back(JoinTokenRecord{s.int64(0), s.text(1), s.text(2), s.int64(3), s.int64(4), s.int64(5),
                                    static_cast<std::uint64_t>(s.int64(6))});
    }
    return out;
  }

  static std::int64_t pragma_int(sqlite3* db, const char* sql) {
    Stmt s;
    if (!s.prepare(db, sql) || s.step() != SQLITE_ROW) {
      return -1;
    }
    return s.int64(0);
  }

  static std::int64_t used_bytes_of(sqlite3* db) {
    const auto pages = pragma_int(db, "PRAGMA page_count");
    const auto free_pages = pragma_int(db, "PRAGMA freelist_count");
    const auto page_size = pragma_int(db, "PRAGMA page_size");
    if (pages < 0 || free_pages < 0 || page_size < 0) {
      return -1;
    }
    return (pages - free_pages) * page_size;
  }

  bool migrate(std::string& error) {
    sqlite3* db = writer_db_.get();
    const auto version = pragma_int(db, "PRAGMA user_version");
    if (version < 0) {
      error = options_.path + ": " + sqlite::errmsg(db);
      return false;
    }
    if (version > kSchemaVersion) {
      error = options_.path + ": schema version " + std::to_string(version) + " is newer than this build's (" +
              std::to_string(kSchemaVersion) + ")";
      return false;
    }
    for (auto v = version; v < kSchemaVersion; ++v) {
      if (version > 0) {
        // An existing store: building indexes over it takes a while; say why start-up waits.
        spdlog::info("{}: migrating the schema from version {} to {}", options_.path, v, v + 1);
      }
      const std::string step = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                               "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
      if (!sqlite::exec(db, step.c_str())) {
        error = options_.path + ": migration to schema " + std::to_string(v + 1) + ": " + sqlite::errmsg(db);
        sqlite::exec(db, "ROLLBACK");
        return false;
      }
    }
    return true;
  }

  // ---- checkpoints ----
  //
  // Copying the WAL back into the database costs about a third of the
  // writer's time when the writer does it (auto-checkpoint). A checkpointer
  // thread with its own connection does it beside the writer instead
  // (PASSIVE: never blocks the writer nor readers). The WAL restarts from
  // its beginning only when a checkpoint has copied all of it before the
  // next write transaction, which a busy writer rarely lets happen: past
  // kWriterCheckpointFrames the writer checkpoints itself (little is left
  // to copy by then), so the WAL stays bounded.

  static int wal_hook(void* self, sqlite3* db, const char*, int frames) {
    auto* me = static_cast<SqliteStorage*>(self);
    me->wal_written_ = true;
    if (frames >= kWriterCheckpointFrames) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (frames >= kCheckpointFrames) {
      {
        std::lock_guard lk(me->ckpt_mu_);
        me->ckpt_wanted_ = true;
      }
      me->ckpt_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  /// On the writer thread, when the store is idle: the WAL kept at its
  /// working size under load (kWalKeptBytes) is copied back and cut to
  /// nothing, so an idle store holds no WAL on disk. Never waits: with a
  /// reader still on the WAL it is left for the next idle tick.
  void truncate_idle_wal() {
    if (!wal_written_) {
      return;
    }
    sqlite3* db = writer_db_.get();
    sqlite3_busy_timeout(db, 0);
    const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    sqlite3_busy_timeout(db, options_.busy_timeout_ms);
    if (rc == SQLITE_OK) {
      wal_written_ = false;
    }
  }

  void checkpoint_loop() {
    while (true) {
      {
        std::unique_lock lk(ckpt_mu_);
        ckpt_cv_.wait(lk, [&] { return ckpt_stop_ || ckpt_wanted_ || ckpt_release_; });
        if (ckpt_stop_) {
          break;
        }
        if (std::exchange(ckpt_release_, false)) {
          sqlite3_db_release_memory(ckpt_db_.get());
          ::malloc_trim(0);  // the pages just freed, back to the system
        }
        if (!std::exchange(ckpt_wanted_, false)) {
          continue;
        }
      }
      sqlite3_wal_checkpoint_v2(ckpt_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      cache_window_->trim();
    }
  }

  // ---- writer thread ----

  void writer_loop() {
    using clock = std::chrono::steady_clock;
    const bool retention_on = options_.retention_days > 0 || options_.retention_max_mb > 0;
    const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(options_.retention_interval_ms, 1));
    auto next_retention = clock::now();  // once at open
    bool retention_pending = false;
    WriterWork work;
    while (true) {
      std::optional<clock::time_point> until;
      if (retention_pending) {
        until = clock::now();  // keep going with retention chunks between ingest batches
      } else if (retention_on) {
        until = next_retention;
      }
      if (!queue_.take(work, batch_limit_, until, [&] { return writer_release_.load(); })) {
        break;
      }
      if (work.empty() && writer_release_.exchange(false)) {
        truncate_idle_wal();
        sqlite3_db_release_memory(writer_db_.get());
        ::malloc_trim(0);  // the pages just freed, back to the system
      }
      if (!work.empty()) {
        commit(work);
      }
      if (retention_on && (retention_pending || clock::now() >= next_retention)) {
        if (!retention_pending) {
          next_retention = clock::now() + interval;
        }
        retention_pending = retention_step();
      }
    }
  }

  void commit(WriterWork& work) {
    const std::size_t events = work.events;
    sqlite3* db = writer_db_.get();
    bool ok = false;
    auto backoff = std::chrono::milliseconds(10);
    const int attempts = std::max(options_.commit_attempts, 1);
    for (int attempt = 0; attempt < attempts && !ok; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(backoff);
        backoff *= 4;
      }
      stored_in_transaction_ = 0;
      if (!sqlite::exec(db, "BEGIN IMMEDIATE")) {
        spdlog::warn("store: begin (attempt {}): {}", attempt + 1, sqlite::errmsg(db));
        continue;
      }
      bool inserted = true;
      for (const auto& p : work.batches) {
        for (const auto& e : p.events) {
          if (!insert(e)) {
            inserted = false;
            break;
          }
        }
        if (!inserted) {
          break;
        }
      }
      if (inserted && sqlite::exec(db, "COMMIT")) {
        ok = true;
        break;
      }
      spdlog::warn("store: commit of {} events (attempt {}): {}", events, attempt + 1, sqlite::errmsg(db));
      sqlite::exec(db, "ROLLBACK");
      // The newest block as the database has it again.
      if (!catch_up()) {
        spdlog::error("store: reading back the newest block: {}", sqlite::errmsg(db));
      }
    }
    if (!ok) {
      spdlog::error("store: {} events could not be stored: {}", events, sqlite::errmsg(db));
    }
    queue_.finish(work, ok, stored_in_transaction_);
  }

  /// Inserts one event under the next id (a duplicate uses none) and adds
  /// it to the newest block's postings; writes the block before it when
  /// this id starts a new one. Inside the commit's transaction.
  bool insert(const events::Event& e) {
    sqlite3* db = writer_db_.get();
    const std::int64_t id = next_id_;
    if (postings::block_of(id) != open_block_.block()) {
      if (!seal_open_block()) {
        return false;
      }
      open_block_.reset(postings::block_of(id));
    }
    Stmt& s = insert_;
    s.bind(1, id);
    s.bind_or_null(2, e.event_id);
    s.bind(3, e.received_us);
    s.bind(4, e.event_us);
    const std::int64_t node = sqlite::to_db(e.node_id);
    s.bind(5, node);
    s.bind(6, e.pot_id);
    s.bind(7, e.pot_type);
    s.bind(8, e.event_type);
    s.bind(9, e.src_ip);
    Ip16 ip{};
    const bool has_ip = ip_to_bin(e.src_ip, ip);
    if (has_ip) {
      s.bind_blob(10, ip.data(), 16);
    } else {
      s.bind_null(10);
    }
    s.bind(11, static_cast<std::int64_t>(e.src_port));
    s.bind(12, e.dst_ip);
    s.bind(13, static_cast<std::int64_t>(e.dst_port));
    s.bind(14, e.username);
    s.bind(15, e.password);
    s.bind(16, e.command);
    s.bind(17, e.session);
    s.bind(18, e.url);
    s.bind(19, e.message);
    s.bind(20, e.raw_json);
    const int rc = s.step();
    sqlite3_reset(s.get());
    if (rc != SQLITE_DONE) {
      return false;
    }
    if (sqlite3_changes(db) > 0) {
      ++next_id_;
      ++stored_in_transaction_;
      open_block_.add(
          postings::RowKeys{id, e.event_us, node, e.pot_id, e.pot_type, e.event_type, has_ip ? &ip : nullptr});
    }
    return true;
  }

  /// Writes the newest block's postings and moves indexed_below past it,
  /// then the address summaries of the span it completes, if it does;
  /// inside the caller's transaction.
  bool seal_open_block() {
    sqlite3* db = writer_db_.get();
    const std::int64_t next = open_block_.block() + 1;
    return open_block_.write(db, /*replace=*/false) && postings::write_indexed_below(db, postings::block_start(next)) &&
           summarise_spans(postings::span_of_block(next));
  }

  /// Writes the address summaries of the spans from src_spans_below_ up to
  /// `below` (each span's blocks all have their lists), inside the
  /// caller's transaction. A rolled-back transaction leaves
  /// src_spans_below_ ahead of the database: catch_up() reads it again.
  bool summarise_spans(std::int64_t below) {
    if (src_spans_below_ >= below) {
      return true;
    }
    sqlite3* db = writer_db_.get();
    for (; src_spans_below_ < below; ++src_spans_below_) {
      if (!postings::write_src_span(db, src_spans_below_)) {
        return false;
      }
    }
    return postings::write_src_spans_below(db, src_spans_below_);
  }

  /// Brings the writer's state to the database's: the next id, the block
  /// postings of every full block not written yet (a store migrated from
  /// schema 3 has none: written here, 64 blocks per transaction, with
  /// progress in the log), and the newest block's rows gathered in memory.
  /// At open, and after a rolled-back commit.
  bool catch_up() {
    sqlite3* db = writer_db_.get();
    stored_in_transaction_ = 0;
    std::int64_t below = 0;
    if (!postings::read_indexed_below(db, below) || !postings::read_src_spans_below(db, src_spans_below_)) {
      return false;
    }
    const std::int64_t max_id = pragma_int(db, "SELECT coalesce(max(id), 0) FROM events");
    const std::int64_t min_id = pragma_int(db, "SELECT coalesce(min(id), 0) FROM events");
    if (max_id < 0 || min_id < 0) {
      return false;
    }
    next_id_ = std::max({max_id + 1, below, std::int64_t{1}});
    const std::int64_t newest = max_id >= below ? postings::block_of(max_id) : postings::block_of(next_id_);
    std::int64_t block = postings::block_of(std::max(below, min_id));
    const auto add = [this](const postings::RowKeys& row) { open_block_.add(row); };
    if (block < newest) {
      spdlog::info("{}: writing the block postings of events {} to {}", options_.path, std::max(below, min_id),
                   postings::block_start(newest) - 1);
    }
    std::int64_t written = 0, next_report = 1'000'000;
    while (block < newest) {
      if (!sqlite::exec(db, "BEGIN IMMEDIATE")) {
        return false;
      }
      for (int i = 0; i < 64 && block < newest; ++i, ++block) {
        open_block_.reset(block);
        if (!postings::read_row_keys(db, std::max(below, postings::block_start(block)),
                                     postings::block_start(block + 1), add) ||
            !seal_open_block()) {
          sqlite::exec(db, "ROLLBACK");
          postings::read_src_spans_below(db, src_spans_below_);
          return false;
        }
        written += static_cast<std::int64_t>(open_block_.rows());
      }
      if (!sqlite::exec(db, "COMMIT")) {
        sqlite::exec(db, "ROLLBACK");
        return false;
      }
      if (block < newest && written >= next_report) {
        spdlog::info("{}: block postings of {} events written", options_.path, written);
        next_report = written + 1'000'000;
      }
    }
    // The spans whose blocks are all written but that have no address
    // summaries yet (a store of schema 4), 8 per transaction.
    const std::int64_t complete = postings::span_of_block(newest);
    if (src_spans_below_ < complete) {
      spdlog::info("{}: writing the address summaries of spans {} to {}", options_.path, src_spans_below_,
                   complete - 1);
    }
    while (src_spans_below_ < complete) {
      if (!sqlite::exec(db, "BEGIN IMMEDIATE")) {
        return false;
      }
      if (!summarise_spans(std::min(src_spans_below_ + 8, complete)) || !sqlite::exec(db, "COMMIT")) {
        sqlite::exec(db, "ROLLBACK");
        postings::read_src_spans_below(db, src_spans_below_);
        return false;
      }
    }
    open_block_.reset(newest);
    return postings::read_row_keys(db, std::max(below, postings::block_start(newest)),
                                   std::numeric_limits<std::int64_t>::max(), add);
  }

  /// One retention transaction; true when more remains to delete. The
  /// written blocks that lost rows get their postings, and their spans
  /// their address summaries, rebuilt in the same transaction (a list
  /// never names a deleted row, so an address's count stays exact); the
  /// newest block is read back after.
  bool retention_step() {
    sqlite3* db = writer_db_.get();
    std::vector<std::int64_t> deleted;
    bool more = false;
    bool ok = sqlite::exec(db, "BEGIN IMMEDIATE");
    if (ok && options_.retention_days > 0) {
      const std::int64_t cutoff = unix_now_us() - options_.retention_days * 86'400'000'000;
      ok = delete_where(
          "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE event_us < ? ORDER BY "
          "event_us LIMIT ?) RETURNING id",
          cutoff, deleted);
      more = deleted.size() == static_cast<std::size_t>(kRetentionChunk);
    }
    if (ok && !more && options_.retention_max_mb > 0) {
      const std::int64_t limit = options_.retention_max_mb * 1024 * 1024;
      const auto used = used_bytes_of(db);
      if (used > limit) {
        // Oldest stored first (lowest ids): whole table pages become free.
        // The share of rows to delete is estimated from the share of bytes
        // over the limit, at most one chunk per transaction.
        const auto lo = pragma_int(db, "SELECT min(id) FROM events");
        const auto hi = pragma_int(db, "SELECT max(id) FROM events");
        if (lo > 0 && hi >= lo) {
          const double excess = static_cast<double>(used - limit) / static_cast<double>(used);
          const auto rows = std::clamp<std::int64_t>(
              static_cast<std::int64_t>(excess * static_cast<double>(hi - lo + 1)) + 1, 1, kRetentionChunk);
          const auto before = deleted.size();
          ok = delete_where("DELETE FROM events WHERE id < ? RETURNING id", lo + rows, deleted);
          more = deleted.size() > before;
        }
      }
    }
    std::int64_t below = 0;
    ok = ok && postings::read_indexed_below(db, below);
    std::vector<std::int64_t> blocks;
    bool newest_block = false;
    for (const auto id : deleted) {
      if (id >= below) {
        newest_block = true;
      } else {
        blocks.push_back(postings::block_of(id));
      }
    }
    std::sort(blocks.begin(), blocks.end());
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    postings::BlockPostings rebuilt;
    for (std::size_t i = 0; ok && i < blocks.size(); ++i) {
      rebuilt.reset(blocks[i]);
      ok = postings::read_row_keys(db, postings::block_start(blocks[i]), postings::block_start(blocks[i] + 1),
                                   [&](const postings::RowKeys& row) { rebuilt.add(row); }) &&
           rebuilt.write(db, /*replace=*/true);
    }
    // Their spans' address summaries are stale now: readers use the
    // blocks' lists for those spans until the pass is over and they are
    // written again, one span per step (not once per chunk: a span's
    // summaries take ~50 ms to write).
    Stmt stale;
    ok = ok && stale.prepare(db, "INSERT OR IGNORE INTO event_src_span_stale(span) VALUES(?)");
    for (std::size_t i = 0; ok && i < blocks.size(); ++i) {
      const std::int64_t span = postings::span_of_block(blocks[i]);
      if (span < src_spans_below_) {
        stale.bind(1, span);
        ok = stale.step() == SQLITE_DONE;
        stale.reset();
      }
    }
    if (ok && !more) {
      bool left = false;
      ok = refresh_stale_span(left);
      more = left;
    }
    if (!ok || !sqlite::exec(db, "COMMIT")) {
      spdlog::error("store: retention: {}", sqlite::errmsg(db));
      sqlite::exec(db, "ROLLBACK");
      return false;
    }
    if (newest_block && !catch_up()) {
      spdlog::error("store: retention: reading back the newest block: {}", sqlite::errmsg(db));
    }
    queue_.count_retention(deleted.size());
    return more;
  }

  /// Writes the summaries of the first stale span again and takes it off
  /// the list, inside the caller's transaction; `left`: more stale spans
  /// remain.
  bool refresh_stale_span(bool& left) {
    sqlite3* db = writer_db_.get();
    std::vector<std::int64_t> stale;
    if (!postings::read_stale_spans(db, stale)) {
      return false;
    }
    left = stale.size() > 1;
    if (stale.empty()) {
      return true;
    }
    Stmt done;
    if (!postings::write_src_span(db, stale.front()) ||
        !done.prepare(db, "DELETE FROM event_src_span_stale WHERE span = ?")) {
      return false;
    }
    done.bind(1, stale.front());
    return done.step() == SQLITE_DONE;
  }

  /// Runs a retention DELETE … RETURNING id; appends the deleted ids.
  bool delete_where(const char* sql, std::int64_t bound, std::vector<std::int64_t>& deleted) {
    sqlite3* db = writer_db_.get();
    Stmt s;
    if (!s.prepare(db, sql)) {
      return false;
    }
    s.bind(1, bound);
    if (sqlite3_bind_parameter_count(s.get()) >= 2) {
      s.bind(2, static_cast<std::int64_t>(kRetentionChunk));
    }
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      deleted.push_back(s.int64(0));
    }
    return rc == SQLITE_DONE;
  }

  StorageOptions options_;
  Db writer_db_;  ///< writer thread only (and open())
  Stmt insert_;
  std::thread writer_;
  postings::BlockPostings open_block_;       ///< writer thread: the newest block, not written yet
  std::int64_t next_id_ = 1;                 ///< writer thread: the id of the next stored event
  std::int64_t src_spans_below_ = 0;         ///< writer thread: store_meta.src_spans_below
  std::uint64_t stored_in_transaction_ = 0;  ///< writer thread: events the open transaction stored

  IngestQueue queue_{options_.queue_capacity};
  const std::size_t batch_limit_ = options_.batch_limit(kSqliteBatch);

  std::mutex pool_mu_;
  std::vector<Db> pool_;

  std::uint64_t audit_inserts_ = 0;  ///< under misc_mu_
  std::mutex misc_mu_;               ///< misc_db_: registry and token writes
  Db misc_db_;

  std::thread checkpointer_;
  Db ckpt_db_;  ///< checkpointer thread only
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;
  bool ckpt_stop_ = false;
  bool ckpt_release_ = false;                    ///< release_memory() asked the checkpointer to drop its cache
  std::optional<PageCacheWindow> cache_window_;  ///< checkpointer thread, once open() started it

  std::atomic<bool> writer_release_{false};  ///< release_memory() asked the writer to drop its cache
  bool wal_written_ = false;                 ///< writer thread: frames written since the WAL was last cut to nothing
};

}  // namespace

std::unique_ptr<Storage> open_sqlite(const StorageOptions& options, std::string& error) {
  if (options.path.empty()) {
    error = "storage path is empty";
    return nullptr;
  }
  // Process-wide, before SQLite initialises: no allocation statistics (a
  // global mutex on every malloc). Later calls are refused harmlessly.
  static std::once_flag configured;
  // No bulk page-cache allocation per connection (20 pages of 64 KiB, 1.3
  // MB each): pages are allocated as used, so release_memory() can give
  // them back.
  std::call_once(configured, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
  });
  auto s = std::make_unique<SqliteStorage>(options);
  if (!s->open(error)) {
    return nullptr;
  }
  return s;
}

}  // namespace honeycomb::store
