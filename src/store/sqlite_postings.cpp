#include "store/sqlite_postings.hpp"

#include "store/sqlite_db.hpp"

#include <algorithm>
#include <cstring>

namespace honeycomb::store::postings {

namespace {

void put_le(std::int64_t v, char* out) {
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
}

std::int64_t get_le(const unsigned char* in) {
  std::uint64_t u = 0;
  for (int i = 7; i >= 0; --i) {
    u = (u << 8) | in[i];
  }
  return static_cast<std::int64_t>(u);
}

constexpr std::size_t kEntryBytes = 16;

}  // namespace

std::string pack(std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(), newer);
  std::string out(entries.size() * kEntryBytes, '\0');
  char* p = out.data();
  for (const auto& e : entries) {
    put_le(e.event_us, p);
    put_le(e.id, p + 8);
    p += kEntryBytes;
  }
  return out;
}

void unpack(const void* data, std::size_t size, std::vector<Entry>& out) {
  const auto* p = static_cast<const unsigned char*>(data);
  const std::size_t n = size / kEntryBytes;
  out.reserve(out.size() + n);
  for (std::size_t i = 0; i < n; ++i, p += kEntryBytes) {
    out.push_back(Entry{get_le(p), get_le(p + 8)});
  }
}

void BlockPostings::reset(std::int64_t block) {
  block_ = block;
  rows_ = 0;
  min_us_ = max_us_ = 0;
  pot_ids_.clear();
  event_types_.clear();
  pot_types_.clear();
  node_ids_.clear();
  sources_.clear();
}

void BlockPostings::add_to(Lists& lists, std::string_view key, const Entry& e) {
  if (auto it = lists.find(key); it != lists.end()) {
    it->second.push_back(e);
  } else {
    lists.emplace(std::string(key), std::vector<Entry>{e});
  }
}

void BlockPostings::add(const RowKeys& row) {
  const Entry e{row.event_us, row.id};
  min_us_ = rows_ == 0 ? row.event_us : std::min(min_us_, row.event_us);
  max_us_ = rows_ == 0 ? row.event_us : std::max(max_us_, row.event_us);
  ++rows_;
  add_to(pot_ids_, row.pot_id, e);
  add_to(event_types_, row.event_type, e);
  add_to(pot_types_, row.pot_type, e);
  node_ids_[row.node_id].push_back(e);
  if (row.src != nullptr) {
    sources_.emplace_back(*row.src, e);
  }
}

bool BlockPostings::write(sqlite3* db, bool replace) {
  using sqlite::Stmt;
  Stmt clear_lists, clear_sources, clear_block;
  if (replace && (!clear_lists.prepare(db, "DELETE FROM event_postings WHERE blk = ?") ||
                  !clear_sources.prepare(db, "DELETE FROM event_src WHERE blk = ?") ||
                  !clear_block.prepare(db, "DELETE FROM event_blocks WHERE blk = ?"))) {
    return false;
  }
  // Only a rebuild replaces (event_postings is keyed by value first, so
  // this scans it; the writer's new blocks have nothing to replace).
  for (Stmt* s : {&clear_lists, &clear_sources, &clear_block}) {
    if (!replace) {
      break;
    }
    s->bind(1, block_);
    if (s->step() != SQLITE_DONE) {
      return false;
    }
  }
  if (rows_ == 0) {
    return true;
  }
  Stmt list, source, span;
  if (!list.prepare(db, "INSERT INTO event_postings(kind, key, blk, entries) VALUES(?,?,?,?)") ||
      !source.prepare(db, "INSERT INTO event_src(blk, src, entries) VALUES(?,?,?)") ||
      !span.prepare(db, "INSERT INTO event_blocks(blk, min_us, max_us, rows) VALUES(?,?,?,?)")) {
    return false;
  }
  const auto put = [&](Kind kind, auto bind_key, std::vector<Entry>& entries) {
    const std::string packed = pack(entries);
    list.bind(1, static_cast<std::int64_t>(kind));
    bind_key(list);
    list.bind(3, block_);
    list.bind_blob(4, packed.data(), static_cast<int>(packed.size()));
    const bool ok = list.step() == SQLITE_DONE;
    list.reset();
    return ok;
  };
  const std::pair<Kind, Lists*> text_lists[] = {
      {Kind::pot_id, &pot_ids_}, {Kind::event_type, &event_types_}, {Kind::pot_type, &pot_types_}};
  for (const auto& [kind, lists] : text_lists) {
    for (auto& [key, entries] : *lists) {
      if (!put(
              kind, [&key = key](Stmt& s) { s.bind(2, key); }, entries)) {
        return false;
      }
    }
  }
  for (auto& [node, entries] : node_ids_) {
    if (!put(
            Kind::node_id, [node = node](Stmt& s) { s.bind(2, node); }, entries)) {
      return false;
    }
  }
  // Sources in key order: each insert lands at the end of the table (the
  // block leads the key), and one list per address.
  auto& sources = sources_;
  std::sort(sources.begin(), sources.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Entry> run;
  for (std::size_t i = 0; i < sources.size();) {
    std::size_t j = i;
    run.clear();
    while (j < sources.size() && sources[j].first == sources[i].first) {
      run.push_back(sources[j].second);
      ++j;
    }
    const std::string packed = pack(run);
    source.bind(1, block_);
    source.bind_blob(2, sources[i].first.data(), 16);
    source.bind_blob(3, packed.data(), static_cast<int>(packed.size()));
    if (source.step() != SQLITE_DONE) {
      return false;
    }
    source.reset();
    i = j;
  }
  span.bind(1, block_);
  span.bind(2, min_us_);
  span.bind(3, max_us_);
  span.bind(4, static_cast<std::int64_t>(rows_));
  return span.step() == SQLITE_DONE;
}

bool read_row_keys(sqlite3* db, std::int64_t from, std::int64_t to, const std::function<void(const RowKeys&)>& each) {
  sqlite::Stmt s;
  if (!s.prepare(db,
                 "SELECT id, event_us, node_id, pot_id, pot_type, event_type, src_ip_bin FROM events "
                 "WHERE id >= ? AND id < ? ORDER BY id")) {
    return false;
  }
  s.bind(1, from);
  s.bind(2, to);
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    RowKeys row;
    row.id = s.int64(0);
    row.event_us = s.int64(1);
    row.node_id = s.int64(2);
    row.pot_id = s.text_view(3);
    row.pot_type = s.text_view(4);
    row.event_type = s.text_view(5);
    Ip16 src{};
    if (sqlite3_column_bytes(s.get(), 6) == 16) {
      std::memcpy(src.data(), sqlite3_column_blob(s.get(), 6), 16);
      row.src = &src;
    }
    each(row);
  }
  return rc == SQLITE_DONE;
}

bool read_indexed_below(sqlite3* db, std::int64_t& out) {
  sqlite::Stmt s;
  if (!s.prepare(db, "SELECT value FROM store_meta WHERE name = 'indexed_below'") || s.step() != SQLITE_ROW) {
    return false;
  }
  out = s.int64(0);
  return true;
}

bool write_indexed_below(sqlite3* db, std::int64_t value) {
  sqlite::Stmt s;
  if (!s.prepare(db, "UPDATE store_meta SET value = ? WHERE name = 'indexed_below'")) {
    return false;
  }
  s.bind(1, value);
  return s.step() == SQLITE_DONE;
}

}  // namespace honeycomb::store::postings
