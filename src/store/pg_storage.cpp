// PostgreSQL storage: the same contract as SQLite (storage.hpp, the shared
// test suite) on a database server that several cores can share. Schema,
// partitions and retention are documented in docs/EVENTS.md § PostgreSQL;
// this file says why where it is not obvious.
//
// Threads: as in SQLite, but StorageOptions::writers writer threads (1 by
// default), each owning its connection (events are copied through it),
// take transactions from the one bounded queue that append() fills; their
// commits are reported in the order taken (ingest_queue.hpp). Reads lease
// connections from a small pool; registry and token writes share one
// connection under a mutex. A broken connection is
// re-established on next use: a database restart costs failed commits
// (whose events the nodes keep and resend), never a crash or a lost event.
#include "common/clock.hpp"
#include "common/thread_name.hpp"
#include "store/ingest_queue.hpp"
#include "store/pg_db.hpp"
#include "store/pg_lib.hpp"
#include "store/query_support.hpp"
#include "store/storage.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <poll.h>
#include <set>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

namespace honeycomb::store {
namespace {

using pg::Conn;
using pg::Params;
using namespace query_support;  // NOLINT(google-build-using-namespace): the shared filter parts

constexpr int kSchemaVersion = 6;
constexpr std::int64_t kAuditKeep = 100'000;  ///< audit records kept (the oldest are deleted)
constexpr std::size_t kMaxPooledReaders = 8;
constexpr int kRetentionChunk = 5000;  ///< rows deleted per retention transaction
constexpr int kScanFetch = 500;        ///< rows per FETCH of a free-text scan
constexpr std::int64_t kDayUs = 86'400'000'000;
/// Day partitions are made for event times from this many days ago to
/// kPartitionFutureDays ahead; other times (a honeypot's clock far off, a
/// forged record) go to the default partition, so that no sender can make
/// the core create thousands of partitions.
constexpr std::int64_t kPartitionPastDays = 400;
constexpr std::int64_t kPartitionFutureDays = 2;
/// Partition DDL waits at most this long for its lock, so that a long query
/// delays the day's partition rather than ingestion behind it.
constexpr int kDdlLockTimeoutMs = 2000;
/// pg_advisory_lock key serialising schema migrations and partition DDL
/// between the cores sharing a database ("honeycmb").
constexpr std::int64_t kDdlLockKey = 0x686f6e6579636d62;
/// A core beats every kCoreBeat; one silent for kCoreAlive is gone (its
/// nodes count as offline until they reconnect to another core).
constexpr auto kCoreBeat = std::chrono::seconds(2);
constexpr std::int64_t kCoreAliveUs = 10'000'000;
/// Commands and their answers are kept this long in core_commands.
constexpr std::int64_t kCommandKeepUs = 3'600'000'000;
/// NOTIFY payloads stay under PostgreSQL's 8000-byte limit.
constexpr std::size_t kNotifyMax = 7000;
/// A notified id range longer than this is not read back (a forged or
/// broken payload): the stream misses it, the store has it.
constexpr std::int64_t kRemoteRangeMax = 100'000;

// Migrations: index i brings honeycomb_schema.version i to i+1. Never edit a
// released step; append a new one.
constexpr const char* kMigrations[] = {
    // 0 -> 1. Events are partitioned by day of event time: retention drops a
    // day's table instead of deleting rows, and each day's indexes stay the
    // size of a day. The source index is an ordinary one here: it is per
    // partition, so inserts touch one day's index. `id` is the arrival
    // order (the page cursor's tie-break); get() finds it through a BRIN
    // index, tiny because ids grow with each partition's insertion order.
    R"sql(
CREATE SEQUENCE events_id_seq;
CREATE TABLE events(
  id bigint NOT NULL DEFAULT nextval('events_id_seq'),
  event_id text,
  received_us bigint NOT NULL,
  event_us bigint NOT NULL,
  node_id bigint NOT NULL,
  pot_id text NOT NULL,
  pot_type text NOT NULL,
  event_type text NOT NULL,
  src_ip text NOT NULL,
  src_ip_bin bytea,
  src_port integer NOT NULL,
  dst_ip text NOT NULL,
  dst_port integer NOT NULL,
  username text NOT NULL,
  password text NOT NULL,
  command text NOT NULL,
  session text NOT NULL,
  url text NOT NULL,
  message text NOT NULL,
  raw text NOT NULL
) PARTITION BY RANGE (event_us);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE UNIQUE INDEX events_time_event_id ON events(event_us, event_id);
CREATE INDEX events_pot_time ON events(pot_id, event_us);
CREATE INDEX events_type_time ON events(event_type, event_us);
CREATE INDEX events_pot_type_time ON events(pot_type, event_us);
CREATE INDEX events_node_time ON events(node_id, event_us);
CREATE INDEX events_src_time ON events(src_ip_bin, event_us);
CREATE INDEX events_id_brin ON events USING brin(id);
CREATE TABLE nodes(
  node_id bigint PRIMARY KEY,
  name text NOT NULL,
  address text NOT NULL,
  port integer NOT NULL,
  node_type text NOT NULL,
  status text NOT NULL,
  first_seen_us bigint NOT NULL,
  last_seen_us bigint NOT NULL
);
CREATE TABLE pots(
  node_id bigint NOT NULL,
  pot_id text NOT NULL,
  pot_type text NOT NULL,
  status text NOT NULL,
  message text NOT NULL,
  updated_us bigint NOT NULL,
  PRIMARY KEY(node_id, pot_id)
);
CREATE TABLE api_tokens(
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  hash text NOT NULL UNIQUE,
  created_us bigint NOT NULL,
  revoked boolean NOT NULL DEFAULT false,
  scope text NOT NULL DEFAULT 'admin'
);
CREATE TABLE join_tokens(
  id bigserial PRIMARY KEY,
  node_name text NOT NULL,
  hash text NOT NULL UNIQUE,
  created_us bigint NOT NULL,
  expires_us bigint NOT NULL,
  used_us bigint NOT NULL DEFAULT 0,
  used_by bigint NOT NULL DEFAULT 0
);
CREATE TABLE node_certificates(
  serial text PRIMARY KEY,
  node_id bigint NOT NULL,
  node_name text NOT NULL,
  issued_us bigint NOT NULL,
  not_after_us bigint NOT NULL,
  revoked_us bigint NOT NULL DEFAULT 0
);
CREATE INDEX node_certificates_node ON node_certificates(node_id);
CREATE TABLE node_totp(
  node_id bigint PRIMARY KEY,
  secret text NOT NULL
);
CREATE TABLE audit_log(
  id bigserial PRIMARY KEY,
  time_us bigint NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  outcome text NOT NULL
);
)sql",
    // 1 -> 2: several cores on one database (docs/DEPLOYMENT.md). Each
    // core's writer session takes ids in blocks (CACHE), so that the ids of
    // one batch form a few ranges another core can read back by. Cores beat
    // in `cores`; a node's session is in `node_presence` under the core that
    // has it; `core_commands` carries commands to that core and answers back.
    R"sql(
ALTER SEQUENCE events_id_seq CACHE 16384;
CREATE TABLE cores(
  core_id bigint PRIMARY KEY,
  started_us bigint NOT NULL,
  heartbeat_us bigint NOT NULL
);
CREATE TABLE node_presence(
  node_id bigint PRIMARY KEY,
  core_id bigint NOT NULL,
  since_us bigint NOT NULL
);
CREATE TABLE core_commands(
  id bigserial PRIMARY KEY,
  core_id bigint NOT NULL,
  node_id bigint NOT NULL,
  envelope text NOT NULL,
  timeout_ms bigint NOT NULL,
  created_us bigint NOT NULL,
  taken_us bigint NOT NULL DEFAULT 0,
  answer text
);
CREATE INDEX core_commands_waiting ON core_commands(core_id) WHERE taken_us = 0;
)sql",
    // 2 -> 3: the writer sets each event's id itself and COPYs a batch
    // straight into `events` (a staging table only when the batch holds a
    // duplicate): one nextval reserves a block of kIdBlock ids. Blocks
    // start past every id handed out before (the sequence's last value is
    // at least every cached one), and a core still on the old default gets
    // one block start per row, never an id inside another core's block.
    R"sql(
ALTER SEQUENCE events_id_seq INCREMENT BY 65536 CACHE 1;
)sql",
    // 3 -> 4: `id` gets a B-tree. Through the BRIN index, reading the
    // newest rows by id (the ranges another core notified, get()) meant
    // reading every page not yet summarised, i.e. all of today's newest
    // rows: the planner chose a sequential scan of the day for every
    // notification, and with two cores that scan was most of the server's
    // CPU (docs/BENCHMARKS.md). Each core's ids ascend, so the B-tree takes
    // its rows at one or two right edges (its cost did not show against
    // BRIN's in psql). Building it reads every partition once, under a lock
    // that holds back inserts meanwhile.
    R"sql(
CREATE INDEX events_id ON events(id);
DROP INDEX events_id_brin;
)sql",
    // 4 -> 5: events' text is compressed with lz4 instead of pglz. A row
    // longer than ~2 kB (a Cowrie kex record, a long command) is compressed
    // as it is stored; pglz was 6 % of the writer backend's CPU in
    // bench/core_postgres with one event in eight that long, lz4 compresses
    // several times faster (docs/BENCHMARKS.md). Existing partitions are
    // set one by one (PostgreSQL 15 does not pass SET COMPRESSION down),
    // new ones copy it (ensure_partition: LIKE events INCLUDING COMPRESSION).
    // A server built without lz4 keeps pglz.
    R"sql(
DO $$
DECLARE
  t regclass;
  c name;
BEGIN
  FOR t IN SELECT 'events'::regclass UNION ALL
           SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'events'::regclass LOOP
    FOR c IN SELECT attname FROM pg_attribute
             WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped AND atttypid = 'text'::regtype LOOP
      EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', t, c);
    END LOOP;
  END LOOP;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL server has no lz4: events stay compressed with pglz';
END $$;
)sql",
    // 5 -> 6: the pot, event type and pot type indexes are keyed by the
    // value's hashtext() instead of the text. Every insert descends each
    // index comparing keys, and a text key costs a collation call, a detoast
    // and an uncached offset for the event_us after it; an int4 key does
    // not. In psql the server's CPU per stored event fell to 0.80-0.85 of
    // schema 5's (bench/core_postgres/layouts.sh, `hashkeys`). Queries ask
    // for the hash and then the text (build_where), so a collision costs a
    // row read, never a wrong answer. Building them reads every partition
    // once per index, holding back inserts meanwhile (the nodes spool).
    R"sql(
CREATE INDEX events_pot_key_time ON events(hashtext(pot_id), event_us);
CREATE INDEX events_type_key_time ON events(hashtext(event_type), event_us);
CREATE INDEX events_pot_type_key_time ON events(hashtext(pot_type), event_us);
DROP INDEX events_pot_time, events_type_time, events_pot_type_time;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

/// Ids one nextval('events_id_seq') reserves for the writer (migration 2 -> 3).
constexpr std::int64_t kIdBlock = 65536;

/// The columns a COPY fills after `id`, in the staging table's order.
constexpr const char* kInsertColumns =
    "event_id, received_us, event_us, node_id, pot_id, pot_type, event_type, src_ip, src_ip_bin, src_port, dst_ip, "
    "dst_port, username, password, command, session, url, message, raw";
constexpr const char* kEventColumns =
    "id, event_id, received_us, event_us, node_id, pot_id, pot_type, event_type, src_ip, src_port, dst_ip, dst_port, "
    "username, password, command, session, url, message, raw";
constexpr int kIdColumn = 0;       ///< in kEventColumns
constexpr int kEventUsColumn = 3;  ///< in kEventColumns
constexpr int kRawColumn = 18;     ///< in kEventColumns

// ---- text ----

/// A text value as a SQL literal (standard_conforming_strings is on in
/// every supported server): for the few statements without parameters.
std::string quote_literal(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    out.push_back(c);
    if (c == '\'') {
      out.push_back('\'');
    }
  }
  out.push_back('\'');
  return out;
}

// ---- days and partitions ----

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : (a + 1) / b - 1;
}

/// "events_p20261201" for the UTC day `day` (days since 1970-01-01).
std::string partition_name(std::int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day * 86'400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("events_p{:04}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/// The day of a partition's name, or nullopt for another table.
std::optional<std::int64_t> partition_day(std::string_view name) {
  if (!name.starts_with("events_p") || name.size() != 16) {
    return std::nullopt;
  }
  int ymd = 0;
  const auto digits = name.substr(8);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ymd);
  if (ec != std::errc{} || ptr != digits.data() + digits.size()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = ymd / 10000 - 1900;
  tm.tm_mon = ymd / 100 % 100 - 1;
  tm.tm_mday = ymd % 100;
  return static_cast<std::int64_t>(timegm(&tm)) / 86'400;
}

// ---- filters ----

/// A WHERE clause with its parameters numbered as they are added.
struct Where {
  std::string sql;  ///< " WHERE ..." or empty
  Params params;

  /// "$n" for a new text/integer parameter.
  template <class T>
  std::string param(T value) {
    params.add(std::move(value));
    return "$" + std::to_string(params.size());
  }
  std::string param_bytes(const Ip16& ip) {
    params.add_binary(ip.data(), ip.size());
    return "$" + std::to_string(params.size());
  }
  void add(std::string_view clause) {
    sql += sql.empty() ? " WHERE " : " AND ";
    sql += clause;
  }
};

/// `with_text`: false when the caller matches the free text itself (query()).
bool build_where(const EventFilter& f, Where& w, Error& error, bool with_text = true) {
  if (f.since_us) {
    w.add("event_us >= " + w.param(*f.since_us));
  }
  if (f.until_us) {
    w.add("event_us < " + w.param(*f.until_us));
  }
  if (f.node_id) {
    w.add("node_id = " + w.param(pg::to_db(*f.node_id)));
  }
  // The hash first, for the index (schema 6), then the text itself.
  const auto hashed_equal = [&w](std::string_view column, const std::string& value) {
    const auto p = w.param(value);
    w.add(fmt::format("hashtext({0}) = hashtext({1}) AND {0} = {1}", column, p));
  };
  if (!f.pot_id.empty()) {
    hashed_equal("pot_id", f.pot_id);
  }
  if (!f.pot_type.empty()) {
    hashed_equal("pot_type", f.pot_type);
  }
  if (!f.event_type.empty()) {
    hashed_equal("event_type", f.event_type);
  }
  if (!f.src.empty()) {
    Ip16 lo{}, hi{};
    if (!parse_cidr(f.src, lo, hi)) {
      error = Error{"src: not an IP address or CIDR: '" + f.src + "'", true};
      return false;
    }
    if (lo == hi) {
      w.add("src_ip_bin = " + w.param_bytes(lo));
    } else {
      const auto a = w.param_bytes(lo);
      w.add("src_ip_bin BETWEEN " + a + " AND " + w.param_bytes(hi));
    }
  }
  if (with_text && !f.text.empty()) {
    // The C collation folds ASCII letters only, as SQLite's LIKE does.
    w.add("raw COLLATE \"C\" ILIKE " + w.param(like_pattern(f.text)) + " ESCAPE '\\'");
  }
  return true;
}

StoredEvent read_event(const pg::Result& r, int row) {
  StoredEvent s;
  s.id = r.int64(row, 0);
  auto& e = s.event;
  e.event_id = r.null(row, 1) ? std::string() : r.text(row, 1);
  e.received_us = r.int64(row, 2);
  e.event_us = r.int64(row, 3);
  e.node_id = pg::from_db(r.int64(row, 4));
  e.pot_id = r.text(row, 5);
  e.pot_type = r.text(row, 6);
  e.event_type = r.text(row, 7);
  e.src_ip = r.text(row, 8);
  e.src_port = static_cast<std::int32_t>(r.int64(row, 9));
  e.dst_ip = r.text(row, 10);
  e.dst_port = static_cast<std::int32_t>(r.int64(row, 11));
  e.username = r.text(row, 12);
  e.password = r.text(row, 13);
  e.command = r.text(row, 14);
  e.session = r.text(row, 15);
  e.url = r.text(row, 16);
  e.message = r.text(row, 17);
  e.raw_json = r.text(row, 18);
  return s;
}

bool is_timeout(const pg::Result& r) {
  return r.sqlstate() == "57014";  // query_canceled: statement_timeout
}

// ---- the storage ----

/// A connection and the statement timeout it is set to.
struct Reader {
  Conn conn;
  std::int64_t timeout_ms = -1;
};

class PgStorage final : public Storage {
  /// One writer thread's own: its connection, what it knows of the day
  /// partitions, its block of ids. Writer 0 also runs the maintenance
  /// (partitions ahead, retention, old commands).
  struct Writer {
    std::size_t index = 0;
    Conn conn;
    std::set<std::int64_t> known_days;  ///< partitions known to exist
    std::int64_t id_next = 0;           ///< the next free id of its block
    std::int64_t id_end = 0;            ///< past its block
    std::thread thread;
  };

 public:
  explicit PgStorage(StorageOptions options) : options_(std::move(options)) {}

  ~PgStorage() override {
    queue_.stop();
    for (auto& w : writers_) {
      if (w->thread.joinable()) {
        w->thread.join();
      }
    }
    leave_cluster();
  }

  bool open(std::string& error) {
    const std::size_t writers =
        std::clamp<std::size_t>(options_.writers == 0 ? kPostgresWriters : options_.writers, 1, kMaxPostgresWriters);
    for (std::size_t i = 0; i < writers; ++i) {
      auto w = std::make_unique<Writer>();
      w->index = i;
      w->conn = connect(error);
      if (!w->conn) {
        return false;
      }
      if (i == 0 && !migrate(*w, error)) {
        return false;
      }
      if (!prepare_writer(*w)) {
        error = pg::errmsg(w->conn.get());
        return false;
      }
      writers_.push_back(std::move(w));
    }
    misc_ = connect(error);
    if (!misc_) {
      return false;
    }
    Writer& first = *writers_.front();
    ensure_partition(first, floor_div(unix_now_us(), kDayUs));
    ensure_partition(first, floor_div(unix_now_us(), kDayUs) + 1);
    for (auto& w : writers_) {
      w->thread = std::thread([this, &w = *w] {
        const std::string name = w.index == 0 ? "store-writer" : "store-writer" + std::to_string(w.index);
        name_this_thread(name.c_str());
        writer_loop(w);
      });
    }
    return true;
  }

  // ---- ingestion ----

  bool append(std::vector<events::Event>& batch, std::function<void(bool ok)> on_committed) override {
    return queue_.append(batch, std::move(on_committed));
  }

  void flush() override { queue_.flush(); }

  Counters counters() const override { return queue_.counters(); }

  // ---- events ----

  Result<EventPage> query(const EventQuery& q) override {
    return once_more_if_disconnected([&] { return query_impl(q, options_.query_timeout_ms); });
  }

  Result<StoredEvent> get(std::int64_t id) override {
    return once_more_if_disconnected([&] { return get_impl(id); });
  }

  Result<Stats> stats(const StatsQuery& q) override {
    return once_more_if_disconnected([&] { return stats_impl(q); });
  }

  Result<AttackerSummary> attacker_summary(const std::string& ip) override {
    return once_more_if_disconnected([&] { return attacker_impl(ip); });
  }

  Result<StoredEvent> get_impl(std::int64_t id) {
    Result<StoredEvent> result;
    auto lease = reader(result.error, options_.query_timeout_ms);
    if (!lease) {
      return result;
    }
    Params p;
    p.add(id);
    const auto r = p.exec(lease.conn(), std::string("SELECT ") + kEventColumns + " FROM events WHERE id = $1");
    if (!r.ok()) {
      result.error = lease.error("get", r);
    } else if (r.rows() == 0) {
      result.error = Error{"no event with id " + std::to_string(id), false, true};
    } else {
      result.value = read_event(r, 0);
    }
    return result;
  }

  Result<Stats> stats_impl(const StatsQuery& q) {
    Result<Stats> result;
    Where w;
    if (!build_where(q.filter, w, result.error)) {
      return result;
    }
    if (q.bucket_seconds <= 0) {
      result.error = Error{"bucket_seconds must be positive", true};
      return result;
    }
    auto lease = reader(result.error, options_.query_timeout_ms);
    if (!lease) {
      return result;
    }
    // Every figure in one statement and one read of the matching rows
    // (grouping sets); the server keeps each figure's top rows, so what
    // crosses the network is bounded by `top`, not by the distinct values.
    const std::int64_t bucket_us = q.bucket_seconds * 1'000'000;
    const auto top = static_cast<std::int64_t>(std::clamp<std::size_t>(q.top, 1, 1000));
    const auto b = w.param(bucket_us);
    const auto top_param = w.param(top);
    const std::string sql =
        "SELECT k, v, n FROM ("
        " SELECT k, v, n, row_number() OVER (PARTITION BY k ORDER BY n DESC, v COLLATE \"C\") AS r FROM ("
        "  SELECT CASE WHEN GROUPING(src_ip) = 0 THEN 1 WHEN GROUPING(username) = 0 THEN 2"
        "   WHEN GROUPING(password) = 0 THEN 3 WHEN GROUPING(command) = 0 THEN 4 WHEN GROUPING(pot_type) = 0 THEN 5"
        "   WHEN GROUPING(event_type) = 0 THEN 6 WHEN GROUPING(b) = 0 THEN 7 ELSE 0 END AS k,"
        "   COALESCE(src_ip, username, password, command, pot_type, event_type, b::text, '') AS v, count(*) AS n"
        "  FROM (SELECT src_ip, username, password, command, pot_type, event_type,"
        "   (CASE WHEN event_us >= 0 THEN event_us / " +
        b + " ELSE (event_us + 1) / " + b + " - 1 END) AS b FROM events" + w.sql +
        ") e"
        "  GROUP BY GROUPING SETS ((src_ip), (username), (password), (command), (pot_type), (event_type), (b), ())"
        " ) g WHERE k IN (0, 7) OR v <> ''"
        ") t WHERE k IN (0, 7) OR r <= CASE WHEN k IN (5, 6) THEN 1000 ELSE " +
        top_param + " END ORDER BY k, r";
    const auto r = w.params.exec(lease.conn(), sql);
    if (!r.ok()) {
      result.error = lease.error("stats", r);
      return result;
    }
    Stats st;
    std::array<std::vector<Count>*, 7> lists{nullptr,          &st.top_src_ips, &st.top_usernames, &st.top_passwords,
                                             &st.top_commands, &st.by_pot_type, &st.by_event_type};
    for (int i = 0; i < r.rows(); ++i) {
      const auto k = r.int64(i, 0);
      const auto n = static_cast<std::uint64_t>(r.int64(i, 2));
      if (k == 0) {
        st.total = n;
      } else if (k == 7) {
        st.buckets.emplace_back(r.int64(i, 1) * q.bucket_seconds, n);
      } else if (k > 0 && k < 7) {
        lists[static_cast<std::size_t>(k)]->push_back(Count{r.text(i, 1), n});
      }
    }
    std::sort(st.buckets.begin(), st.buckets.end());
    result.value = std::move(st);
    return result;
  }

  Result<AttackerSummary> attacker_impl(const std::string& ip) {
    Result<AttackerSummary> result;
    Ip16 bin{};
    if (ip.find('/') != std::string::npos || !ip_to_bin(ip, bin)) {
      result.error = Error{"not an IP address: '" + ip + "'", true};
      return result;
    }
    auto lease = reader(result.error, options_.query_timeout_ms);
    if (!lease) {
      return result;
    }
    PGconn* c = lease.conn();
    AttackerSummary a;
    // One snapshot for the totals and the lists. The BEGIN too can be cut
    // by the statement timeout (seen with 1 ms under ASan): a timeout then.
    if (const auto begun = pg::exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun.ok()) {
      result.error = lease.error("attacker", begun);
      return result;
    }
    Params p;
    p.add_binary(bin.data(), bin.size());
    const auto totals = p.exec(c, "SELECT count(*), min(event_us), max(event_us) FROM events WHERE src_ip_bin = $1");
    if (!totals.ok()) {
      result.error =
          lease.error("attacker", totals, "this address has too many events to summarise within the time limit");
      return result;
    }
    a.event_count = static_cast<std::uint64_t>(totals.int64(0, 0));
    if (a.event_count > 0) {
      a.first_us = totals.int64(0, 1);
      a.last_us = totals.int64(0, 2);
      a.summarised = std::min<std::uint64_t>(a.event_count, options_.attacker_summarised);
      // Every list in one statement over the address's newest rows (by the
      // source index, newest first: only those rows are read); each set of
      // the grouping is one list, told apart by which columns it fills.
      p.add(static_cast<std::int64_t>(options_.attacker_summarised));
      const auto g = p.exec(
          c,
          "WITH r AS MATERIALIZED (SELECT node_id, pot_id, pot_type, event_type, username, password, command, session, "
          "event_us FROM events WHERE src_ip_bin = $1 ORDER BY event_us DESC, id DESC LIMIT $2) "
          "SELECT node_id, pot_id, pot_type, event_type, username, password, command, session, count(*), "
          "min(event_us), max(event_us) FROM r GROUP BY GROUPING SETS ((node_id), (pot_id, pot_type), (event_type), "
          "(username, password), (command), (node_id, pot_id, session))");
      if (!g.ok()) {
        result.error =
            lease.error("attacker", g, "this address has too many events to summarise within the time limit");
        return result;
      }
      collect_attacker_lists(g, a);
    }
    pg::exec(c, "COMMIT");
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
    PGconn* c = misc();
    if (c == nullptr || !pg::exec(c, "BEGIN").ok()) {
      spdlog::error("store: save_node {}: {}", node.node_id, pg::errmsg(c));
      return;
    }
    Params n;
    n.add(pg::to_db(node.node_id))
        .add(node.name)
        .add(static_cast<std::int64_t>(node.port))
        .add(node.address)
        .add(node.node_type)
        .add(node.status)
        .add(node.first_seen_us)
        .add(node.last_seen_us);
    bool ok = n.exec(c,
                     "INSERT INTO nodes(node_id, name, port, address, node_type, status, first_seen_us, last_seen_us) "
                     "VALUES($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT(node_id) DO UPDATE SET name=excluded.name, "
                     "address=excluded.address, port=excluded.port, node_type=excluded.node_type, "
                     "status=excluded.status, first_seen_us=excluded.first_seen_us, "
                     "last_seen_us=excluded.last_seen_us")
                  .ok();
    if (ok) {
      Params d;
      d.add(pg::to_db(node.node_id));
      ok = d.exec(c, "DELETE FROM pots WHERE node_id = $1").ok();
    }
    for (const auto& pot : node.pots) {
      if (!ok) {
        break;
      }
      Params p;
      p.add(pg::to_db(node.node_id))
          .add(pot.pot_id)
          .add(pot.pot_type)
          .add(pot.status)
          .add(pot.message)
          .add(pot.updated_us);
      ok = p.exec(c,
                  "INSERT INTO pots(node_id, pot_id, pot_type, status, message, updated_us) VALUES($1,$2,$3,$4,$5,$6) "
                  "ON CONFLICT(node_id, pot_id) DO UPDATE SET pot_type=excluded.pot_type, status=excluded.status, "
                  "message=excluded.message, updated_us=excluded.updated_us")
               .ok();
    }
    if (!ok || !pg::exec(c, "COMMIT").ok()) {
      spdlog::error("store: save_node {}: {}", node.node_id, pg::errmsg(c));
      pg::exec(c, "ROLLBACK");
    }
  }

  std::vector<NodeRecord> load_nodes() override {
    std::vector<NodeRecord> nodes;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      spdlog::error("store: load_nodes: {}", error.message);
      return nodes;
    }
    PGconn* c = lease.conn();
    pg::exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::map<std::uint64_t, NodeRecord> by_id;
    const auto r =
        pg::exec(c, "SELECT node_id, name, address, port, node_type, status, first_seen_us, last_seen_us FROM nodes");
    for (int i = 0; i < r.rows(); ++i) {
      NodeRecord n;
      n.node_id = pg::from_db(r.int64(i, 0));
      n.name = r.text(i, 1);
      n.address = r.text(i, 2);
      n.port = static_cast<std::uint16_t>(r.int64(i, 3));
      n.node_type = r.text(i, 4);
      n.status = r.text(i, 5);
      n.first_seen_us = r.int64(i, 6);
      n.last_seen_us = r.int64(i, 7);
      by_id.emplace(n.node_id, std::move(n));
    }
    const auto p = pg::exec(c,
                            "SELECT node_id, pot_id, pot_type, status, message, updated_us FROM pots "
                            "ORDER BY node_id, pot_id COLLATE \"C\"");
    for (int i = 0; i < p.rows(); ++i) {
      auto it = by_id.find(pg::from_db(p.int64(i, 0)));
      if (it != by_id.end()) {
        it->second.pots.push_back(PotRecord{p.text(i, 1), p.text(i, 2), p.text(i, 3), p.text(i, 4), p.int64(i, 5)});
      }
    }
    pg::exec(c, "COMMIT");
    if (!r.ok() || !p.ok()) {
      spdlog::error("store: load_nodes: {}", pg::errmsg(c));
    }
    nodes.reserve(by_id.size());
    for (auto& [id, n] : by_id) {
      nodes.push_back(std::move(n));
    }
    return nodes;
  }

  // ---- tokens ----

  TokenRecord add_token(const std::string& name, const std::string& hash, const std::string& scope) override {
    std::lock_guard lk(misc_mu_);
    TokenRecord t;
    t.name = name;
    t.hash = hash;
    t.created_us = unix_now_us();
    t.scope = scope;
    Params p;
    p.add(name).add(hash).add(t.created_us).add(scope);
    t.id = insert_returning_id(p,
                               "INSERT INTO api_tokens(name, hash, created_us, revoked, scope) "
                               "VALUES($1,$2,$3,false,$4) RETURNING id",
                               "add_token '" + name + "'");
    return t;  // id 0: not stored
  }

  std::vector<TokenRecord> tokens() override { return select_tokens("", Params()); }

  bool revoke_token(const std::string& id_or_name) override {
    std::lock_guard lk(misc_mu_);
    PGconn* c = misc();
    if (c == nullptr) {
      return false;
    }
    std::int64_t id = 0;
    auto [ptr, ec] = std::from_chars(id_or_name.data(), id_or_name.data() + id_or_name.size(), id);
    if (!id_or_name.empty() && ec == std::errc{} && ptr == id_or_name.data() + id_or_name.size()) {
      Params p;
      p.add(id);
      if (p.exec(c, "UPDATE api_tokens SET revoked = true WHERE id = $1 AND NOT revoked").affected() > 0) {
        return true;
      }
    }
    Params p;
    p.add(id_or_name);
    return p.exec(c, "UPDATE api_tokens SET revoked = true WHERE name = $1 AND NOT revoked").affected() > 0;
  }

  std::optional<TokenRecord> find_token(const std::string& hash) override {
    Params p;
    p.add(hash);
    auto found = select_tokens(" WHERE hash = $1", p);
    if (found.empty()) {
      return std::nullopt;
    }
    return found.front();
  }

  // ---- node enrollment ----

  JoinTokenRecord add_join_token(const std::string& node_name, const std::string& hash,
                                 std::int64_t expires_us) override {
    std::lock_guard lk(misc_mu_);
    JoinTokenRecord t;
    t.node_name = node_name;
    t.hash = hash;
    t.created_us = unix_now_us();
    t.expires_us = expires_us;
    Params p;
    p.add(node_name).add(hash).add(t.created_us).add(expires_us);
    t.id = insert_returning_id(p,
                               "INSERT INTO join_tokens(node_name, hash, created_us, expires_us) "
                               "VALUES($1,$2,$3,$4) RETURNING id",
                               "add_join_token '" + node_name + "'");
    return t;  // id 0: not stored
  }

  std::vector<JoinTokenRecord> join_tokens() override { return select_join_tokens("", Params()); }

  std::variant<JoinTokenRecord, std::string> redeem_join_token(const std::string& hash, std::uint64_t node_id,
                                                               std::int64_t now_us) override {
    const std::string& clean_hash = hash;
    bool taken = false;
    {
      std::lock_guard lk(misc_mu_);
      PGconn* c = misc();
      if (c == nullptr) {
        return std::string("the core could not check the join token: the database is unreachable");
      }
      // One UPDATE decides: two nodes (or two cores) presenting the same
      // token at once cannot both take it (the row changes only while
      // unused and unexpired; the second UPDATE waits for the first's row
      // lock, then sees it used).
      Params p;
      p.add(now_us).add(static_cast<std::int64_t>(node_id)).add(clean_hash);
      const auto r = p.exec(
          c, "UPDATE join_tokens SET used_us = $1, used_by = $2 WHERE hash = $3 AND used_us = 0 AND expires_us > $1");
      if (!r.ok()) {
        return std::string("the core could not check the join token: ") + pg::errmsg(c);
      }
      taken = r.affected() > 0;
    }
    Params p;
    p.add(clean_hash);
    auto found = select_join_tokens(" WHERE hash = $1", p);
    return redeem_outcome(found, taken, node_id, now_us);
  }

  bool add_node_certificate(const NodeCertificateRecord& cert) override {
    std::lock_guard lk(misc_mu_);
    Params p;
    p.add(cert.serial)
        .add(static_cast<std::int64_t>(cert.node_id))
        .add(cert.node_name)
        .add(cert.issued_us)
        .add(cert.not_after_us)
        .add(cert.revoked_us);
    PGconn* c = misc();
    if (c != nullptr && p.exec(c,
                               "INSERT INTO node_certificates(serial, node_id, node_name, issued_us, not_after_us, "
                               "revoked_us) VALUES($1,$2,$3,$4,$5,$6)")
                            .ok()) {
      return true;
    }
    spdlog::error("store: add_node_certificate {}: {}", cert.node_id, pg::errmsg(c));
    return false;
  }

  std::vector<NodeCertificateRecord> node_certificates() override {
    std::vector<NodeCertificateRecord> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    const auto r = pg::exec(lease.conn(),
                            "SELECT serial, node_id, node_name, issued_us, not_after_us, revoked_us "
                            "FROM node_certificates ORDER BY issued_us");
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(NodeCertificateRecord{r.text(i, 0), static_cast<std::uint64_t>(r.int64(i, 1)), r.text(i, 2),
                                          r.int64(i, 3), r.int64(i, 4), r.int64(i, 5)});
    }
    return out;
  }

  int revoke_node_certificates(const std::string& node_or_serial, std::int64_t now_us) override {
    std::lock_guard lk(misc_mu_);
    PGconn* c = misc();
    if (c == nullptr) {
      return 0;
    }
    // A node id is a u64 stored as its int64 bit pattern (like nodes.node_id).
    std::uint64_t id = 0;
    const auto* end = node_or_serial.data() + node_or_serial.size();
    auto [ptr, ec] = std::from_chars(node_or_serial.data(), end, id);
    const bool is_id = !node_or_serial.empty() && ec == std::errc{} && ptr == end;
    Params p;
    p.add(now_us).add(node_or_serial).add(static_cast<std::int64_t>(id));
    p.add(std::string(is_id ? "true" : "false"));
    const auto r = p.exec(c,
                          "UPDATE node_certificates SET revoked_us = $1 WHERE revoked_us = 0 AND "
                          "(serial = $2 OR node_name = $2 OR ($4::boolean AND node_id = $3))");
    if (!r.ok()) {
      spdlog::error("store: revoke_node_certificates '{}': {}", node_or_serial, pg::errmsg(c));
      return 0;
    }
    return static_cast<int>(r.affected());
  }

  std::vector<std::pair<std::uint64_t, std::string>> node_totp_keys() override {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    const auto r = pg::exec(lease.conn(), "SELECT node_id, secret FROM node_totp");
    for (int i = 0; i < r.rows(); ++i) {
      out.emplace_back(static_cast<std::uint64_t>(r.int64(i, 0)), r.text(i, 1));
    }
    return out;
  }

  bool set_node_totp_key(std::uint64_t node_id, const std::string& key) override {
    std::lock_guard lk(misc_mu_);
    Params p;
    p.add(static_cast<std::int64_t>(node_id)).add(key);
    PGconn* c = misc();
    if (c != nullptr &&
        p.exec(c,
               "INSERT INTO node_totp(node_id, secret) VALUES($1,$2) ON CONFLICT(node_id) DO UPDATE SET "
               "secret=excluded.secret")
            .ok()) {
      return true;
    }
    spdlog::error("store: set_node_totp_key {}: {}", node_id, pg::errmsg(c));
    return false;
  }

  // ---- audit log ----

  void audit(const AuditRecord& rec) override {
    std::lock_guard lk(misc_mu_);
    Params p;
    p.add(rec.time_us != 0 ? rec.time_us : unix_now_us())
        .add(rec.actor)
        .add(rec.action)
        .add(rec.target)
        .add(rec.outcome);
    PGconn* c = misc();
    if (c != nullptr &&
        p.exec(c, "INSERT INTO audit_log(time_us, actor, action, target, outcome) VALUES($1,$2,$3,$4,$5)").ok()) {
      // Bounded: the newest kAuditKeep records are kept.
      if (++audit_inserts_ % 1024 == 0) {
        pg::exec(c,
                 "DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - " + std::to_string(kAuditKeep));
      }
      return;
    }
    spdlog::error("store: audit {} {}: {}", rec.action, rec.target, pg::errmsg(c));
  }

  std::vector<AuditRecord> audit_log(std::size_t limit, std::int64_t before) override {
    std::vector<AuditRecord> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    Params p;
    p.add(before).add(static_cast<std::int64_t>(limit));
    const auto r = p.exec(lease.conn(),
                          "SELECT id, time_us, actor, action, target, outcome FROM audit_log "
                          "WHERE $1 = 0 OR id < $1 ORDER BY id DESC LIMIT $2");
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(AuditRecord{r.int64(i, 0), r.int64(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5)});
    }
    return out;
  }

  // ---- several cores on one database ----

  bool shared() const override { return true; }

  void join_cluster(std::uint64_t core_id, ClusterHandlers handlers) override {
    {
      std::lock_guard lk(listener_mu_);
      if (listener_.joinable() || core_id == 0) {
        return;
      }
      handlers_ = std::move(handlers);
    }
    core_id_.store(core_id);
    listener_ = std::thread([this] {
      name_this_thread("store-listen");
      listener_loop();
    });
  }

  void leave_cluster() override {
    {
      std::lock_guard lk(listener_mu_);
      listener_stop_ = true;
    }
    listener_cv_.notify_all();
    if (listener_.joinable()) {
      listener_.join();
    }
    if (const auto me = core_id_.exchange(0); me != 0) {
      // Leaving: the other cores see this core's nodes offline at once
      // rather than after kCoreAlive.
      std::lock_guard lk(misc_mu_);
      if (PGconn* c = misc()) {
        Params p;
        p.add(static_cast<std::int64_t>(me));
        p.exec(c, "DELETE FROM node_presence WHERE core_id = $1");
        p.exec(c, "DELETE FROM cores WHERE core_id = $1");
      }
    }
  }

  void set_node_presence(std::uint64_t node_id, bool connected) override {
    const auto me = core_id_.load();
    if (me == 0) {
      return;
    }
    std::lock_guard lk(misc_mu_);
    PGconn* c = misc();
    if (c == nullptr) {
      return;
    }
    Params p;
    p.add(pg::to_db(node_id)).add(static_cast<std::int64_t>(me));
    if (connected) {
      p.add(unix_now_us());
      p.exec(c,
             "INSERT INTO node_presence(node_id, core_id, since_us) VALUES($1,$2,$3) ON CONFLICT(node_id) DO UPDATE "
             "SET core_id = excluded.core_id, since_us = excluded.since_us");
    } else {
      p.exec(c, "DELETE FROM node_presence WHERE node_id = $1 AND core_id = $2");
    }
  }

  std::map<std::uint64_t, std::uint64_t> node_presence() override {
    std::map<std::uint64_t, std::uint64_t> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    Params p;
    p.add(unix_now_us() - kCoreAliveUs);
    const auto r = p.exec(lease.conn(),
                          "SELECT p.node_id, p.core_id FROM node_presence p JOIN cores c ON c.core_id = p.core_id "
                          "WHERE c.heartbeat_us > $1");
    for (int i = 0; i < r.rows(); ++i) {
      out.emplace(pg::from_db(r.int64(i, 0)), static_cast<std::uint64_t>(r.int64(i, 1)));
    }
    return out;
  }

  std::int64_t send_command(std::uint64_t core_id, std::uint64_t node_id, const std::string& envelope,
                            std::int64_t timeout_ms) override {
    std::lock_guard lk(misc_mu_);
    PGconn* c = misc();
    if (c == nullptr) {
      return 0;
    }
    Params p;
    p.add(static_cast<std::int64_t>(core_id))
        .add(pg::to_db(node_id))
        .add(envelope)
        .add(timeout_ms)
        .add(unix_now_us())
        .add(std::to_string(core_id));
    const auto r = p.exec(c,
                          "WITH c AS (INSERT INTO core_commands(core_id, node_id, envelope, timeout_ms, created_us) "
                          "VALUES($1,$2,$3,$4,$5) RETURNING id) SELECT id, pg_notify('honeycomb_commands', $6) FROM c");
    return r.ok() && r.rows() == 1 ? r.int64(0, 0) : 0;
  }

  std::vector<RemoteCommand> take_commands() override {
    std::vector<RemoteCommand> out;
    const auto me = core_id_.load();
    std::lock_guard lk(misc_mu_);
    PGconn* c = misc();
    if (me == 0 || c == nullptr) {
      return out;
    }
    Params p;
    p.add(static_cast<std::int64_t>(me)).add(unix_now_us());
    const auto r = p.exec(c,
                          "UPDATE core_commands SET taken_us = $2 WHERE core_id = $1 AND taken_us = 0 "
                          "RETURNING id, node_id, envelope, timeout_ms");
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(RemoteCommand{r.int64(i, 0), pg::from_db(r.int64(i, 1)), r.text(i, 2), r.int64(i, 3)});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  void answer_command(std::int64_t id, const std::string& answer_json) override {
    std::lock_guard lk(misc_mu_);
    if (PGconn* c = misc()) {
      Params p;
      p.add(id).add(answer_json);
      p.exec(c, "UPDATE core_commands SET answer = $2 WHERE id = $1");
    }
  }

  std::optional<std::string> command_answer(std::int64_t id) override {
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return std::nullopt;
    }
    Params p;
    p.add(id);
    const auto r = p.exec(lease.conn(), "SELECT answer FROM core_commands WHERE id = $1 AND answer IS NOT NULL");
    if (r.rows() != 1) {
      return std::nullopt;
    }
    return r.text(0, 0);
  }

  std::int64_t used_bytes() override {
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return -1;
    }
    return database_size(lease.conn());
  }

 private:
  // ---- connections ----

  /// A new connection with the session settings every one needs. The
  /// URI's own settings win over our defaults (a connect timeout).
  Conn connect(std::string& error) const {
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "honeycomb-core", options_.postgres_uri.c_str(), nullptr};
    Conn c(pg::lib().PQconnectdbParams(keys, values, /*expand_dbname=*/1));
    if (!c || pg::lib().PQstatus(c.get()) != CONNECTION_OK) {
      error = "PostgreSQL: " + pg::errmsg(c.get());
      return Conn();
    }
    // UTC and UTF-8 whatever the server's defaults; NOTICEs (IF NOT EXISTS
    // ...) are not errors and do not go to stderr. No JIT: the planner
    // costs a cursor or a statistics query over every day partition high
    // enough to compile it, which took 1.5 s per query on a 10 M-event store
    // where the query itself runs in milliseconds (bench/core_postgres).
    pg::lib().PQsetNoticeProcessor(
        c.get(), [](void*, const char*) {}, nullptr);
    if (!pg::exec(c.get(), "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'; SET jit = off; SET lock_timeout = " +
                               std::to_string(std::max(options_.busy_timeout_ms, 1)))
             .ok()) {
      error = "PostgreSQL: " + pg::errmsg(c.get());
      return Conn();
    }
    return c;
  }

  /// The registry/token connection, re-established when it broke; nullptr
  /// while the database is unreachable. Under misc_mu_.
  PGconn* misc() {
    if (pg::alive(misc_.get())) {
      return misc_.get();
    }
    std::string error;
    misc_ = connect(error);
    if (!misc_) {
      spdlog::warn("store: {}", error);
    }
    return misc_.get();
  }

  /// Set by Lease::error() when the statement failed because the
  /// connection broke (the server restarted since it was pooled).
  static inline thread_local bool connection_lost = false;

  /// A read whose connection broke under it is tried once more, on a new
  /// connection: a database restart costs the caller nothing then.
  template <class Read>
  static std::invoke_result_t<Read&> once_more_if_disconnected(Read&& read) {
    connection_lost = false;
    auto result = read();
    if (!result && std::exchange(connection_lost, false)) {
      result = read();
    }
    return result;
  }

  /// An INSERT ... RETURNING id on the registry connection (under
  /// misc_mu_): the new row's id, or 0 (logged as `what`).
  std::int64_t insert_returning_id(const Params& p, const std::string& sql, const std::string& what) {
    PGconn* c = misc();
    const auto r = c == nullptr ? pg::Result() : p.exec(c, sql);
    if (r.ok() && r.rows() == 1) {
      return r.int64(0, 0);
    }
    spdlog::error("store: {}: {}", what, pg::errmsg(c));
    return 0;
  }

  /// A pooled read connection, returned on destruction.
  class Lease {
   public:
    Lease(PgStorage* owner, Reader r) : owner_(owner), r_(std::move(r)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (r_.conn) {
        owner_->release(std::move(r_));
      }
    }
    PGconn* conn() const { return r_.conn.get(); }
    explicit operator bool() const { return static_cast<bool>(r_.conn); }
    /// A failed statement as the caller reports it: a timeout when
    /// statement_timeout cancelled it, else the database's message.
    Error error(std::string_view what, const pg::Result& r,
                std::string_view hint = "narrow it (since/until, pot, event type)") const {
      if (is_timeout(r)) {
        return Error{
            std::string(what) + ": took longer than " + std::to_string(r_.timeout_ms) + " ms; " + std::string(hint),
            false, false, true};
      }
      if (pg::lib().PQstatus(conn()) == CONNECTION_BAD) {
        connection_lost = true;
      }
      return Error{std::string(what) + ": " + pg::errmsg(conn())};
    }

   private:
    PgStorage* owner_;
    Reader r_;
  };

  /// A read connection whose statement_timeout is `timeout_ms` (0: none).
  Lease reader(Error& error, std::int64_t timeout_ms) {
    Reader r;
    {
      std::lock_guard lk(pool_mu_);
      if (!pool_.empty()) {
        r = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (r.conn && !pg::alive(r.conn.get())) {
      r = Reader();  // broken while pooled (a database restart)
    }
    if (!r.conn) {
      std::string message;
      r.conn = connect(message);
      if (!r.conn) {
        error = Error{message};
        return Lease(this, Reader());
      }
    }
    if (r.timeout_ms != timeout_ms) {
      if (!pg::exec(r.conn.get(), "SET statement_timeout = " + std::to_string(std::max<std::int64_t>(timeout_ms, 0)))
               .ok()) {
        error = Error{"PostgreSQL: " + pg::errmsg(r.conn.get())};
        return Lease(this, Reader());
      }
      r.timeout_ms = timeout_ms;
    }
    return Lease(this, std::move(r));
  }

  void release(Reader r) {
    if (pg::lib().PQstatus(r.conn.get()) != CONNECTION_OK) {
      return;
    }
    if (pg::lib().PQtransactionStatus(r.conn.get()) != PQTRANS_IDLE) {
      pg::exec(r.conn.get(), "ROLLBACK");  // never pool a connection inside a transaction
    }
    std::lock_guard lk(pool_mu_);
    if (pool_.size() < kMaxPooledReaders) {
      pool_.push_back(std::move(r));
    }
  }

  static std::int64_t database_size(PGconn* c) {
    const auto r = pg::exec(c, "SELECT pg_database_size(current_database())");
    return r.ok() && r.rows() == 1 ? r.int64(0, 0) : -1;
  }

  // ---- queries ----

  Result<EventPage> query_impl(const EventQuery& q, std::int64_t timeout_ms) {
    Result<EventPage> result;
    Where w;
    // Free text is matched here, row by row, not by ILIKE: the scan can
    // then stop at its time budget and say where it stopped
    // (EventPage::partial), as on SQLite.
    const bool scan_text = !q.filter.text.empty();
    if (!build_where(q.filter, w, result.error, /*with_text=*/false)) {
      return result;
    }
    if (!q.cursor.empty()) {
      std::int64_t cursor_us = 0, cursor_id = 0;
      if (!parse_cursor(q.cursor, cursor_us, cursor_id)) {
        result.error = Error{"bad cursor", true};
        return result;
      }
      // The first conjunct is an index range on event_us; the second breaks ties by id.
      const auto us = w.param(cursor_us);
      w.add("event_us <= " + us + " AND (event_us < " + us + " OR id < " + w.param(cursor_id) + ")");
    }
    const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
    auto lease = reader(result.error, timeout_ms);
    if (!lease) {
      return result;
    }
    PGconn* c = lease.conn();
    const std::string select =
        std::string("SELECT ") + kEventColumns + " FROM events" + w.sql + " ORDER BY event_us DESC, id DESC";
    EventPage page;
    if (!scan_text) {
      const auto r = w.params.exec(c, select + " LIMIT " + std::to_string(limit + 1));
      if (!r.ok()) {
        result.error = lease.error("query", r);
        return result;
      }
      for (int i = 0; i < r.rows() && page.events.size() < limit; ++i) {
        page.events.push_back(read_event(r, i));
      }
      if (static_cast<std::size_t>(r.rows()) > limit) {
        const auto& last = page.events.back();
        page.next_cursor = make_cursor(last.event.event_us, last.id);
      }
      result.value = std::move(page);
      return result;
    }
    // A cursor read in slices: the clock is checked between them.
    if (!pg::exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").ok()) {
      result.error = Error{"query: " + pg::errmsg(c)};
      return result;
    }
    const auto declared = w.params.exec(c, "DECLARE scan NO SCROLL CURSOR FOR " + select);
    if (!declared.ok()) {
      result.error = lease.error("query", declared);
      return result;
    }
    const TextMatcher text(q.filter.text);
    const auto started = std::chrono::steady_clock::now();
    const auto scan_until = started + std::chrono::milliseconds(q.text_scan_ms);
    const auto give_up = started + std::chrono::milliseconds(timeout_ms);
    const std::string fetch = "FETCH " + std::to_string(kScanFetch) + " FROM scan";
    bool done = false;
    while (!done) {
      const auto r = pg::exec(c, fetch);
      if (!r.ok()) {
        result.error = lease.error("query", r);
        return result;
      }
      for (int i = 0; i < r.rows(); ++i) {
        if (!text.matches(r.text_view(i, kRawColumn))) {
          continue;
        }
        if (page.events.size() == limit) {
          const auto& last = page.events.back();
          page.next_cursor = make_cursor(last.event.event_us, last.id);
          done = true;
          break;
        }
        page.events.push_back(read_event(r, i));
      }
      if (done || r.rows() < kScanFetch) {
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (q.text_scan_ms > 0 && now >= scan_until) {
        page.partial = true;
        const auto last = r.rows() - 1;
        page.next_cursor = make_cursor(r.int64(last, kEventUsColumn), r.int64(last, kIdColumn));
        break;
      }
      if (timeout_ms > 0 && now >= give_up) {
        result.error = Error{
            "query: took longer than " + std::to_string(timeout_ms) + " ms; narrow it (since/until, pot, event type)",
            false, false, true};
        return result;
      }
    }
    pg::exec(c, "COMMIT");
    result.value = std::move(page);
    return result;
  }

  /// The grouping sets of attacker_summary(), each into its list, ordered
  /// and cut as on SQLite.
  static void collect_attacker_lists(const pg::Result& g, AttackerSummary& a) {
    enum Col { kNode, kPot, kPotType, kType, kUser, kPassword, kCommand, kSession, kCount, kMin, kMax };
    for (int i = 0; i < g.rows(); ++i) {
      const auto n = static_cast<std::uint64_t>(g.int64(i, kCount));
      if (!g.null(i, kSession)) {
        if (!g.text_view(i, kSession).empty()) {
          a.sessions.push_back({g.text(i, kSession), g.text(i, kPot), pg::from_db(g.int64(i, kNode)), g.int64(i, kMin),
                                g.int64(i, kMax), n});
        }
      } else if (!g.null(i, kNode)) {
        a.nodes.push_back({pg::from_db(g.int64(i, kNode)), n});
      } else if (!g.null(i, kPotType)) {
        a.pots.push_back({g.text(i, kPot), g.text(i, kPotType), n});
      } else if (!g.null(i, kType)) {
        a.event_types.push_back({g.text(i, kType), n});
      } else if (!g.null(i, kUser)) {
        if (!g.text_view(i, kUser).empty()) {
          a.credentials.push_back({g.text(i, kUser), g.text(i, kPassword), n});
        }
      } else if (!g.null(i, kCommand) && !g.text_view(i, kCommand).empty()) {
        a.commands.push_back({g.text(i, kCommand), n});
      }
    }
    const auto cut = [](auto& list, std::size_t max, auto order) {
      std::sort(list.begin(), list.end(), order);
      if (list.size() > max) {
        list.resize(max);
      }
    };
    cut(a.nodes, kAttackerGroups,
        [](const auto& x, const auto& y) { return x.count != y.count ? x.count > y.count : x.node_id < y.node_id; });
    cut(a.pots, kAttackerGroups,
        [](const auto& x, const auto& y) { return x.count != y.count ? x.count > y.count : x.pot_id < y.pot_id; });
    cut(a.event_types, kAttackerGroups,
        [](const auto& x, const auto& y) { return x.count != y.count ? x.count > y.count : x.key < y.key; });
    cut(a.credentials, kAttackerTop, [](const auto& x, const auto& y) {
      return std::tie(y.count, x.username, x.password) < std::tie(x.count, y.username, y.password);
    });
    cut(a.commands, kAttackerTop,
        [](const auto& x, const auto& y) { return x.count != y.count ? x.count > y.count : x.key < y.key; });
    cut(a.sessions, kAttackerTop, [](const auto& x, const auto& y) {
      return x.last_us != y.last_us ? x.last_us > y.last_us : x.session < y.session;
    });
  }

  std::vector<TokenRecord> select_tokens(const std::string& where, const Params& params) {
    std::vector<TokenRecord> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    const auto r = params.exec(
        lease.conn(), "SELECT id, name, hash, created_us, revoked, scope FROM api_tokens" + where + " ORDER BY id");
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(TokenRecord{r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3), r.text_view(i, 4) == "t",
                                r.text(i, 5)});
    }
    return out;
  }

  std::vector<JoinTokenRecord> select_join_tokens(const std::string& where, const Params& params) {
    std::vector<JoinTokenRecord> out;
    Error error;
    auto lease = reader(error, options_.query_timeout_ms);
    if (!lease) {
      return out;
    }
    const auto r = params.exec(
        lease.conn(), "SELECT id, node_name, hash, created_us, expires_us, used_us, used_by FROM join_tokens" + where +
                          " ORDER BY id");
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(JoinTokenRecord{r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3), r.int64(i, 4),
                                    r.int64(i, 5), static_cast<std::uint64_t>(r.int64(i, 6))});
    }
    return out;
  }

  // ---- schema ----

  bool migrate(Writer& w, std::string& error) {
    PGconn* c = w.conn.get();
    // Two cores starting on one database: one migrates, the other waits
    // and then finds the schema current.
    if (!pg::exec(c, "SELECT pg_advisory_lock(" + std::to_string(kDdlLockKey) + ")").ok()) {
      error = "PostgreSQL: " + pg::errmsg(c);
      return false;
    }
    const bool ok = migrate_locked(w, error);
    pg::exec(c, "SELECT pg_advisory_unlock(" + std::to_string(kDdlLockKey) + ")");
    return ok;
  }

  bool migrate_locked(Writer& w, std::string& error) {
    PGconn* c = w.conn.get();
    if (!pg::exec(c, "CREATE TABLE IF NOT EXISTS honeycomb_schema(version integer NOT NULL)").ok()) {
      error = "PostgreSQL: " + pg::errmsg(c);
      return false;
    }
    auto r = pg::exec(c, "SELECT version FROM honeycomb_schema");
    if (!r.ok()) {
      error = "PostgreSQL: " + pg::errmsg(c);
      return false;
    }
    std::int64_t version = 0;
    if (r.rows() == 0) {
      if (!pg::exec(c, "INSERT INTO honeycomb_schema(version) VALUES(0)").ok()) {
        error = "PostgreSQL: " + pg::errmsg(c);
        return false;
      }
    } else {
      version = r.int64(0, 0);
    }
    if (version > kSchemaVersion) {
      error = "PostgreSQL: schema version " + std::to_string(version) + " is newer than this build's (" +
              std::to_string(kSchemaVersion) + ")";
      return false;
    }
    for (auto v = version; v < kSchemaVersion; ++v) {
      if (version > 0) {
        spdlog::info("PostgreSQL: migrating the schema from version {} to {}", v, v + 1);
      }
      const std::string step = std::string("BEGIN;") + kMigrations[v] +
                               "UPDATE honeycomb_schema SET version = " + std::to_string(v + 1) + ";COMMIT;";
      if (!pg::exec(c, step).ok()) {
        error = "PostgreSQL: migration to schema " + std::to_string(v + 1) + ": " + pg::errmsg(c);
        pg::exec(c, "ROLLBACK");
        return false;
      }
    }
    // Step 4 -> 5 leaves pglz on a server without lz4 (its NOTICE is not
    // shown): said here, on every start, since it costs the writer CPU.
    const auto compression = pg::exec(c,
                                      "SELECT attcompression FROM pg_attribute "
                                      "WHERE attrelid = 'events'::regclass AND attname = 'raw'");
    if (compression.ok() && compression.rows() == 1 && compression.text(0, 0) != "l") {
      spdlog::warn(
          "PostgreSQL: this server has no lz4, so long events are compressed with pglz, which costs the writer more "
          "CPU (docs/EVENTS.md § Compression)");
    }
    return true;
  }

  /// The writer connection's own staging table (temporary: per connection),
  /// made again after a reconnect.
  static bool prepare_writer(Writer& w) {
    return pg::exec(w.conn.get(),
                    "CREATE TEMP TABLE IF NOT EXISTS events_stage(id bigint NOT NULL, event_id text, "
                    "received_us bigint, event_us bigint, node_id bigint, pot_id text, pot_type text, "
                    "event_type text, src_ip text, src_ip_bin bytea, src_port integer, dst_ip text, dst_port integer, "
                    "username text, password text, command text, session text, url text, message text, raw text) "
                    "ON COMMIT DELETE ROWS")
        .ok();
  }

  /// The writer's connection, re-established when it broke.
  bool writer_ready(Writer& w) {
    if (pg::alive(w.conn.get())) {
      return true;
    }
    std::string error;
    w.conn = connect(error);
    if (!w.conn || !prepare_writer(w)) {
      spdlog::warn("store: writer: {}", w.conn ? pg::errmsg(w.conn.get()) : error);
      w.conn.reset();
      return false;
    }
    w.known_days.clear();
    spdlog::info("store: reconnected to PostgreSQL");
    return true;
  }

  /// Makes the partition of `day` when it does not exist, moving the rows
  /// the default partition holds for that day into it. Any core may do it:
  /// the advisory lock and the existence check make it once. Failure is not
  /// fatal: that day's events go to the default partition meanwhile.
  void ensure_partition(Writer& w, std::int64_t day) {
    if (w.known_days.contains(day)) {
      return;
    }
    PGconn* c = w.conn.get();
    const auto name = partition_name(day);
    const auto lo = std::to_string(day * kDayUs);
    const auto hi = std::to_string((day + 1) * kDayUs);
    const std::string sql = "BEGIN; SET LOCAL lock_timeout = " + std::to_string(kDdlLockTimeoutMs) +
                            "; SELECT pg_advisory_xact_lock(" + std::to_string(kDdlLockKey) +
                            "); DO $$ BEGIN IF to_regclass(" + quote_literal(name) +
                            ") IS NULL THEN "
                            "CREATE TABLE " +
                            name +
                            " (LIKE events INCLUDING DEFAULTS INCLUDING COMPRESSION); "
                            "WITH moved AS (DELETE FROM events_default WHERE event_us >= " +
                            lo + " AND event_us < " + hi + " RETURNING *) INSERT INTO " + name +
                            " SELECT * FROM moved; "
                            "ALTER TABLE events ATTACH PARTITION " +
                            name + " FOR VALUES FROM (" + lo + ") TO (" + hi +
                            "); "
                            "END IF; END $$; COMMIT;";
    if (pg::exec(c, sql).ok()) {
      w.known_days.insert(day);
      return;
    }
    spdlog::warn("store: partition {}: {}", name, pg::errmsg(c));
    pg::exec(c, "ROLLBACK");
  }

  /// Partitions for the days of this batch's events within the window.
  void ensure_partitions(Writer& w, const std::vector<PendingBatch>& work) {
    const auto now = unix_now_us();
    const auto today = floor_div(now, kDayUs);
    // Days retention would drop at once are not made again for a late event
    // (it goes to the default partition, whose old rows retention deletes).
    auto first_day = today - kPartitionPastDays;
    if (options_.retention_days > 0) {
      first_day = std::max(first_day, floor_div(now - options_.retention_days * kDayUs, kDayUs));
    }
    std::set<std::int64_t> days;
    for (const auto& p : work) {
      for (const auto& e : p.events) {
        const auto day = floor_div(e.event_us, kDayUs);
        if (day >= first_day && day <= today + kPartitionFutureDays && !w.known_days.contains(day)) {
          days.insert(day);
        }
      }
    }
    for (const auto day : days) {
      ensure_partition(w, day);
    }
  }

  /// The day partitions that exist now, oldest first.
  static std::vector<std::pair<std::int64_t, std::string>> day_partitions(Writer& w) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    const auto r = pg::exec(w.conn.get(),
                            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = 'events'::regclass");
    for (int i = 0; i < r.rows(); ++i) {
      const auto name = r.text(i, 0);
      if (const auto day = partition_day(name)) {
        out.emplace_back(*day, name);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // ---- the listener thread (several cores) ----
  //
  // Its own connection LISTENs for the other cores' commits and for
  // commands to this core, and keeps this core's heartbeat. Notifications
  // sent while it is reconnecting are missed: the WebSocket stream is live,
  // not a record (the store has every event); commands are also found by
  // the core's periodic take_commands().

  void listener_loop() {
    using clock = std::chrono::steady_clock;
    Conn c;
    auto next_beat = clock::now();
    const auto me = static_cast<std::int64_t>(core_id_.load());
    while (true) {
      {
        std::unique_lock lk(listener_mu_);
        if (listener_stop_) {
          break;
        }
      }
      if (!pg::alive(c.get())) {
        std::string error;
        c = connect(error);
        if (!c || !pg::exec(c.get(), "LISTEN honeycomb_events; LISTEN honeycomb_commands").ok()) {
          spdlog::warn("store: cluster listener: {}", c ? pg::errmsg(c.get()) : error);
          c.reset();
          std::unique_lock lk(listener_mu_);
          listener_cv_.wait_for(lk, std::chrono::milliseconds(500), [&] { return listener_stop_; });
          continue;
        }
        next_beat = clock::now();
      }
      if (clock::now() >= next_beat) {
        Params p;
        p.add(me).add(unix_now_us());
        p.exec(c.get(),
               "INSERT INTO cores(core_id, started_us, heartbeat_us) VALUES($1,$2,$2) ON CONFLICT(core_id) DO "
               "UPDATE SET heartbeat_us = excluded.heartbeat_us");
        next_beat = clock::now() + kCoreBeat;
      }
      pollfd fd{pg::lib().PQsocket(c.get()), POLLIN, 0};
      if (fd.fd < 0 || ::poll(&fd, 1, 250) < 0) {
        continue;
      }
      if (pg::lib().PQconsumeInput(c.get()) == 0) {
        continue;  // broken: reconnect above
      }
      while (PGnotify* n = pg::lib().PQnotifies(c.get())) {
        const std::string channel = n->relname;
        const std::string payload = n->extra;
        pg::lib().PQfreemem(n);
        on_notification(c.get(), channel, payload);
      }
    }
  }

  void on_notification(PGconn* c, std::string_view channel, std::string_view payload) {
    const auto me = core_id_.load();
    std::uint64_t from = 0;
    const auto space = payload.find(' ');
    const auto head = payload.substr(0, space);
    if (std::from_chars(head.data(), head.data() + head.size(), from).ec != std::errc{}) {
      return;
    }
    if (channel == "honeycomb_commands") {
      if (from == me && handlers_.commands_waiting) {
        handlers_.commands_waiting();
      }
      return;
    }
    if (channel != "honeycomb_events" || from == me || !handlers_.remote_events || space == std::string_view::npos) {
      return;
    }
    // "<core> lo-hi lo-hi ...": read those rows back, oldest first.
    std::vector<StoredEvent> events;
    auto rest = payload.substr(space + 1);
    while (!rest.empty()) {
      const auto next = rest.find(' ');
      const auto range = rest.substr(0, next);
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
      const auto dash = range.find('-');
      std::int64_t lo = 0, hi = 0;
      if (dash == std::string_view::npos || std::from_chars(range.data(), range.data() + dash, lo).ec != std::errc{} ||
          std::from_chars(range.data() + dash + 1, range.data() + range.size(), hi).ec != std::errc{} || hi < lo ||
          hi - lo >= kRemoteRangeMax) {
        continue;
      }
      Params p;
      p.add(lo).add(hi);
      const auto r =
          p.exec(c, std::string("SELECT ") + kEventColumns + " FROM events WHERE id BETWEEN $1 AND $2 ORDER BY id");
      for (int i = 0; i < r.rows(); ++i) {
        events.push_back(read_event(r, i));
      }
    }
    if (!events.empty()) {
      handlers_.remote_events(std::move(events));
    }
  }

  // ---- writer thread ----

  void writer_loop(Writer& w) {
    using clock = std::chrono::steady_clock;
    const bool retention_on = options_.retention_days > 0 || options_.retention_max_mb > 0;
    const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(options_.retention_interval_ms, 1));
    auto next_maintenance = clock::now();  // once at open
    bool retention_pending = false;
    WriterWork work;
    while (true) {
      if (!queue_.take(work, batch_limit_, retention_pending ? clock::now() : next_maintenance)) {
        break;
      }
      if (!work.empty()) {
        commit(w, work);
      }
      if (retention_pending || clock::now() >= next_maintenance) {
        if (!retention_pending) {
          next_maintenance = clock::now() + interval;
          // The cache forgets partitions other cores (or writer 0) dropped.
          w.known_days.clear();
          if (w.index == 0 && writer_ready(w)) {
            // Tomorrow's partition before the first event of tomorrow.
            const auto today = floor_div(unix_now_us(), kDayUs);
            ensure_partition(w, today);
            ensure_partition(w, today + 1);
            // Old commands and answers; cores gone for a day.
            Params p;
            p.add(unix_now_us() - kCommandKeepUs).add(unix_now_us() - kDayUs);
            p.exec(w.conn.get(),
                   "WITH a AS (DELETE FROM core_commands WHERE created_us < $1) DELETE FROM cores WHERE heartbeat_us < "
                   "$2");
          }
        }
        retention_pending = w.index == 0 && retention_on && writer_ready(w) && retention_step(w);
      }
    }
  }

  void commit(Writer& w, WriterWork& work) {
    const std::size_t events = work.events;
    std::uint64_t stored = 0;
    bool ok = false;
    auto backoff = std::chrono::milliseconds(10);
    const int attempts = std::max(options_.commit_attempts, 1);
    std::string copy;
    std::string last_error;
    ok = events == 0;  // only callbacks to run
    for (int attempt = 0; attempt < attempts && !ok; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(backoff);
        backoff *= 4;
      }
      if (!writer_ready(w)) {
        last_error = "the database is unreachable";
        continue;
      }
      ensure_partitions(w, work.batches);
      // Fresh ids on every attempt: a commit whose answer was lost may have
      // stored the rows, and an id is never given to two rows.
      IdRanges ids;
      if (!take_ids(w, events, ids)) {
        last_error = pg::errmsg(w.conn.get());
        continue;
      }
      copy.clear();
      encode_copy(work.batches, ids, copy);
      const auto inserted = copy_in(w, copy, events, ids);
      if (inserted >= 0) {
        stored = static_cast<std::uint64_t>(inserted);
        ok = true;
        break;
      }
      last_error = pg::errmsg(w.conn.get());
      spdlog::warn("store: commit of {} events (attempt {}): {}", events, attempt + 1, last_error);
      pg::exec(w.conn.get(), "ROLLBACK");
    }
    if (!ok) {
      spdlog::error("store: {} events could not be stored: {}", events, last_error);
    }
    queue_.finish(work, ok, stored);
  }

  /// Ids as inclusive ranges [first, last], in ascending order.
  using IdRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;

  /// Reserves `n` new ids, ascending, from the writer's current block and
  /// as many new blocks as it needs (one statement). False when the
  /// database did not answer.
  static bool take_ids(Writer& w, std::size_t n, IdRanges& out) {
    auto need = static_cast<std::int64_t>(n);
    const auto take_from_block = [&] {
      const auto k = std::min(need, w.id_end - w.id_next);
      if (k > 0) {
        out.emplace_back(w.id_next, w.id_next + k - 1);
        w.id_next += k;
        need -= k;
      }
    };
    take_from_block();
    if (need == 0) {
      return true;
    }
    Params p;
    p.add((need + kIdBlock - 1) / kIdBlock);
    const auto r = p.exec(w.conn.get(), "SELECT nextval('events_id_seq') FROM generate_series(1, $1::bigint)");
    if (!r.ok() || r.rows() == 0) {
      return false;
    }
    for (int i = 0; i < r.rows(); ++i) {
      w.id_next = r.int64(i, 0);
      w.id_end = w.id_next + kIdBlock;
      take_from_block();
    }
    return true;
  }

  /// The batch in COPY's binary format, one row per event, its id first
  /// (ids ascend in arrival order).
  static void encode_copy(const std::vector<PendingBatch>& work, const IdRanges& ids, std::string& out) {
    namespace bin = pg::copy_binary;
    constexpr std::uint16_t kFields = 20;  // id + kInsertColumns
    bin::header(out);
    auto range = ids.begin();
    std::int64_t id = range->first;
    for (const auto& p : work) {
      for (const auto& e : p.events) {
        if (id > range->second) {
          id = (++range)->first;
        }
        bin::row(out, kFields);
        bin::int8(out, id++);
        if (e.event_id.empty()) {
          bin::null(out);
        } else {
          bin::text(out, e.event_id);
        }
        bin::int8(out, e.received_us);
        bin::int8(out, e.event_us);
        bin::int8(out, pg::to_db(e.node_id));
        bin::text(out, e.pot_id);
        bin::text(out, e.pot_type);
        bin::text(out, e.event_type);
        bin::text(out, e.src_ip);
        if (Ip16 ip{}; ip_to_bin(e.src_ip, ip)) {
          bin::bytes(out, std::string_view(reinterpret_cast<const char*>(ip.data()), ip.size()));  // NOLINT
        } else {
          bin::null(out);
        }
        bin::int4(out, e.src_port);
        bin::text(out, e.dst_ip);
        bin::int4(out, e.dst_port);
        for (const auto* field : {&e.username, &e.password, &e.command, &e.session, &e.url, &e.message, &e.raw_json}) {
          bin::text(out, *field);
        }
      }
    }
    bin::trailer(out);
  }

  /// COPY of `copy` into `table` within the open transaction; its result
  /// (the failure's SQLSTATE tells a duplicate from a broken connection).
  static pg::Result copy_into(Writer& w, const std::string& table, const std::string& copy) {
    PGconn* c = w.conn.get();
    auto started = pg::exec(c, "COPY " + table + "(id, " + kInsertColumns + ") FROM STDIN (FORMAT binary)");
    if (started.status() != PGRES_COPY_IN) {
      return started;
    }
    constexpr std::size_t kChunk = 1 << 20;
    bool sent = true;
    for (std::size_t at = 0; at < copy.size() && sent; at += kChunk) {
      const auto n = std::min(kChunk, copy.size() - at);
      sent = pg::lib().PQputCopyData(c, copy.data() + at, static_cast<int>(n)) == 1;
    }
    if (pg::lib().PQputCopyEnd(c, sent ? nullptr : "send failed") != 1) {
      return {};
    }
    pg::Result last;
    while (PGresult* raw = pg::lib().PQgetResult(c)) {
      pg::Result r(raw);
      if (last.ok() || last.get() == nullptr) {
        last = std::move(r);  // the first failure is kept
      }
    }
    return last;
  }

  /// One transaction storing the batch `copy` of `events` rows with the ids
  /// `ids`. The rows inserted, or -1.
  ///
  /// The batch is COPYed straight into `events`: with nothing to skip, a
  /// row costs the server about half of going through a staging table and
  /// `INSERT … ON CONFLICT` (see docs/BENCHMARKS.md). A duplicate (a node
  /// resending what a commit stored before its answer was lost, or another
  /// core storing the same event at once) fails that COPY on the unique
  /// index; the batch then goes through the staging table, which skips the
  /// duplicates.
  std::int64_t copy_in(Writer& w, const std::string& copy, std::size_t events, const IdRanges& ids) {
    PGconn* c = w.conn.get();
    if (!pg::exec(c, "BEGIN").ok()) {
      return -1;
    }
    const auto direct = copy_into(w, "events", copy);
    if (direct.ok()) {
      if (!notify_committed(w, ids) || !pg::exec(c, "COMMIT").ok()) {
        return -1;
      }
      return static_cast<std::int64_t>(events);
    }
    // 23505: unique_violation; 40P01: deadlock_detected (two cores COPYing
    // the same events in different orders).
    const auto state = direct.sqlstate();
    if (state != "23505" && state != "40P01") {
      return -1;
    }
    if (!pg::exec(c, "ROLLBACK").ok() || !pg::exec(c, "BEGIN").ok() || !copy_into(w, "events_stage", copy).ok()) {
      return -1;
    }
    const auto moved =
        pg::exec(c, std::string("INSERT INTO events(id, ") + kInsertColumns + ") SELECT id, " + kInsertColumns +
                        " FROM events_stage ORDER BY id ON CONFLICT DO NOTHING RETURNING id");
    if (!moved.ok()) {
      return -1;
    }
    std::vector<std::int64_t> inserted;
    inserted.reserve(static_cast<std::size_t>(moved.rows()));
    for (int i = 0; i < moved.rows(); ++i) {
      inserted.push_back(moved.int64(i, 0));
    }
    if (!notify_committed(w, to_ranges(std::move(inserted))) || !pg::exec(c, "COMMIT").ok()) {
      return -1;
    }
    return moved.rows();
  }

  /// Ids as the ranges of consecutive ones.
  static IdRanges to_ranges(std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    IdRanges out;
    for (const auto id : ids) {
      if (!out.empty() && out.back().second + 1 == id) {
        out.back().second = id;
      } else {
        out.emplace_back(id, id);
      }
    }
    return out;
  }

  /// Tells the other cores which ids this transaction stored (delivered at
  /// its commit): "<core id> lo-hi lo-hi ...", in as many NOTIFYs as the
  /// payload limit takes. Nothing while this core is alone.
  bool notify_committed(Writer& w, const IdRanges& ranges) {
    const auto me = core_id_.load();
    if (me == 0 || ranges.empty()) {
      return true;
    }
    const std::string head = std::to_string(me);
    std::string payload = head;
    const auto send = [&] {
      Params p;
      p.add(payload);
      return p.exec(w.conn.get(), "SELECT pg_notify('honeycomb_events', $1)").ok();
    };
    for (const auto& [lo, hi] : ranges) {
      const auto range = fmt::format(" {}-{}", lo, hi);
      if (payload.size() + range.size() > kNotifyMax) {
        if (!send()) {
          return false;
        }
        payload = head;
      }
      payload += range;
    }
    return send();
  }

  /// One retention transaction; true when more remains to do.
  bool retention_step(Writer& w) {
    PGconn* c = w.conn.get();
    std::int64_t deleted = 0;
    bool more = false;
    const std::string lock = "SET LOCAL lock_timeout = " + std::to_string(kDdlLockTimeoutMs) +
                             "; SELECT pg_advisory_xact_lock(" + std::to_string(kDdlLockKey) + ");";
    if (options_.retention_days > 0) {
      const std::int64_t cutoff = unix_now_us() - options_.retention_days * kDayUs;
      // Days wholly before the cutoff: their tables go, at once.
      for (const auto& [day, name] : day_partitions(w)) {
        if ((day + 1) * kDayUs > cutoff) {
          break;
        }
        deleted += drop_partition(w, name, lock);
        more = true;
        break;  // one per step: ingestion runs between steps
      }
      if (!more) {
        // The day that straddles the cutoff (and the default partition): rows.
        Params p;
        p.add(cutoff).add(static_cast<std::int64_t>(kRetentionChunk));
        const auto r = p.exec(c,
                              "DELETE FROM events WHERE event_us < $1 AND id IN "
                              "(SELECT id FROM events WHERE event_us < $1 LIMIT $2)");
        if (r.ok()) {
          deleted += r.affected();
          more = r.affected() == kRetentionChunk;
        } else {
          spdlog::error("store: retention: {}", pg::errmsg(c));
        }
      }
    }
    if (!more && options_.retention_max_mb > 0) {
      const std::int64_t limit = options_.retention_max_mb * 1024 * 1024;
      const auto used = database_size(c);
      const auto days = day_partitions(w);
      // Whole days, oldest first, never the newest day that holds events
      // (empty days ahead, made in advance, do not count): rows deleted
      // inside a table do not make the database smaller until VACUUM FULL,
      // so deleting rows could go on until nothing is left.
      if (used > limit && !days.empty()) {
        const auto newest = pg::exec(c, "SELECT max(event_us) FROM events WHERE event_us < " +
                                            std::to_string(days.back().first * kDayUs + kDayUs));
        if (newest.ok() && newest.rows() == 1 && !newest.null(0, 0) &&
            days.front().first < floor_div(newest.int64(0, 0), kDayUs)) {
          deleted += drop_partition(w, days.front().second, lock);
          more = true;
        }
      }
    }
    queue_.count_retention(static_cast<std::uint64_t>(deleted));
    return more;
  }

  /// Detaches and drops one day's table; the rows it held (0 on failure).
  std::int64_t drop_partition(Writer& w, const std::string& name, const std::string& lock) {
    PGconn* c = w.conn.get();
    // Counted for retention_deleted; a large day is estimated from the
    // planner's statistics rather than read whole.
    const auto counted =
        pg::exec(c, "SELECT CASE WHEN reltuples > 100000 THEN reltuples::bigint ELSE (SELECT count(*) FROM " + name +
                        ") END FROM pg_class WHERE oid = " + quote_literal(name) + "::regclass");
    const std::int64_t rows = counted.ok() && counted.rows() == 1 ? counted.int64(0, 0) : 0;
    const std::string sql = "BEGIN; " + lock + " DO $$ BEGIN IF to_regclass(" + quote_literal(name) +
                            ") IS NOT NULL THEN ALTER TABLE events DETACH PARTITION " + name + "; DROP TABLE " + name +
                            "; END IF; END $$; COMMIT;";
    if (!pg::exec(c, sql).ok()) {
      spdlog::warn("store: retention: dropping {}: {}", name, pg::errmsg(c));
      pg::exec(c, "ROLLBACK");
      return 0;
    }
    if (const auto day = partition_day(name)) {
      w.known_days.erase(*day);
    }
    return rows;
  }

  StorageOptions options_;
  std::vector<std::unique_ptr<Writer>> writers_;

  IngestQueue queue_{options_.queue_capacity};
  const std::size_t batch_limit_ = options_.batch_limit(kPostgresBatch);

  std::mutex pool_mu_;
  std::vector<Reader> pool_;

  std::uint64_t audit_inserts_ = 0;  ///< under misc_mu_
  std::mutex misc_mu_;               ///< misc_: registry and token writes
  Conn misc_;

  std::atomic<std::uint64_t> core_id_{0};  ///< set by join_cluster(); 0: alone
  std::thread listener_;
  std::mutex listener_mu_;  ///< listener_stop_, handlers_ (until the listener starts)
  std::condition_variable listener_cv_;
  bool listener_stop_ = false;
  ClusterHandlers handlers_;
};

}  // namespace

std::unique_ptr<Storage> open_postgres(const StorageOptions& options, std::string& error) {
  if (options.postgres_uri.empty()) {
    error = "no PostgreSQL URI";
    return nullptr;
  }
  if (!pg::load(error)) {
    return nullptr;
  }
  auto s = std::make_unique<PgStorage>(options);
  if (!s->open(error)) {
    return nullptr;
  }
  return s;
}

std::unique_ptr<Storage> open_storage(const StorageOptions& options, std::string& error) {
  if (!options.postgres_uri.empty()) {
    return open_postgres(options, error);
  }
  return open_sqlite(options, error);
}

}  // namespace honeycomb::store
