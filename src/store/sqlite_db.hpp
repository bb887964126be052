// Thin RAII helpers over the SQLite C API used by sqlite_storage.cpp.
#pragma once

#include <cstdint>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <utility>

namespace honeycomb::store::sqlite {

/// An owned connection.
class Db {
 public:
  Db() = default;
  explicit Db(sqlite3* db) : db_(db) {}
  Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Db& operator=(Db&& o) noexcept {
    std::swap(db_, o.db_);
    return *this;
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() {
    if (db_ != nullptr) {
      sqlite3_close_v2(db_);
    }
  }
  sqlite3* get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }

 private:
  sqlite3* db_ = nullptr;
};

/// An owned prepared statement.
class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }

  /// Prepares `sql`; false (and errmsg on the connection) on failure.
  bool prepare(sqlite3* db, std::string_view sql, bool persistent = false) {
    sqlite3_finalize(s_);
    s_ = nullptr;
    return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), persistent ? SQLITE_PREPARE_PERSISTENT : 0,
                              &s_, nullptr) == SQLITE_OK;
  }
  sqlite3_stmt* get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }

  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, std::string_view v) { sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8); }
  void bind_copy(int i, std::string_view v) {
    sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  void bind_blob(int i, const void* data, int n) { sqlite3_bind_blob(s_, i, data, n, SQLITE_TRANSIENT); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  /// Text bound as NULL when empty.
  void bind_or_null(int i, std::string_view v) {
    if (v.empty()) {
      bind_null(i);
    } else {
      bind(i, v);
    }
  }

  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }
  /// Valid until the next step(), reset() or another access to this column.
  std::string_view text_view(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr ? std::string_view()
                        : std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

/// Runs statements without results; false on failure.
inline bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

inline std::string errmsg(sqlite3* db) {
  return db == nullptr ? "out of memory" : sqlite3_errmsg(db);
}

/// uint64 node ids in SQLite's int64: bit-cast both ways (values above 2^63
/// are stored negative and come back unchanged).
inline std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
inline std::uint64_t from_db(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

}  // namespace honeycomb::store::sqlite
