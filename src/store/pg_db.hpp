// Thin RAII helpers over libpq used by pg_storage.cpp: an owned connection,
// an owned result, text parameters. Nothing here throws.
#pragma once

#include "store/pg_lib.hpp"
#include "store/pg_text.hpp"

#include <cstdint>
#include <cstdlib>
#include <libpq-fe.h>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::store::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const { lib().PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

/// An owned result; ok() says whether the statement did what it should.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r) {}
  PGresult* get() const { return r_.get(); }
  ExecStatusType status() const { return r_ ? lib().PQresultStatus(r_.get()) : PGRES_FATAL_ERROR; }
  bool ok() const {
    const auto s = status();
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN;
  }
  int rows() const { return r_ ? lib().PQntuples(r_.get()) : 0; }
  bool null(int row, int col) const { return lib().PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view text_view(int row, int col) const {
    return {lib().PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(lib().PQgetlength(r_.get(), row, col))};
  }
  std::string text(int row, int col) const { return std::string(text_view(row, col)); }
  std::int64_t int64(int row, int col) const { return std::strtoll(lib().PQgetvalue(r_.get(), row, col), nullptr, 10); }
  /// Rows an INSERT/UPDATE/DELETE touched.
  std::int64_t affected() const { return r_ ? std::strtoll(lib().PQcmdTuples(r_.get()), nullptr, 10) : 0; }
  /// The SQLSTATE of a failure ("57014": canceled by statement_timeout), empty when none.
  std::string sqlstate() const {
    const char* s = r_ ? lib().PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE) : nullptr;
    return s == nullptr ? std::string() : std::string(s);
  }

 private:
  struct Deleter {
    void operator()(PGresult* r) const { lib().PQclear(r); }
  };
  std::unique_ptr<PGresult, Deleter> r_;
};

/// Parameters sent as text ($1, $2, ...), or as binary for bytea.
class Params {
 public:
  /// Text, made storable (see storable()).
  Params& add(std::string v) {
    std::string scratch;
    if (const auto clean = storable(v, scratch); clean.data() != v.data()) {
      v = std::move(scratch);
    }
    values_.push_back(std::move(v));
    null_.push_back(false);
    binary_.push_back(0);
    return *this;
  }
  Params& add(std::int64_t v) {
    values_.push_back(std::to_string(v));
    null_.push_back(false);
    binary_.push_back(0);
    return *this;
  }
  Params& add_binary(const void* data, std::size_t n) {
    values_.emplace_back(static_cast<const char*>(data), n);
    null_.push_back(false);
    binary_.push_back(1);
    return *this;
  }
  Params& add_null() {
    values_.emplace_back();
    null_.push_back(true);
    binary_.push_back(0);
    return *this;
  }
  std::size_t size() const { return values_.size(); }

  Result exec(PGconn* c, const std::string& sql) const {
    std::vector<const char*> ptrs(values_.size());
    std::vector<int> lengths(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
      ptrs[i] = null_[i] ? nullptr : values_[i].c_str();
      lengths[i] = static_cast<int>(values_[i].size());
    }
    return Result(lib().PQexecParams(c, sql.c_str(), static_cast<int>(values_.size()), nullptr, ptrs.data(),
                                     lengths.data(), binary_.data(), 0));
  }

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> binary_;
};

inline Result exec(PGconn* c, const std::string& sql) {
  return Result(lib().PQexec(c, sql.c_str()));
}

/// Whether an idle connection still works. A server that restarted closed
/// its socket: reading what is pending sees that at once (libpq's own
/// status says so only after a statement failed on it). Twice: the first
/// read may return only the server's farewell message, the second the end.
inline bool alive(PGconn* c) {
  return c != nullptr && lib().PQstatus(c) == CONNECTION_OK && lib().PQconsumeInput(c) == 1 &&
         lib().PQconsumeInput(c) == 1 && lib().PQstatus(c) == CONNECTION_OK;
}

inline std::string errmsg(PGconn* c) {
  if (c == nullptr) {
    return "out of memory";
  }
  std::string m = lib().PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
    m.pop_back();
  }
  return m;
}

/// uint64 node ids in PostgreSQL's bigint: bit-cast both ways, as in SQLite.
inline std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
inline std::uint64_t from_db(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

}  // namespace honeycomb::store::pg
