#include "store/sqlite_postings.hpp"

#include "store/sqlite_db.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string_view>

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

void pack_at(const Entry& e, char* out) {
  put_le(e.event_us, out);
  put_le(e.id, out + 8);
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
  min_us_ = max_us_ = 0;
  entries_.clear();
  pot_ids_.clear();
  event_types_.clear();
  pot_types_.clear();
  node_ids_.clear();
  sources_.clear();
}

std::size_t BlockPostings::Ip16Hash::operator()(const Ip16& ip) const noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(ip.data()), ip.size()));
}

void BlockPostings::add(const RowKeys& row) {
  const Entry e{row.event_us, row.id};
  min_us_ = entries_.empty() ? row.event_us : std::min(min_us_, row.event_us);
  max_us_ = entries_.empty() ? row.event_us : std::max(max_us_, row.event_us);
  entries_.push_back(e);
  pot_ids_.add(row.pot_id);
  event_types_.add(row.event_type);
  pot_types_.add(row.pot_type);
  node_ids_.add(row.node_id);
  if (row.src != nullptr) {
    sources_.add(*row.src);
  } else {
    sources_.of_row.push_back(kNoSource);
  }
}

BlockPostings::Lists::Lists(const std::vector<std::uint32_t>& newest_first, const std::vector<Entry>& entries,
                            const std::vector<std::uint32_t>& of_row, std::size_t values)
    : start_(values + 1, 0) {
  // A counting sort: each value's share of the buffer, then the rows dealt
  // into it newest first.
  for (const std::uint32_t value : of_row) {
    if (value != kNoSource) {
      start_[value + 1] += kEntryBytes;
    }
  }
  std::partial_sum(start_.begin(), start_.end(), start_.begin());
  bytes_.resize(start_.back());
  std::vector<std::size_t> next(start_.begin(), start_.end() - 1);
  for (const std::uint32_t row : newest_first) {
    if (const std::uint32_t value = of_row[row]; value != kNoSource) {
      pack_at(entries[row], bytes_.data() + next[value]);
      next[value] += kEntryBytes;
    }
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
  // Only a rebuild replaces (the writer's new blocks have nothing to
  // replace); each delete finds the block's rows through an index on blk.
  for (Stmt* s : {&clear_lists, &clear_sources, &clear_block}) {
    if (!replace) {
      break;
    }
    s->bind(1, block_);
    if (s->step() != SQLITE_DONE) {
      return false;
    }
  }
  if (entries_.empty()) {
    return true;
  }
  Stmt list, source, span;
  if (!list.prepare(db, "INSERT INTO event_postings(kind, key, blk, entries) VALUES(?,?,?,?)") ||
      !source.prepare(db, "INSERT INTO event_src(blk, src, entries) VALUES(?,?,?)") ||
      !span.prepare(db, "INSERT INTO event_blocks(blk, min_us, max_us, rows) VALUES(?,?,?,?)")) {
    return false;
  }
  // One sort of the block's rows, newest first; every list is dealt from it.
  std::vector<std::uint32_t> newest_first(entries_.size());
  std::iota(newest_first.begin(), newest_first.end(), 0U);
  std::sort(newest_first.begin(), newest_first.end(),
            [&](std::uint32_t a, std::uint32_t b) { return newer(entries_[a], entries_[b]); });
  // One list per value of a column; the key binds as the column's type
  // (text for pots and types, an integer for nodes).
  const auto put_lists = [&](Kind kind, const auto& column) {
    const Lists lists(newest_first, entries_, column.of_row, column.keys.size());
    for (std::size_t v = 0; v < lists.size(); ++v) {
      list.bind(1, static_cast<std::int64_t>(kind));
      list.bind(2, *column.keys[v]);
      list.bind(3, block_);
      list.bind_blob(4, lists[v].data(), static_cast<int>(lists[v].size()));
      if (list.step() != SQLITE_DONE) {
        return false;
      }
      list.reset();
    }
    return true;
  };
  if (!put_lists(Kind::pot_id, pot_ids_) || !put_lists(Kind::event_type, event_types_) ||
      !put_lists(Kind::pot_type, pot_types_) || !put_lists(Kind::node_id, node_ids_)) {
    return false;
  }
  // Sources in key order: each insert lands at the end of the table (the
  // block leads the key), and one list per address.
  const Lists source_lists(newest_first, entries_, sources_.of_row, sources_.keys.size());
  std::vector<std::uint32_t> by_address(sources_.keys.size());
  std::iota(by_address.begin(), by_address.end(), 0U);
  std::sort(by_address.begin(), by_address.end(),
            [&](std::uint32_t a, std::uint32_t b) { return *sources_.keys[a] < *sources_.keys[b]; });
  for (const std::uint32_t v : by_address) {
    source.bind(1, block_);
    source.bind_blob(2, sources_.keys[v]->data(), 16);
    source.bind_blob(3, source_lists[v].data(), static_cast<int>(source_lists[v].size()));
    if (source.step() != SQLITE_DONE) {
      return false;
    }
    source.reset();
  }
  span.bind(1, block_);
  span.bind(2, min_us_);
  span.bind(3, max_us_);
  span.bind(4, static_cast<std::int64_t>(entries_.size()));
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

bool read_meta(sqlite3* db, std::string_view name, std::int64_t& out) {
  sqlite::Stmt s;
  if (!s.prepare(db, "SELECT value FROM store_meta WHERE name = ?")) {
    return false;
  }
  s.bind(1, name);
  if (s.step() != SQLITE_ROW) {
    return false;
  }
  out = s.int64(0);
  return true;
}

bool write_meta(sqlite3* db, std::string_view name, std::int64_t value) {
  sqlite::Stmt s;
  if (!s.prepare(db, "UPDATE store_meta SET value = ? WHERE name = ?")) {
    return false;
  }
  s.bind(1, value);
  s.bind(2, name);
  return s.step() == SQLITE_DONE && sqlite3_changes(db) == 1;
}

bool write_src_span(sqlite3* db, std::int64_t span) {
  using sqlite::Stmt;
  Stmt clear, put;
  if (!clear.prepare(db, "DELETE FROM event_src_span WHERE span = ?") ||
      !put.prepare(db, "INSERT INTO event_src_span(span, src, rows, first_us, last_us, blocks) VALUES(?,?,?,?,?,?)")) {
    return false;
  }
  clear.bind(1, span);
  if (clear.step() != SQLITE_DONE) {
    return false;
  }
  // One cursor per block, each in address order (event_src's key), merged
  // by address: no sort, and memory per block rather than per address. Per
  // list only its length and its first and last entries' times (lists are
  // newest first).
  const std::int64_t first_block = span_first_block(span);
  std::vector<Stmt> blocks(static_cast<std::size_t>(kSpanBlocks));
  struct Head {
    Ip16 src;
    std::size_t block;
  };
  const auto later = [](const Head& a, const Head& b) { return b.src < a.src; };  // min-heap by address
  std::vector<Head> heads;
  const auto advance = [&](std::size_t b) {
    Stmt& s = blocks[b];
    for (;;) {
      const int rc = s.step();
      if (rc == SQLITE_DONE) {
        return true;
      }
      if (rc != SQLITE_ROW) {
        return false;
      }
      if (sqlite3_column_bytes(s.get(), 0) == 16 && s.int64(1) >= static_cast<std::int64_t>(kEntryBytes) &&
          sqlite3_column_bytes(s.get(), 2) == 8 && sqlite3_column_bytes(s.get(), 3) == 8) {
        Head h{{}, b};
        std::memcpy(h.src.data(), sqlite3_column_blob(s.get(), 0), 16);
        heads.push_back(h);
        std::push_heap(heads.begin(), heads.end(), later);
        return true;
      }
      // not a list this store writes (a damaged database): left out
    }
  };
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    if (!blocks[b].prepare(db,
                           "SELECT src, length(entries), substr(entries, 1, 8), substr(entries, -16, 8) "
                           "FROM event_src WHERE blk = ?")) {
      return false;
    }
    blocks[b].bind(1, first_block + static_cast<std::int64_t>(b));
    if (!advance(b)) {
      return false;
    }
  }
  SrcSpan sum;
  Ip16 src{};
  bool have = false;
  const auto flush = [&] {
    if (!have) {
      return true;
    }
    put.bind(1, span);
    put.bind_blob(2, src.data(), 16);
    put.bind(3, sum.rows);
    put.bind(4, sum.first_us);
    put.bind(5, sum.last_us);
    put.bind(6, static_cast<std::int64_t>(sum.blocks));
    const bool ok = put.step() == SQLITE_DONE;
    put.reset();
    return ok;
  };
  while (!heads.empty()) {
    std::pop_heap(heads.begin(), heads.end(), later);
    const Head h = heads.back();
    heads.pop_back();
    const Stmt& s = blocks[h.block];
    const std::int64_t newest = get_le(static_cast<const unsigned char*>(sqlite3_column_blob(s.get(), 2)));
    const std::int64_t oldest = get_le(static_cast<const unsigned char*>(sqlite3_column_blob(s.get(), 3)));
    if (!have || h.src != src) {
      if (!flush()) {
        return false;
      }
      src = h.src;
      sum = SrcSpan{span, 0, oldest, newest, 0};
      have = true;
    }
    sum.rows += s.int64(1) / static_cast<std::int64_t>(kEntryBytes);
    sum.first_us = std::min(sum.first_us, oldest);
    sum.last_us = std::max(sum.last_us, newest);
    sum.blocks |= std::uint64_t{1} << h.block;
    if (!advance(h.block)) {
      return false;
    }
  }
  return flush();
}

bool read_stale_spans(sqlite3* db, std::vector<std::int64_t>& out) {
  sqlite::Stmt s;
  if (!s.prepare(db, "SELECT span FROM event_src_span_stale ORDER BY span")) {
    return false;
  }
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(s.int64(0));
  }
  return rc == SQLITE_DONE;
}

bool AddressSpans::summarised(std::int64_t span) const {
  return span < spans_below && !std::binary_search(stale.begin(), stale.end(), span);
}

bool AddressSpans::may_hold(std::int64_t block) const {
  const std::int64_t span = span_of_block(block);
  if (!summarised(span)) {
    return true;
  }
  const auto it =
      std::lower_bound(spans.begin(), spans.end(), span, [](const SrcSpan& s, std::int64_t v) { return s.span < v; });
  return it != spans.end() && it->span == span && ((it->blocks >> (block - span_first_block(span))) & 1U) != 0;
}

bool read_address_spans(sqlite3* db, const Ip16& src, AddressSpans& out) {
  sqlite::Stmt oldest;
  if (!read_src_spans_below(db, out.spans_below) || !read_stale_spans(db, out.stale) ||
      !oldest.prepare(db, "SELECT min(blk) FROM event_blocks")) {
    return false;
  }
  const int rc = oldest.step();
  if (rc != SQLITE_ROW) {
    return false;
  }
  if (sqlite3_column_type(oldest.get(), 0) == SQLITE_NULL) {
    return true;  // no written block
  }
  // One probe per summarised span; stale ones are not asked at all.
  sqlite::Stmt summary;
  if (!summary.prepare(db, "SELECT rows, first_us, last_us, blocks FROM event_src_span WHERE span = ? AND src = ?")) {
    return false;
  }
  summary.bind_blob(2, src.data(), 16);
  for (std::int64_t span = span_of_block(oldest.int64(0)); span < out.spans_below; ++span) {
    if (!out.summarised(span)) {
      continue;
    }
    summary.bind(1, span);
    const int found = summary.step();
    if (found == SQLITE_ROW) {
      out.spans.push_back(SrcSpan{span, summary.int64(0), summary.int64(1), summary.int64(2),
                                  static_cast<std::uint64_t>(summary.int64(3))});
    } else if (found != SQLITE_DONE) {
      return false;
    }
    sqlite3_reset(summary.get());  // keeps the address bound
  }
  return true;
}

}  // namespace honeycomb::store::postings
