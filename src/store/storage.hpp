// What the core stores: events, the node/pot registry, API tokens. One
// abstract interface; SQLite (sqlite_storage.cpp) is the embedded default,
// PostgreSQL (pg_storage.cpp) serves larger fleets and several cores, behind
// the same interface and the same test suite (tests/unit/store).
//
// Threading: append() is non-blocking and may be called from any thread
// (network threads); a writer thread owned by the storage commits batches.
// Everything else blocks on the database and must be called off the network
// threads (the core runs it on its database thread pool).
#pragma once

#include "events/event.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace honeycomb::store {

/// Filters shared by queries, stats and export. Empty/nullopt: no filter.
struct EventFilter {
  std::optional<std::int64_t> since_us;  ///< event time >= since
  std::optional<std::int64_t> until_us;  ///< event time < until
  std::optional<std::uint64_t> node_id;
  std::string pot_id;
  std::string pot_type;
  std::string event_type;
  std::string src;   ///< an IP ("1.2.3.4", "::1") or a CIDR ("10.0.0.0/8", "2001:db8::/32")
  std::string text;  ///< free text, matched in the original record
};

struct EventQuery {
  EventFilter filter;
  std::size_t limit = 100;  ///< 1..1000
  std::string cursor;       ///< from a previous page's next_cursor; empty: first page
  /// With a free-text filter: stop scanning after this long and return the
  /// matches found so far, with a next_cursor that resumes the scan where it
  /// stopped (EventPage::partial). No index serves free text, so this bounds
  /// the latency of an interactive query whatever the match rate. 0: scan
  /// until the page is full (export).
  std::int64_t text_scan_ms = 0;
};

struct StoredEvent {
  std::int64_t id = 0;  ///< storage sequence number
  events::Event event;
};

struct EventPage {
  std::vector<StoredEvent> events;  ///< newest first
  std::string next_cursor;          ///< empty: no older events
  /// The free-text scan stopped at EventQuery::text_scan_ms: the page may
  /// hold fewer than `limit` events (even none) and next_cursor resumes.
  bool partial = false;
};

struct Count {
  std::string key;
  std::uint64_t count = 0;
};

struct StatsQuery {
  EventFilter filter;
  std::int64_t bucket_seconds = 3600;
  std::size_t top = 10;
};

struct Stats {
  std::uint64_t total = 0;
  std::vector<std::pair<std::int64_t, std::uint64_t>> buckets;  ///< bucket start (unix s), count; oldest first
  std::vector<Count> top_src_ips, top_usernames, top_passwords, top_commands, by_pot_type, by_event_type;
};

/// Everything stored about one source address, across every node and pot
/// (GET /api/v1/attackers/{ip}). Lists are ordered by count, highest first
/// (sessions: the most recent first); each is cut at the bound named below.
struct AttackerSummary {
  std::uint64_t event_count = 0;
  /// How many of its events, the newest, the lists below count: all of them
  /// up to StorageOptions::attacker_summarised, so that the busiest address of a large
  /// store is summarised in bounded time (the count and times are exact).
  std::uint64_t summarised = 0;
  std::int64_t first_us = 0;  ///< event time of its oldest event (when event_count > 0)
  std::int64_t last_us = 0;   ///< ... and of its newest
  struct Node {
    std::uint64_t node_id = 0;
    std::uint64_t count = 0;
  };
  struct Pot {
    std::string pot_id;
    std::string pot_type;
    std::uint64_t count = 0;
  };
  struct Credential {
    std::string username;  ///< never empty: rows without a username are not credentials
    std::string password;  ///< empty when the row had none
    std::uint64_t count = 0;
  };
  struct Session {
    std::string session;
    std::string pot_id;
    std::uint64_t node_id = 0;
    std::int64_t first_us = 0;
    std::int64_t last_us = 0;
    std::uint64_t events = 0;
  };
  std::vector<Node> nodes;              ///< at most kAttackerGroups
  std::vector<Pot> pots;                ///< at most kAttackerGroups
  std::vector<Count> event_types;       ///< at most kAttackerGroups
  std::vector<Credential> credentials;  ///< at most kAttackerTop
  std::vector<Count> commands;          ///< at most kAttackerTop
  std::vector<Session> sessions;        ///< at most kAttackerTop, by their last event, newest first
};
/// Credentials, commands and sessions in an AttackerSummary.
inline constexpr std::size_t kAttackerTop = 100;
/// Nodes, pots and event types in an AttackerSummary.
inline constexpr std::size_t kAttackerGroups = 1000;
/// An AttackerSummary's lists count at most this many of its newest events.
inline constexpr std::size_t kAttackerSummarised = 20'000;

struct PotRecord {
  std::string pot_id;
  std::string pot_type;
  std::string status;   ///< wire name ("Running"...) or "Unknown"
  std::string message;  ///< last status message
  std::int64_t updated_us = 0;
};

struct NodeRecord {
  std::uint64_t node_id = 0;
  std::string name;
  std::string address;
  std::uint16_t port = 0;
  std::string node_type;  ///< "Full" | "Agent"
  std::string status;     ///< last NodeStatusUpdate's wire name, "Unknown" before the first
  std::int64_t first_seen_us = 0;
  std::int64_t last_seen_us = 0;
  std::vector<PotRecord> pots;
};

struct TokenRecord {
  std::int64_t id = 0;
  std::string name;
  std::string hash;  ///< hex SHA-256 of the token; the token itself is never stored
  std::int64_t created_us = 0;
  bool revoked = false;
  std::string scope = "admin";  ///< "read" | "manage" | "admin" (core/auth.hpp)
};

/// A one-time node enrollment token (docs/SECURITY.md): only its hash is kept.
struct JoinTokenRecord {
  std::int64_t id = 0;
  std::string node_name;  ///< the node it is for; its certificate carries this name
  std::string hash;       ///< hex SHA-256 of the token's secret
  std::int64_t created_us = 0;
  std::int64_t expires_us = 0;
  std::int64_t used_us = 0;   ///< 0: not used yet
  std::uint64_t used_by = 0;  ///< the node id that used it
};

/// A node certificate the core's CA issued. The core accepts a node's
/// certificate only when it is listed here and not revoked.
struct NodeCertificateRecord {
  std::string serial;  ///< lower-case hex
  std::uint64_t node_id = 0;
  std::string node_name;
  std::int64_t issued_us = 0;
  std::int64_t not_after_us = 0;
  std::int64_t revoked_us = 0;  ///< 0: not revoked
};

/// One entry of the audit log: who did what to which object, and whether it
/// was allowed.
struct AuditRecord {
  std::int64_t id = 0;
  std::int64_t time_us = 0;
  std::string actor;   ///< "cli", "api:<token name>", "node:<id>", "peer:<address>"
  std::string action;  ///< "join_token.create", "node.enroll", "node.revoke", ...
  std::string target;
  std::string outcome;  ///< "ok", or why it was refused
};

/// A command sent through the database to the core a node is connected to
/// (several cores on one PostgreSQL database, docs/DEPLOYMENT.md).
struct RemoteCommand {
  std::int64_t id = 0;
  std::uint64_t node_id = 0;
  std::string envelope;  ///< the Protocol v2 NodeCommand, as the node gets it
  std::int64_t timeout_ms = 0;
};

/// What a core hears from the other cores on its database. Both run on the
/// storage's listener thread: they must not block.
struct ClusterHandlers {
  /// Events another core committed, oldest first (its WebSocket clients
  /// see every core's events).
  std::function<void(std::vector<StoredEvent>)> remote_events;
  /// Commands for nodes connected to this core are waiting (take_commands()).
  std::function<void()> commands_waiting;
};

struct Counters {
  std::uint64_t appended = 0;    ///< events accepted by append()
  std::uint64_t stored = 0;      ///< events committed
  std::uint64_t duplicates = 0;  ///< events whose event_id was already stored (stored once)
  std::uint64_t failed = 0;      ///< events a commit failed for (after retries)
  std::uint64_t queued = 0;      ///< events waiting for the writer now
  std::uint64_t transactions =
      0;  ///< ingest transactions committed (events stored / transactions: the group commit's size)
  std::uint64_t retention_deleted = 0;
  std::uint64_t retention_steps = 0;    ///< retention transactions run (whether they deleted or not)
  std::int64_t last_commit_lag_us = 0;  ///< receipt -> commit of the last batch's oldest event
};

/// An error a caller can show (bad filter, bad cursor, database failure).
struct Error {
  std::string message;
  bool bad_request = false;  ///< the caller's input was wrong (HTTP 400) rather than the database (500)
  bool not_found = false;    ///< get(): no such event (HTTP 404)
  bool timed_out = false;    ///< a read ran past StorageOptions::query_timeout_ms (HTTP 503)
};

template <class T>
struct Result {
  std::optional<T> value;
  Error error;
  explicit operator bool() const { return value.has_value(); }
};

class Storage {
 public:
  virtual ~Storage() = default;

  // ---- ingestion (non-blocking, any thread) ----
  /// Takes all of `batch` when the queue has room for it, else nothing:
  /// returns false and the caller retries later (backpressure, never a
  /// drop). `on_committed` runs on the writer thread once the batch is
  /// durable (or with false when it could not be stored).
  virtual bool append(std::vector<events::Event>& batch, std::function<void(bool ok)> on_committed = {}) = 0;
  /// Blocks until everything appended so far is committed (tests, shutdown).
  virtual void flush() = 0;
  virtual Counters counters() const = 0;

  // ---- events (blocking) ----
  virtual Result<EventPage> query(const EventQuery& q) = 0;
  virtual Result<StoredEvent> get(std::int64_t id) = 0;
  virtual Result<Stats> stats(const StatsQuery& q) = 0;
  /// What the store holds about one source address (an IP, IPv4 or IPv6;
  /// an IPv4-mapped IPv6 address is its IPv4 address). Reached through the
  /// source index, so its cost grows with that address's events, not the
  /// store's; bounded by StorageOptions::query_timeout_ms (Error::timed_out).
  /// A malformed address is Error::bad_request; one never seen has count 0.
  virtual Result<AttackerSummary> attacker_summary(const std::string& ip) = 0;
  /// Streams every matching event, newest first, without holding them all;
  /// `each` returns false to stop early.
  virtual Result<std::uint64_t> export_events(const EventFilter& f,
                                              const std::function<bool(const StoredEvent&)>& each) = 0;

  // ---- registry (blocking) ----
  virtual void save_node(const NodeRecord& node) = 0;  ///< upsert, pots included (replaces the node's pot list)
  virtual std::vector<NodeRecord> load_nodes() = 0;

  // ---- API tokens (blocking) ----
  virtual TokenRecord add_token(const std::string& name, const std::string& hash,
                                const std::string& scope = "admin") = 0;
  virtual std::vector<TokenRecord> tokens() = 0;
  /// Revokes by id or name; false when none matched.
  virtual bool revoke_token(const std::string& id_or_name) = 0;
  virtual std::optional<TokenRecord> find_token(const std::string& hash) = 0;

  // ---- node enrollment (blocking) ----
  virtual JoinTokenRecord add_join_token(const std::string& node_name, const std::string& hash,
                                         std::int64_t expires_us) = 0;
  virtual std::vector<JoinTokenRecord> join_tokens() = 0;
  /// Takes the token with this hash for `node_id`, once, atomically: the
  /// record (now used), or why not ("unknown join token", "join token
  /// already used ...", "join token expired ...").
  virtual std::variant<JoinTokenRecord, std::string> redeem_join_token(const std::string& hash, std::uint64_t node_id,
                                                                       std::int64_t now_us) = 0;
  virtual bool add_node_certificate(const NodeCertificateRecord& certificate) = 0;
  virtual std::vector<NodeCertificateRecord> node_certificates() = 0;
  /// Revokes the certificate with this serial, or every certificate of the
  /// node with this decimal id or name; how many were revoked.
  virtual int revoke_node_certificates(const std::string& node_or_serial, std::int64_t now_us) = 0;
  /// TOTP secrets (base32) by node id.
  virtual std::vector<std::pair<std::uint64_t, std::string>> node_totp_keys() = 0;
  virtual bool set_node_totp_key(std::uint64_t node_id, const std::string& key) = 0;

  // ---- audit log (blocking) ----
  virtual void audit(const AuditRecord& record) = 0;
  /// Newest first; at most `limit`, ids below `before` (0: from the newest).
  virtual std::vector<AuditRecord> audit_log(std::size_t limit, std::int64_t before = 0) = 0;

  // ---- several cores on one database (blocking; PostgreSQL only) ----
  // A backend that cannot be shared (SQLite) keeps the defaults: one core.

  /// True when other cores may share this database.
  virtual bool shared() const { return false; }
  /// This core takes part as `core_id` (unique among the cores): its
  /// heartbeat is kept, other cores' events and commands for it reach
  /// `handlers`. Returns at once; a listener thread does the work.
  virtual void join_cluster(std::uint64_t core_id, ClusterHandlers handlers) {
    (void)core_id;
    (void)handlers;
  }
  /// Stops hearing from the other cores (the handlers are not called once
  /// it returns) and tells them this core left. Before the handlers' owner
  /// goes; the destructor does it too.
  virtual void leave_cluster() {}
  /// A node's session opened (true) or closed on this core.
  virtual void set_node_presence(std::uint64_t node_id, bool connected) {
    (void)node_id;
    (void)connected;
  }
  /// Node id -> the live core its session is on (every core's, this one too).
  virtual std::map<std::uint64_t, std::uint64_t> node_presence() { return {}; }
  /// Queues `envelope` for the core `core_id`'s node; the command's id, 0 on failure.
  virtual std::int64_t send_command(std::uint64_t core_id, std::uint64_t node_id, const std::string& envelope,
                                    std::int64_t timeout_ms) {
    (void)core_id;
    (void)node_id;
    (void)envelope;
    (void)timeout_ms;
    return 0;
  }
  /// The commands queued for this core's nodes, each taken once.
  virtual std::vector<RemoteCommand> take_commands() { return {}; }
  /// Stores the answer (CommandResult as JSON) of a command taken here.
  virtual void answer_command(std::int64_t id, const std::string& answer_json) {
    (void)id;
    (void)answer_json;
  }
  /// The answer of a command this core sent, once there is one.
  virtual std::optional<std::string> command_answer(std::int64_t id) {
    (void)id;
    return std::nullopt;
  }

  // ---- maintenance (blocking) ----
  /// Bytes the database uses (pages in use x page size, free pages
  /// excluded); -1 when the backend cannot tell.
  virtual std::int64_t used_bytes() { return -1; }
  /// Frees what the storage can rebuild (the page caches of connections not
  /// in use; the writer's once its queue is empty) and returns the freed heap
  /// pages to the system (malloc_trim). Any thread; returns at once (the
  /// writer and checkpointer do their part when they wake). The core calls
  /// it when ingestion is idle.
  virtual void release_memory() {}
};

/// The backends' default events per transaction (StorageOptions::max_batch).
inline constexpr std::size_t kSqliteBatch = 32768;
inline constexpr std::size_t kPostgresBatch = 8192;
/// PostgreSQL's default writer threads (StorageOptions::writers).
inline constexpr std::size_t kPostgresWriters = 1;
/// ... and the most it takes (core.yml's `ingest_writers` is checked against it).
inline constexpr std::size_t kMaxPostgresWriters = 16;

struct StorageOptions {
  std::string path;  ///< SQLite file
  /// A PostgreSQL connection URI ("postgresql://user:pass@host:5432/db?sslmode=..."):
  /// when set, the storage is PostgreSQL and `path` is unused.
  std::string postgres_uri;
  /// Events waiting for the writer: about a second of ingest. A deeper
  /// queue only holds more memory (1 M events took 0.7 GB) and made the
  /// network threads ~30 % slower (a growing heap); past it, nodes are
  /// slowed by TCP backpressure and spool (docs/BENCHMARKS.md).
  std::size_t queue_capacity = 65'536;
  /// Events per transaction; 0: the backend's own (kSqliteBatch,
  /// kPostgresBatch), but never more than half the queue. On SQLite a larger
  /// commit rewrites each touched index page once for more events (32,768
  /// against 8,192: +17 % events/s, half the checkpointer's CPU);
  /// PostgreSQL measured no better past 8,192.
  std::size_t max_batch = 0;

  /// PostgreSQL: writer threads, each with its own connection, taking
  /// transactions from the queue in turn (the server's work for one
  /// transaction is serial in its backend: one writer capped a core at
  /// ~50,000 events/s here, docs/BENCHMARKS.md). Their commits are reported
  /// in the order taken. 0: kPostgresWriters. SQLite has one writer.
  std::size_t writers = 0;

  /// max_batch, or the backend's default when it is 0.
  std::size_t batch_limit(std::size_t backend_default) const {
    return max_batch > 0 ? max_batch : std::max<std::size_t>(std::min(backend_default, queue_capacity / 2), 1);
  }
  std::int64_t retention_days = 0;              ///< 0: keep forever
  std::int64_t retention_max_mb = 0;            ///< 0: no size limit
  std::int64_t retention_interval_ms = 60'000;  ///< how often the writer applies retention (also once at open)
  int busy_timeout_ms = 5000;                   ///< SQLite busy timeout of every connection
  /// A failing transaction is tried this often (backoff 10 ms, x4 each
  /// time) before on_committed(false).
  int commit_attempts = 4;
  std::int64_t cache_mb = 64;  ///< page cache of the writer connection
  /// SQLite: the newest part of the database file, in MB, that the OS page
  /// cache keeps once the checkpointer wrote it; each older part is dropped
  /// from the cache once, as the file grows past it, so the kernel reuses
  /// that memory for the next pages written (store/page_cache_window.hpp).
  /// 0: the cache is left to the kernel.
  std::int64_t cache_window_mb = 256;
  /// query(), stats() and attacker_summary() give up after this long
  /// (Error::timed_out) so that a filter no index serves cannot hold a
  /// database thread for long; 0: no limit. export_events() has none.
  std::int64_t query_timeout_ms = 10'000;
  /// attacker_summary()'s lists count at most this many of an address's
  /// newest events (AttackerSummary::summarised).
  std::size_t attacker_summarised = kAttackerSummarised;
  /// stats() counts each figure's distinct values (and the time buckets) in
  /// memory up to this many; a figure with more is counted by SQL instead
  /// (exact, one more read of the rows). Bounds the memory of one request.
  std::size_t stats_distinct_max = 200'000;
};

/// Opens (creating and migrating) the SQLite storage. nullptr + error on failure.
std::unique_ptr<Storage> open_sqlite(const StorageOptions& options, std::string& error);

/// Opens (migrating) the PostgreSQL storage at options.postgres_uri; the
/// database must exist. nullptr + error on failure.
std::unique_ptr<Storage> open_postgres(const StorageOptions& options, std::string& error);

/// open_postgres() when options.postgres_uri is set, else open_sqlite().
std::unique_ptr<Storage> open_storage(const StorageOptions& options, std::string& error);

/// True for a "postgresql://" or "postgres://" URI. Inline: the config
/// parser uses it without the storage library (fuzz/yaml_config_fuzz).
inline bool is_postgres_uri(std::string_view text) {
  return text.starts_with("postgresql://") || text.starts_with("postgres://");
}

}  // namespace honeycomb::store
