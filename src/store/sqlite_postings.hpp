// Block postings: how the SQLite store finds the events of one pot, event
// type, pot type, node or source address without a B-tree index per filter.
//
// Why: every SQLite index on `events` costs the single writer a B-tree
// search and an insert in the middle of a page per event, and the six of
// schema 3 cost more than the table itself (bench/store_layout: table +
// six indexes ~9 us per row, table + the unique index ~2.6 us). Instead the
// rows are grouped in blocks of 2^kBlockBits ids by arrival; the writer
// gathers each filter value's (event_us, id) pairs of the newest block in
// memory and, once the block's last id is used, writes them as one packed
// list per value (`event_postings`, `event_src`), sorted newest first, plus
// the block's time span (`event_blocks`). A block costs ~100 small inserts
// and one per distinct source address (appended in key order) instead of
// five index inserts per event. The rows past the last written block (at
// most one block) have no postings; queries read them directly. Schema and
// query plan: docs/EVENTS.md.
#pragma once

#include "store/query_support.hpp"

#include <cstdint>
#include <functional>
#include <sqlite3.h>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace honeycomb::store::postings {

using query_support::Ip16;

/// 8,192 ids per block: the rows not yet in a written block (read row by
/// row by every filtered query) stay a few MB, and a rare value costs one
/// probe per block (~1,200 on 10 M events).
constexpr int kBlockBits = 13;
inline std::int64_t block_of(std::int64_t id) {
  return id >> kBlockBits;
}
inline std::int64_t block_start(std::int64_t block) {
  return block << kBlockBits;
}

/// 64 blocks per span (524,288 ids). Per span and address, one summary
/// row (`event_src_span`: rows, first and last event time, which of the
/// span's blocks hold the address), written when the span's last block is:
/// an address's count, its time span and the blocks worth reading cost one
/// probe per span (~19 on 10 M events) instead of one per block (~1,200,
/// each a random read on a cold store).
constexpr int kSpanBlockBits = 6;
inline std::int64_t span_of_block(std::int64_t block) {
  return block >> kSpanBlockBits;
}
inline std::int64_t span_first_block(std::int64_t span) {
  return span << kSpanBlockBits;
}
constexpr std::int64_t kSpanBlocks = std::int64_t{1} << kSpanBlockBits;

/// `event_postings.kind`: the filters with few values (a list per value and block).
enum class Kind : int { pot_id = 1, event_type = 2, pot_type = 3, node_id = 4 };

/// One posted event: where it sorts in a result page and its row id.
struct Entry {
  std::int64_t event_us = 0;
  std::int64_t id = 0;
};

/// Result-page order: newest event time first, ties by id, higher first.
inline bool newer(const Entry& a, const Entry& b) {
  return a.event_us != b.event_us ? a.event_us > b.event_us : a.id > b.id;
}

/// Writes `e` packed (16 bytes, little endian) at `out`; lists are kept
/// newest first by their writer.
void pack_at(const Entry& e, char* out);
/// Appends the entries of a packed list; a length that is not a multiple of
/// 16 (a damaged database) yields the whole entries only.
void unpack(const void* data, std::size_t size, std::vector<Entry>& out);

/// The key columns of one stored row, as the writer or a rebuild sees it.
struct RowKeys {
  std::int64_t id = 0;
  std::int64_t event_us = 0;
  std::int64_t node_id = 0;  ///< as stored (sqlite::to_db)
  std::string_view pot_id, pot_type, event_type;
  const Ip16* src = nullptr;  ///< none when the source is not an address
};

/// One block's postings while it fills (the writer's newest block) or while
/// it is rebuilt after retention deleted some of its rows.
class BlockPostings {
 public:
  /// Starts gathering `block` (forgets what was gathered).
  void reset(std::int64_t block);
  std::int64_t block() const { return block_; }
  bool empty() const { return entries_.empty(); }
  std::size_t rows() const { return entries_.size(); }

  /// Adds a stored row of this block.
  void add(const RowKeys& row);

  /// Writes the block's postings and time span, inside the caller's
  /// transaction; `replace`: first deletes what the block had (a rebuild;
  /// a block with no rows left then has none). False with the connection's
  /// error on failure.
  bool write(sqlite3* db, bool replace);

 private:
  /// The distinct values of one key column in the block, each numbered in
  /// the order first seen, and each row's number.
  template <class Key, class Map>
  struct Column {
    Map numbers;
    /// The keys by number: each points at its key in `numbers` (a node's
    /// key stays where it is when the map rehashes), so a key is kept once.
    std::vector<const Key*> keys;
    std::vector<std::uint32_t> of_row;
    void clear() {
      numbers.clear();
      keys.clear();
      of_row.clear();
    }
    template <class Lookup>
    void add(const Lookup& key) {
      auto it = numbers.find(key);
      if (it == numbers.end()) {
        it = numbers.emplace(Key(key), static_cast<std::uint32_t>(keys.size())).first;
        keys.push_back(&it->first);
      }
      of_row.push_back(it->second);
    }
  };
  struct Ip16Hash {
    std::size_t operator()(const Ip16& ip) const noexcept;
  };
  using TextColumn =
      Column<std::string, std::unordered_map<std::string, std::uint32_t, query_support::TextHash, std::equal_to<>>>;
  static constexpr std::uint32_t kNoSource = ~std::uint32_t{0};

  /// Every value's packed list, newest first, in one buffer: the rows are
  /// sorted once and dealt out to the values in that order (not a sort and
  /// a string per list).
  class Lists {
   public:
    Lists(const std::vector<std::uint32_t>& newest_first, const std::vector<Entry>& entries,
          const std::vector<std::uint32_t>& of_row, std::size_t values);
    std::size_t size() const { return start_.size() - 1; }
    std::string_view operator[](std::size_t value) const {
      return std::string_view(bytes_).substr(start_[value], start_[value + 1] - start_[value]);
    }

   private:
    std::string bytes_;
    std::vector<std::size_t> start_;  ///< value v's list is [start_[v], start_[v + 1])
  };

  std::int64_t block_ = 0;
  std::int64_t min_us_ = 0, max_us_ = 0;
  std::vector<Entry> entries_;  ///< per row, in the order added
  TextColumn pot_ids_, event_types_, pot_types_;
  Column<std::int64_t, std::unordered_map<std::int64_t, std::uint32_t>> node_ids_;
  Column<Ip16, std::unordered_map<Ip16, std::uint32_t, Ip16Hash>> sources_;  ///< kNoSource for a row without one
};

/// Reads the key columns of the rows with ids in [from, to) in id order and
/// calls `each` for each; false with the connection's error on failure.
bool read_row_keys(sqlite3* db, std::int64_t from, std::int64_t to, const std::function<void(const RowKeys&)>& each);

/// A value of store_meta.
bool read_meta(sqlite3* db, std::string_view name, std::int64_t& out);
bool write_meta(sqlite3* db, std::string_view name, std::int64_t value);

/// The first id of the rows without postings (store_meta.indexed_below).
inline bool read_indexed_below(sqlite3* db, std::int64_t& out) {
  return read_meta(db, "indexed_below", out);
}
inline bool write_indexed_below(sqlite3* db, std::int64_t value) {
  return write_meta(db, "indexed_below", value);
}
/// The first span without address summaries (store_meta.src_spans_below);
/// every span below it has its summaries, every block below indexed_below
/// its lists.
inline bool read_src_spans_below(sqlite3* db, std::int64_t& out) {
  return read_meta(db, "src_spans_below", out);
}
inline bool write_src_spans_below(sqlite3* db, std::int64_t value) {
  return write_meta(db, "src_spans_below", value);
}

/// Writes the address summaries of `span` from its blocks' event_src lists,
/// replacing what it had, inside the caller's transaction. All the span's
/// blocks must have their lists written.
bool write_src_span(sqlite3* db, std::int64_t span);

/// One address's summary of one span.
struct SrcSpan {
  std::int64_t span = 0;
  std::int64_t rows = 0;
  std::int64_t first_us = 0, last_us = 0;
  std::uint64_t blocks = 0;  ///< bit i: block span_first_block(span) + i holds the address
};

/// Where one address's rows can be, from its span summaries.
struct AddressSpans {
  std::int64_t spans_below = 0;     ///< store_meta.src_spans_below
  std::vector<SrcSpan> spans;       ///< the address's summaries, oldest first (stale spans left out)
  std::vector<std::int64_t> stale;  ///< spans whose summaries are stale, in order

  /// The span's summary can be used (written, not stale).
  bool summarised(std::int64_t span) const;
  /// The block may hold rows of the address: false only when its span's
  /// summary says it does not.
  bool may_hold(std::int64_t block) const;
};
/// Reads the address's summaries: one probe per summarised, not stale span
/// of the written blocks.
bool read_address_spans(sqlite3* db, const Ip16& src, AddressSpans& out);

/// The spans whose summaries retention made stale (event_src_span_stale),
/// in order: until the writer rewrites them, readers use their blocks'
/// lists instead.
bool read_stale_spans(sqlite3* db, std::vector<std::int64_t>& out);

}  // namespace honeycomb::store::postings
