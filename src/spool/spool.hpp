// The node's durable spool: every event the node reads is appended here
// before it is forwarded, and deleted only once the core has confirmed
// storing it (Protocol v2 extension `event_ack`, docs/PROTOCOL.md). It
// survives core outages of any length and node restarts, is bounded in
// bytes (when full it drops the OLDEST events and counts them), and replays
// in order. Layout and loss windows: docs/SPOOL.md.
//
// On disk: `<dir>/<first_seq as 20 digits>.seg` segment files, each a run of
// records
//     [u32 body_len][u32 crc32c(body)] body = [u64 seq][i64 received_us]
//                                             [u16 origin_len][origin][line]
// (little endian), and `<dir>/acked`, the highest acknowledged seq (written
// to a temporary file and renamed, so it is never torn). A torn or corrupt
// tail (crash mid-write) is cut off at open; a corrupt record inside an older
// segment ends that segment's replay and is counted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace honeycomb::spool {

/// When appended bytes are forced to disk (fdatasync). A node killed by a
/// signal loses nothing that was appended under any policy (the bytes are in
/// the kernel's page cache); the policy only matters for a machine that
/// loses power or crashes.
enum class FsyncPolicy {
  never,     ///< the kernel writes back when it likes (Linux: within ~30 s)
  interval,  ///< a background thread syncs every `fsync_interval` (default)
  always,    ///< every append() is synced before it returns (slow)
};

struct SpoolOptions {
  std::filesystem::path dir;
  std::uint64_t max_bytes = std::uint64_t{1} << 30;       ///< whole spool; oldest segments dropped beyond it
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;  ///< a segment is closed once it reaches this size
  FsyncPolicy fsync = FsyncPolicy::interval;
  std::chrono::milliseconds fsync_interval{1000};
  std::shared_ptr<spdlog::logger> logger;  ///< nullptr: spdlog::default_logger()
};

/// One event to append: the line as read from the event port (a JSON object,
/// already validated), when it was read, and what the node knows of its
/// origin (the pot id of the connection; empty when unknown).
struct Entry {
  std::int64_t received_us = 0;
  std::string_view origin;
  std::string_view line;
};

/// One event read back. The views point into the reader's buffer and stay
/// valid until the next read() on the same Reader.
struct Record {
  std::uint64_t seq = 0;
  std::int64_t received_us = 0;
  std::string_view origin;
  std::string_view line;
};

struct SpoolStats {
  std::uint64_t next_seq = 1;        ///< seq the next appended event gets
  std::uint64_t acked_seq = 0;       ///< highest seq confirmed stored
  std::uint64_t pending_events = 0;  ///< next_seq - 1 - acked_seq, minus dropped ones still counted
  std::uint64_t bytes = 0;           ///< bytes of all segment files
  std::uint64_t segments = 0;
  std::uint64_t dropped_events = 0;   ///< lost to the size bound since open
  std::uint64_t corrupt_records = 0;  ///< found at open or while reading, since open
  std::uint64_t lost_events = 0;      ///< whose append failed (disk full or gone), since open
};

class Spool {
 public:
  /// Opens (creating `dir` when missing) and recovers the spool: cuts a torn
  /// tail, deletes segments whose every record is acknowledged. nullptr with
  /// `error` set when the folder cannot be used.
  static std::unique_ptr<Spool> open(const SpoolOptions& options, std::string& error);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Appends events in order; they get consecutive seqs. Thread-safe (one
  /// mutex; a write() to the page cache, plus fdatasync under `always`).
  /// Returns the seq of the last one (0 when `entries` is empty or nothing
  /// was written). Never throws; a failed write is logged (rate-limited),
  /// counted in `write_errors` and its events are lost (the disk is full or
  /// gone) and counted in `lost_events`.
  std::uint64_t append(const std::vector<Entry>& entries);

  /// The core stored everything up to `seq`: persists it and deletes the
  /// segments that hold only acknowledged events. Thread-safe. A lower seq
  /// than the current one is ignored.
  void acknowledge(std::uint64_t seq);

  /// Reads records in seq order, from a starting seq. Used by the link to
  /// the core: one reader per connection, starting at acked_seq() + 1.
  /// Segments dropped or deleted meanwhile are skipped (reading resumes at
  /// the oldest seq still on disk).
  class Reader {
   public:
    Reader(Reader&& other) noexcept;
    Reader& operator=(Reader&& other) noexcept;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader();

    /// Up to `max_records` records and about `max_bytes` bytes with seq >=
    /// the position; advances the position past them. Empty: nothing more
    /// appended yet.
    std::vector<Record> read(std::size_t max_records, std::size_t max_bytes);
    std::uint64_t position() const { return next_; }

   private:
    friend class Spool;
    Reader(Spool& spool, std::uint64_t from) : spool_(&spool), next_(from) {}
    enum class Where { same, moved, none };
    /// Where a record returned by read() lies in `buffer_` (which may grow,
    /// moving its bytes, until read() returns).
    struct Span {
      std::uint64_t seq;
      std::int64_t received_us;
      std::size_t origin_offset;
      std::size_t origin_size;
      std::size_t line_offset;
      std::size_t line_size;
    };
    Where refresh();
    void close_segment();

    Spool* spool_;
    std::uint64_t next_;
    std::string buffer_;
    std::size_t read_ahead_ = 0;  ///< bytes at the end of buffer_ already read from offset_ on
    std::vector<Span> spans_;
    int fd_ = -1;                      ///< the segment being read, -1: none yet
    std::uint64_t segment_first_ = 0;  ///< its first seq (its name)
    std::uint64_t offset_ = 0;         ///< file offset of the next record to parse
    std::uint64_t limit_ = 0;          ///< bytes of it that append() has finished writing
    bool segment_closed_ = false;      ///< a later segment exists, so `limit_` is final
    std::uint64_t next_segment_first_ = 0;
  };
  /// A reader from seq `from` (0 counts as 1). It must not outlive the spool.
  Reader reader(std::uint64_t from);

  std::uint64_t acked_seq() const;
  SpoolStats stats() const;
  std::uint64_t write_errors() const;

  /// Forces appended bytes to disk now (shutdown, and the interval thread).
  void sync();

 private:
  explicit Spool(const SpoolOptions& options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// CRC-32C (Castagnoli), hardware-accelerated when the CPU has SSE4.2.
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

}  // namespace honeycomb::spool
