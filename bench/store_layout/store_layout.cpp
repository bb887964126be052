// store_layout: what each index of the events table costs SQLite itself.
//
// Reads N rows of a store's `events` table into memory (a store written by
// honeycomb_store_fill or by a core), then, for each layout below, creates a
// fresh database with the core's pragmas (64 KiB pages, WAL,
// synchronous=NORMAL, 64 MiB cache unless the layout says otherwise) and the source's own table DDL, adds that
// layout's indexes and inserts the rows with one prepared INSERT, B rows per
// transaction, as the core's writer does. No JSON, no network, no threads:
// SQLite's own cost per row for each choice of indexes and batch size.
//
//   honeycomb_store_layout --source events.db --dir /tmp/x [--rows 1000000] [--batch 32768]
//
// --only TEXT runs the first layout (the baseline) and those whose name
// holds TEXT.
//
// Prints one line per layout: rows/s, user and system µs per row, and the
// ratio against the first layout (the table alone) measured in the same run.
#include "store/sqlite_postings.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sqlite3.h>
#include <string>
#include <sys/resource.h>
#include <vector>

namespace {

struct Cell {
  int type = SQLITE_NULL;
  sqlite3_int64 integer = 0;
  double real = 0;
  std::string bytes;
};
using Row = std::vector<Cell>;

struct Layout {
  const char* name;
  const char* indexes;    ///< SQL run after the table is created
  int batch;              ///< 0: the --batch value
  int cache_mb = 64;      ///< the writer's page cache (the core's default: 64)
  bool postings = false;  ///< also write the block postings as the core's writer does (schema 4)
};

// Schema 4 (src/store/sqlite_storage.cpp): the unique index and the block
// postings' tables, filled per block of 8,192 rows (store/sqlite_postings.hpp).
constexpr const char* kSchema4 =
    "CREATE UNIQUE INDEX events_time_id ON events(event_us, event_id);"
    "CREATE TABLE event_blocks(blk INTEGER PRIMARY KEY, min_us INTEGER NOT NULL, max_us INTEGER NOT NULL, "
    "rows INTEGER NOT NULL);"
    "CREATE TABLE event_postings(kind INTEGER NOT NULL, key NOT NULL, blk INTEGER NOT NULL, entries BLOB NOT NULL, "
    "PRIMARY KEY(kind, key, blk)) WITHOUT ROWID;"
    "CREATE TABLE event_src(blk INTEGER NOT NULL, src BLOB NOT NULL, entries BLOB NOT NULL, "
    "PRIMARY KEY(blk, src)) WITHOUT ROWID;";

// Schema 6: the same with the lists in a rowid table found through two
// small indexes (sqlite_storage.cpp, migration 5 -> 6).
constexpr const char* kSchema6 =
    "CREATE UNIQUE INDEX events_time_id ON events(event_us, event_id);"
    "CREATE TABLE event_blocks(blk INTEGER PRIMARY KEY, min_us INTEGER NOT NULL, max_us INTEGER NOT NULL, "
    "rows INTEGER NOT NULL);"
    "CREATE TABLE event_postings(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key NOT NULL, blk INTEGER NOT NULL, "
    "entries BLOB NOT NULL);"
    "CREATE UNIQUE INDEX event_postings_key ON event_postings(kind, key, blk);"
    "CREATE INDEX event_postings_blk ON event_postings(blk);"
    "CREATE TABLE event_src(blk INTEGER NOT NULL, src BLOB NOT NULL, entries BLOB NOT NULL, "
    "PRIMARY KEY(blk, src)) WITHOUT ROWID;";

// The indexes of schema 3, alone and together.
constexpr const char* kTime = "CREATE UNIQUE INDEX events_time_id ON events(event_us, event_id);";
constexpr const char* kAll =
    "CREATE UNIQUE INDEX events_time_id ON events(event_us, event_id);"
    "CREATE INDEX events_pot_time ON events(pot_id, event_us);"
    "CREATE INDEX events_type_time ON events(event_type, event_us);"
    "CREATE INDEX events_pot_type_time ON events(pot_type, event_us);"
    "CREATE INDEX events_node_time ON events(node_id, event_us);"
    "CREATE INDEX events_block_src ON events(id >> 16, src_ip_bin, event_us);";

const Layout kLayouts[] = {
    {"table alone (rowid)", "", 0},
    {"+ (event_us, event_id) unique", kTime, 0},
    {"+ (pot_id, event_us)", "CREATE INDEX i ON events(pot_id, event_us);", 0},
    {"+ (event_type, event_us)", "CREATE INDEX i ON events(event_type, event_us);", 0},
    {"+ (pot_type, event_us)", "CREATE INDEX i ON events(pot_type, event_us);", 0},
    {"+ (node_id, event_us)", "CREATE INDEX i ON events(node_id, event_us);", 0},
    {"+ (id >> 16, src_ip_bin, event_us)", "CREATE INDEX i ON events(id >> 16, src_ip_bin, event_us);", 0},
    {"schema 3: all six, batch 8,192", kAll, 8192},
    {"schema 3: all six, batch 32,768", kAll, 32768},
    {"schema 3: all six, batch 131,072", kAll, 131072},
    {"schema 3: all six, batch 8,192, 256 MB cache", kAll, 8192, 256},
    {"schema 3: all six, batch 32,768, 256 MB cache", kAll, 32768, 256},
    {"schema 4: unique index + block postings", kSchema4, 0, 64, true},
    {"schema 6: block postings, lists by rowid", kSchema6, 0, 64, true},
};

// Columns of `events` (schema 1 order) that the postings read.
constexpr int kEventUs = 3, kNodeId = 4, kPotId = 5, kPotType = 6, kEventType = 7, kSrcIpBin = 9;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  std::cerr << "store_layout: " << what << ": " << (db != nullptr ? sqlite3_errmsg(db) : "") << "\n";
  std::exit(2);
}

double micros(const timeval& a, const timeval& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) * 1e6 + static_cast<double>(b.tv_usec - a.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string source;
  std::filesystem::path dir;
  long rows_wanted = 1'000'000;
  int batch = 32768;
  std::string only;  // run only the layouts whose name holds this (and the baseline)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "store_layout: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--source") {
      source = next();
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--rows") {
      rows_wanted = std::stol(next());
    } else if (a == "--batch") {
      batch = std::stoi(next());
    } else if (a == "--only") {
      only = next();
    } else {
      std::cerr
          << "usage: honeycomb_store_layout --source EVENTS.db --dir TMPDIR [--rows N] [--batch B] [--only TEXT]\n";
      return 2;
    }
  }
  if (source.empty() || dir.empty() || rows_wanted <= 0 || batch <= 0) {
    std::cerr << "usage: honeycomb_store_layout --source EVENTS.db --dir TMPDIR [--rows N] [--batch B] [--only TEXT]\n";
    return 2;
  }

  // The rows and the table's DDL, as the core wrote them.
  sqlite3* src = nullptr;
  if (sqlite3_open_v2(source.c_str(), &src, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    fail(src, "open " + source);
  }
  std::string table_sql;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(src, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'", -1, &s,
                           nullptr) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
      fail(src, "no events table in " + source);
    }
    table_sql = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
  }
  std::vector<Row> rows;
  int columns = 0;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(src, "SELECT * FROM events ORDER BY id LIMIT ?", -1, &s, nullptr) != SQLITE_OK) {
      fail(src, "select");
    }
    sqlite3_bind_int64(s, 1, rows_wanted);
    while (sqlite3_step(s) == SQLITE_ROW) {
      columns = sqlite3_column_count(s);
      Row row(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        auto& cell = row[static_cast<std::size_t>(c)];
        cell.type = sqlite3_column_type(s, c);
        if (cell.type == SQLITE_INTEGER) {
          cell.integer = sqlite3_column_int64(s, c);
        } else if (cell.type == SQLITE_FLOAT) {
          cell.real = sqlite3_column_double(s, c);
        } else if (cell.type != SQLITE_NULL) {
          const auto* p = static_cast<const char*>(sqlite3_column_blob(s, c));
          cell.bytes.assign(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(src);
  if (rows.empty()) {
    std::cerr << "store_layout: " << source << " has no events\n";
    return 2;
  }
  std::printf("%zu rows of %s (%d columns), batch %d unless the layout says otherwise\n\n", rows.size(), source.c_str(),
              columns, batch);
  std::printf("%-46s %12s %10s %10s %8s\n", "layout", "rows/s", "user us", "sys us", "ratio");

  double baseline = 0;
  for (const auto& layout : kLayouts) {
    if (!only.empty() && &layout != &kLayouts[0] &&
        std::string_view(layout.name).find(only) == std::string_view::npos) {
      continue;
    }
    const int layout_batch = layout.batch > 0 ? layout.batch : batch;
    const auto path = dir / "layout.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path.string() + suffix);
    }
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      fail(db, "open " + path.string());
    }
    const std::string setup = std::string(
                                  "PRAGMA page_size=65536; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-") +
                              std::to_string(layout.cache_mb * 1024) + ";" + table_sql + ";" + layout.indexes;
    if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      fail(db, "schema");
    }
    // The id column (first) is left to SQLite: the next after the last, as
    // the core's writer gives them.
    std::string insert = "INSERT INTO events VALUES(NULL";
    for (int c = 1; c < columns; ++c) {
      insert += ",?";
    }
    insert += ")";
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db, insert.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
      fail(db, "prepare");
    }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const auto start = std::chrono::steady_clock::now();
    std::size_t i = 0;
    honeycomb::store::postings::BlockPostings block;
    block.reset(0);
    while (i < rows.size()) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (int k = 0; k < layout_batch && i < rows.size(); ++k, ++i) {
        const auto& row = rows[i];
        for (int c = 1; c < columns; ++c) {
          const auto& cell = row[static_cast<std::size_t>(c)];
          const auto n = static_cast<int>(cell.bytes.size());
          switch (cell.type) {
            case SQLITE_INTEGER:
              sqlite3_bind_int64(st, c, cell.integer);
              break;
            case SQLITE_FLOAT:
              sqlite3_bind_double(st, c, cell.real);
              break;
            case SQLITE_TEXT:
              sqlite3_bind_text(st, c, cell.bytes.data(), n, SQLITE_STATIC);
              break;
            case SQLITE_BLOB:
              sqlite3_bind_blob(st, c, cell.bytes.data(), n, SQLITE_STATIC);
              break;
            default:
              sqlite3_bind_null(st, c);
          }
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
          fail(db, "insert");
        }
        sqlite3_reset(st);
        if (layout.postings) {
          namespace postings = honeycomb::store::postings;
          const std::int64_t id = sqlite3_last_insert_rowid(db);
          if (postings::block_of(id) != block.block()) {
            if (!block.write(db, false)) {
              fail(db, "postings");
            }
            block.reset(postings::block_of(id));
          }
          const auto text = [&](int c) { return std::string_view(row[static_cast<std::size_t>(c)].bytes); };
          postings::Ip16 ip{};
          const auto& src_cell = row[kSrcIpBin];
          const bool has_ip = src_cell.type == SQLITE_BLOB && src_cell.bytes.size() == 16;
          if (has_ip) {
            std::memcpy(ip.data(), src_cell.bytes.data(), 16);
          }
          block.add(postings::RowKeys{id, row[kEventUs].integer, row[kNodeId].integer, text(kPotId), text(kPotType),
                                      text(kEventType), has_ip ? &ip : nullptr});
        }
      }
      if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        fail(db, "commit");
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    sqlite3_finalize(st);
    sqlite3_close(db);
    const auto n = static_cast<double>(rows.size());
    const double rate = n / seconds;
    if (baseline == 0) {
      baseline = rate;
    }
    std::printf("%-46s %12.0f %10.2f %10.2f %8.2f\n", layout.name, rate, micros(before.ru_utime, after.ru_utime) / n,
                micros(before.ru_stime, after.ru_stime) / n, rate / baseline);
    std::fflush(stdout);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove((dir / "layout.db").string() + suffix);
  }
  return 0;
}
