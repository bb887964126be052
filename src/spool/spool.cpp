// The durable spool: segment files of CRC-checked records, an `acked` file,
// and a lock file. Format, policies and loss windows: docs/SPOOL.md.
//
// Concurrency: one mutex (`Impl::mutex`) guards the segment list, the
// append fd and the counters that move with them; append() holds it across
// its single write(), so a reader that has taken it knows every byte up to
// a segment's recorded size is complete. Syncing, persisting `acked` and
// unlinking files happen outside it, so appends do not wait for the disk
// (except under FsyncPolicy::always, which asks for exactly that).
#include "spool/spool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <optional>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace honeycomb::spool {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Record layout: [u32 body_len][u32 crc32c(body)] then the body
// [u64 seq][i64 received_us][u16 origin_len][origin][line].
constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kBodyFixedBytes = 18;
// Bounds a body so a corrupt length cannot make a reader allocate gigabytes;
// far above the node's largest line (max_line_bytes is at most 256 MiB).
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{1} << 30;
constexpr std::size_t kMaxOriginBytes = 0xFFFF;
// Readers pread this much at a time (more when one record is larger).
constexpr std::size_t kReadChunkBytes = std::size_t{1} << 20;
// A buffer grown past this by a rare huge line is given back afterwards.
constexpr std::size_t kKeepBufferBytes = std::size_t{16} << 20;
// acknowledge() may be called thousands of times a second; the file is
// rewritten at most this often unless doing so lets a segment go.
constexpr auto kAckPersistEvery = 50ms;
// The maintenance thread's tick when it has no fsync interval to keep.
constexpr auto kMaintenanceTick = 1000ms;
constexpr auto kWarnEvery = 1s;

constexpr const char* kAckedFile = "acked";
constexpr const char* kAckedTempFile = "acked.tmp";
constexpr const char* kLockFile = "lock";
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr std::size_t kSegmentDigits = 20;

template <class T>
void store_le(char* out, T value) {
  if constexpr (std::endian::native != std::endian::little) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      out[i] = static_cast<char>(static_cast<std::uint64_t>(value) >> (8 * i));
    }
  } else {
    std::memcpy(out, &value, sizeof(T));
  }
}

template <class T>
T load_le(const char* in) {
  if constexpr (std::endian::native != std::endian::little) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    }
    return static_cast<T>(value);
  } else {
    T value;
    std::memcpy(&value, in, sizeof(T));
    return value;
  }
}

std::string errno_text(int error) {
  return std::system_category().message(error);
}

std::string segment_name(std::uint64_t first_seq) {
  return fmt::format("{:020}{}", first_seq, kSegmentSuffix);
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != kSegmentDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kSegmentDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

// write() until everything is written; false with `error` set otherwise.
bool write_all(int fd, const char* data, std::size_t size, int& error) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      error = errno;
      return false;
    }
    if (n == 0) {
      error = EIO;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// pread() until `size` bytes or the end of the file; -1 on error.
ssize_t pread_full(int fd, char* data, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

enum class Parse { ok, incomplete, corrupt };

// One record decoded in place: offsets are relative to its first byte.
struct Decoded {
  std::uint64_t seq = 0;
  std::int64_t received_us = 0;
  std::size_t origin_offset = 0;
  std::size_t origin_size = 0;
  std::size_t line_offset = 0;
  std::size_t line_size = 0;
  std::size_t total = kHeaderBytes;  ///< bytes of the whole record (known once the header is)
};

Parse decode(const char* data, std::size_t available, Decoded& out) {
  if (available < kHeaderBytes) {
    out.total = kHeaderBytes;
    return Parse::incomplete;
  }
  const auto body_size = load_le<std::uint32_t>(data);
  const auto stored_crc = load_le<std::uint32_t>(data + 4);
  if (body_size < kBodyFixedBytes || body_size > kMaxBodyBytes) {
    return Parse::corrupt;
  }
  out.total = kHeaderBytes + body_size;
  if (available < out.total) {
    return Parse::incomplete;
  }
  const char* body = data + kHeaderBytes;
  if (crc32c(std::string_view(body, body_size)) != stored_crc) {
    return Parse::corrupt;
  }
  out.seq = load_le<std::uint64_t>(body);
  out.received_us = load_le<std::int64_t>(body + 8);
  out.origin_size = load_le<std::uint16_t>(body + 16);
  if (kBodyFixedBytes + out.origin_size > body_size || out.seq == 0) {
    return Parse::corrupt;
  }
  out.origin_offset = kHeaderBytes + kBodyFixedBytes;
  out.line_offset = out.origin_offset + out.origin_size;
  out.line_size = out.total - out.line_offset;
  return Parse::ok;
}

// Lets about one log line a second through, carrying how many occurrences it
// stands for, so a full disk or a flood of drops costs one line a second.
class Throttle {
 public:
  /// Adds `n` occurrences; returns how many to report now (0: stay quiet).
  std::uint64_t add(std::uint64_t n) {
    pending_.fetch_add(n, std::memory_order_relaxed);
    const std::int64_t now = Clock::now().time_since_epoch().count();
    std::int64_t last = last_.load(std::memory_order_relaxed);
    if (last != kNever && now - last < std::chrono::duration_cast<Clock::duration>(kWarnEvery).count()) {
      return 0;
    }
    if (!last_.compare_exchange_strong(last, now)) {
      return 0;
    }
    return pending_.exchange(0);
  }
  /// What was held back (at close).
  std::uint64_t take() { return pending_.exchange(0); }

 private:
  static constexpr std::int64_t kNever = INT64_MIN;
  std::atomic<std::int64_t> last_{kNever};
  std::atomic<std::uint64_t> pending_{0};
};

struct Segment {
  std::uint64_t first_seq;  ///< its name; every seq in it is >= this and < the next segment's
  std::uint64_t bytes;      ///< bytes of complete records (what readers may read)
};

// How many un-acknowledged events a segment holding seqs [first, last] had.
std::uint64_t unacked_in(std::uint64_t first, std::uint64_t last, std::uint64_t acked) {
  const std::uint64_t from = std::max(first, acked + 1);
  return last >= from ? last - from + 1 : 0;
}

}  // namespace

struct Spool::Impl {
  explicit Impl(const SpoolOptions& o) : options(o), log(o.logger ? o.logger : spdlog::default_logger()) {
    options.segment_bytes = std::max<std::uint64_t>(options.segment_bytes, 1);
    options.fsync_interval = std::max(options.fsync_interval, std::chrono::milliseconds(1));
  }

  SpoolOptions options;
  std::shared_ptr<spdlog::logger> log;
  int lock_fd = -1;
  int dir_fd = -1;
  bool recovered = false;  // open() succeeded: the destructor may persist and sync

  mutable std::mutex mutex;      // guards everything down to `encode_buffer`
  std::deque<Segment> segments;  // oldest first; back() is the one appended to
  int write_fd = -1;             // open on segments.back(); -1: the next append starts a segment
  bool roll_next = false;        // a failed write left bytes that could not be cut off
  std::uint64_t next_seq = 1;
  std::uint64_t total_bytes = 0;
  std::uint64_t dropped_events = 0;
  bool data_unsynced = false;         // appended since the last fdatasync
  bool dir_unsynced = false;          // a segment was created since the last directory sync
  std::vector<int> retired_unsynced;  // rolled segments' fds, closed once synced (interval)
  std::vector<char> encode_buffer;    // reused by every append

  std::atomic<std::uint64_t> acked{0};  // written under `mutex`, read anywhere
  std::atomic<std::uint64_t> corrupt_records{0};
  std::atomic<std::uint64_t> write_errors{0};
  std::atomic<std::uint64_t> lost_events{0};

  std::mutex ack_mutex;  // serialises rewriting <dir>/acked
  std::uint64_t persisted_acked = 0;
  std::atomic<std::int64_t> last_ack_persist{0};  // Clock ticks

  std::mutex thread_mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread maintenance;

  Throttle drop_warnings, write_warnings, sync_warnings, corrupt_warnings;

  fs::path path_of(std::uint64_t first_seq) const { return options.dir / segment_name(first_seq); }

  bool recover(std::string& error);
  void start();
  void stop();

  bool start_segment(int& error);
  std::size_t encode(const std::vector<Entry>& entries, std::size_t& kept, std::size_t& oversized);
  void drop_oldest_over_bound(std::vector<std::uint64_t>& unlink, std::uint64_t& dropped);
  void unlink_segments(const std::vector<std::uint64_t>& first_seqs);
  void report_drops(std::uint64_t dropped);

  void sync_now();
  std::uint64_t persist_acked();
  void delete_acked_segments(std::uint64_t acked_on_disk);
  void note_corrupt(std::uint64_t segment_first, std::uint64_t offset, const char* what);
};

namespace {

// Reads a segment at open: how far its records are intact.
struct Scan {
  std::uint64_t good_bytes = 0;
  std::uint64_t records = 0;
  std::uint64_t last_seq = 0;
  int read_error = 0;  ///< errno of a failed read
};

Scan scan_segment(int fd, std::uint64_t first_seq, std::uint64_t size) {
  Scan scan;
  std::string buffer;
  std::size_t parsed = 0;  // index in buffer of file offset scan.good_bytes
  std::uint64_t previous_seq = first_seq - 1;
  for (;;) {
    Decoded record;
    const Parse result = decode(buffer.data() + parsed, buffer.size() - parsed, record);
    if (result == Parse::ok) {
      if (record.seq <= previous_seq) {
        return scan;  // out of order: not written by us, cut it
      }
      previous_seq = record.seq;
      scan.last_seq = record.seq;
      ++scan.records;
      scan.good_bytes += record.total;
      parsed += record.total;
      continue;
    }
    if (result == Parse::corrupt) {
      return scan;
    }
    const std::uint64_t buffered_end = scan.good_bytes + (buffer.size() - parsed);
    if (buffered_end >= size) {
      return scan;  // torn: the file ends inside this record
    }
    buffer.erase(0, parsed);
    parsed = 0;
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(size - buffered_end, std::max(kReadChunkBytes, record.total - buffer.size())));
    const std::size_t old = buffer.size();
    buffer.resize(old + want);
    const ssize_t n = pread_full(fd, buffer.data() + old, want, buffered_end);
    if (n <= 0) {
      scan.read_error = n < 0 ? errno : 0;
      return scan;
    }
    buffer.resize(old + static_cast<std::size_t>(n));
  }
}

}  // namespace

bool Spool::Impl::recover(std::string& error) {
  const fs::path& dir = options.dir;
  if (dir.empty()) {
    error = "the spool folder is not set";
    return false;
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (dir.has_parent_path()) {
      fs::create_directories(dir.parent_path(), ec);
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      const int mkdir_error = errno;
      error = fmt::format("cannot create the spool folder {}: {}", dir.string(), errno_text(mkdir_error));
      return false;
    }
  }
  if (!fs::is_directory(dir, ec)) {
    error = fmt::format("the spool folder {} is not a folder", dir.string());
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int failure = errno;
    error = fmt::format("the spool folder {} is not writable: {}", dir.string(), errno_text(failure));
    return false;
  }
  dir_fd = open_retrying(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    const int failure = errno;
    error = fmt::format("cannot open the spool folder {}: {}", dir.string(), errno_text(failure));
    return false;
  }

  // Two nodes appending to one spool would interleave seqs and delete each
  // other's segments; the lock (released by the kernel when the process
  // dies, so never stale) refuses the second.
  const fs::path lock_path = dir / kLockFile;
  lock_fd = open_retrying(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    const int failure = errno;
    error =
        fmt::format("cannot create {}: {} (is the spool folder writable?)", lock_path.string(), errno_text(failure));
    return false;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int failure = errno;
    error = failure == EWOULDBLOCK ? fmt::format("the spool folder {} is in use by another node ({} is locked)",
                                                 dir.string(), lock_path.string())
                                   : fmt::format("cannot lock {}: {}", lock_path.string(), errno_text(failure));
    return false;
  }

  fs::remove(dir / kAckedTempFile, ec);
  std::uint64_t acked_on_disk = 0;
  if (const int fd = open_retrying((dir / kAckedFile).c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    char text[32] = {};
    const ssize_t n = pread_full(fd, text, sizeof text - 1, 0);
    ::close(fd);
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = n > 0 ? std::strtoull(text, &end, 10) : 0;
    if (n <= 0 || end == text || errno != 0 || (*end != '\n' && *end != '\0')) {
      log->warn("spool: {} is unreadable; treating nothing as acknowledged (events may be sent twice)",
                (dir / kAckedFile).string());
    } else {
      acked_on_disk = value;
    }
  } else if (errno != ENOENT) {
    const int failure = errno;
    error = fmt::format("cannot read {}: {}", (dir / kAckedFile).string(), errno_text(failure));
    return false;
  }
  persisted_acked = acked_on_disk;
  acked.store(acked_on_disk);

  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const auto first = parse_segment_name(item.path().filename().native());
    if (!first || *first == 0 || !item.is_regular_file(ec)) {
      continue;
    }
    const auto size = item.file_size(ec);
    segments.push_back(Segment{*first, ec ? 0 : size});
  }
  if (ec) {
    error = fmt::format("cannot list the spool folder {}: {}", dir.string(), ec.message());
    return false;
  }
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });

  // Only the last segment can end in a torn record (older ones were complete
  // when the next one was started), so only it is read in full.
  std::uint64_t recovered_next = 1;
  if (!segments.empty()) {
    Segment& last = segments.back();
    const fs::path path = path_of(last.first_seq);
    const int fd = open_retrying(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      const int failure = errno;
      error = fmt::format("cannot open {}: {}", path.string(), errno_text(failure));
      return false;
    }
    const Scan scan = scan_segment(fd, last.first_seq, last.bytes);
    if (scan.read_error != 0) {
      error = fmt::format("cannot read {}: {}", path.string(), errno_text(scan.read_error));
      ::close(fd);
      return false;
    }
    if (scan.good_bytes < last.bytes) {
      if (::ftruncate(fd, static_cast<off_t>(scan.good_bytes)) != 0) {
        const int failure = errno;
        error = fmt::format("cannot cut the torn tail of {}: {}", path.string(), errno_text(failure));
        ::close(fd);
        return false;
      }
      corrupt_records.fetch_add(1);
      log->warn("spool: {} ended in {} bytes of a torn or corrupt record (a crash mid-write); cut off after {} records",
                path.string(), last.bytes - scan.good_bytes, scan.records);
      last.bytes = scan.good_bytes;
    }
    ::close(fd);
    // An empty last segment still tells the seq it would have started at.
    recovered_next = scan.records > 0 ? scan.last_seq + 1 : last.first_seq;
    if (scan.records == 0) {
      fs::remove(path, ec);
      segments.pop_back();
    }
  }
  // Seqs never go back, also when every segment is gone: the core may have
  // stored (and deduplicates on) every seq up to the acknowledged one.
  next_seq = std::max({recovered_next, acked_on_disk + 1, std::uint64_t{1}});

  std::vector<std::uint64_t> acked_segments;
  while (!segments.empty()) {
    const std::uint64_t last_seq = segments.size() > 1 ? segments[1].first_seq - 1 : next_seq - 1;
    if (last_seq > acked_on_disk) {
      break;
    }
    acked_segments.push_back(segments.front().first_seq);
    segments.pop_front();
  }
  unlink_segments(acked_segments);

  for (const Segment& segment : segments) {
    total_bytes += segment.bytes;
  }
  if (!segments.empty()) {
    const fs::path path = path_of(segments.back().first_seq);
    write_fd = open_retrying(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (write_fd < 0) {
      const int failure = errno;
      error = fmt::format("cannot open {} for appending: {}", path.string(), errno_text(failure));
      return false;
    }
  }
  std::vector<std::uint64_t> over_bound;
  std::uint64_t dropped = 0;
  drop_oldest_over_bound(over_bound, dropped);
  unlink_segments(over_bound);
  report_drops(dropped);

  log->info("spool {}: {} segments, {} bytes, next seq {}, acknowledged up to {}", dir.string(), segments.size(),
            total_bytes, next_seq, acked_on_disk);
  recovered = true;
  return true;
}

void Spool::Impl::start() {
  maintenance = std::thread([this] {
    const bool syncs = options.fsync == FsyncPolicy::interval;
    const auto tick =
        syncs ? std::chrono::duration_cast<Clock::duration>(options.fsync_interval) : Clock::duration(kMaintenanceTick);
    std::unique_lock lock(thread_mutex);
    auto deadline = Clock::now() + tick;
    while (!wake.wait_until(lock, deadline, [this] { return stopping; })) {
      lock.unlock();
      if (syncs) {
        sync_now();
      }
      // An acknowledgement that arrived within kAckPersistEvery of the
      // previous one and was not followed by another is written here.
      delete_acked_segments(persist_acked());
      lock.lock();
      deadline = Clock::now() + tick;
    }
  });
}

void Spool::Impl::stop() {
  if (maintenance.joinable()) {
    {
      std::lock_guard lock(thread_mutex);
      stopping = true;
    }
    wake.notify_all();
    maintenance.join();
  }
}

bool Spool::Impl::start_segment(int& error) {
  if (write_fd >= 0) {
    if (options.fsync == FsyncPolicy::interval && data_unsynced) {
      retired_unsynced.push_back(write_fd);  // its tail is synced by the thread, off this path
    } else {
      ::close(write_fd);
    }
    write_fd = -1;
  }
  if (!segments.empty() && segments.back().first_seq == next_seq) {
    // Started and then never written to (its write failed): reuse the name.
    total_bytes -= segments.back().bytes;
    segments.pop_back();
  }
  const fs::path path = path_of(next_seq);
  write_fd = open_retrying(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (write_fd < 0) {
    error = errno;
    return false;
  }
  segments.push_back(Segment{next_seq, 0});
  roll_next = false;
  // The new name must survive a power loss as surely as the bytes in it.
  if (options.fsync == FsyncPolicy::always) {
    ::fsync(dir_fd);
  } else if (options.fsync == FsyncPolicy::interval) {
    dir_unsynced = true;
  }
  return true;
}

std::size_t Spool::Impl::encode(const std::vector<Entry>& entries, std::size_t& kept, std::size_t& oversized) {
  std::size_t size = 0;
  kept = 0;
  oversized = 0;
  for (const Entry& entry : entries) {
    const std::size_t body = kBodyFixedBytes + std::min(entry.origin.size(), kMaxOriginBytes) + entry.line.size();
    if (body > kMaxBodyBytes) {
      ++oversized;
      continue;
    }
    size += kHeaderBytes + body;
    ++kept;
  }
  if (encode_buffer.size() < size) {
    encode_buffer.resize(size);
  }
  char* out = encode_buffer.data();
  std::uint64_t seq = next_seq;
  for (const Entry& entry : entries) {
    const std::size_t origin_size = std::min(entry.origin.size(), kMaxOriginBytes);
    const std::size_t body = kBodyFixedBytes + origin_size + entry.line.size();
    if (body > kMaxBodyBytes) {
      continue;
    }
    char* body_start = out + kHeaderBytes;
    store_le(body_start, seq++);
    store_le(body_start + 8, entry.received_us);
    store_le(body_start + 16, static_cast<std::uint16_t>(origin_size));
    if (origin_size > 0) {
      std::memcpy(body_start + kBodyFixedBytes, entry.origin.data(), origin_size);
    }
    if (!entry.line.empty()) {
      std::memcpy(body_start + kBodyFixedBytes + origin_size, entry.line.data(), entry.line.size());
    }
    store_le(out, static_cast<std::uint32_t>(body));
    store_le(out + 4, crc32c(std::string_view(body_start, body)));
    out += kHeaderBytes + body;
  }
  return size;
}

void Spool::Impl::drop_oldest_over_bound(std::vector<std::uint64_t>& unlink, std::uint64_t& dropped) {
  // The segment being appended to is never dropped: the bound can be
  // exceeded by up to one segment (plus one batch).
  const std::uint64_t acked_now = acked.load();
  while (total_bytes > options.max_bytes && segments.size() > 1) {
    const Segment oldest = segments.front();
    const std::uint64_t lost = unacked_in(oldest.first_seq, segments[1].first_seq - 1, acked_now);
    dropped_events += lost;
    dropped += lost;
    total_bytes -= oldest.bytes;
    unlink.push_back(oldest.first_seq);
    segments.pop_front();
  }
}

void Spool::Impl::unlink_segments(const std::vector<std::uint64_t>& first_seqs) {
  for (const std::uint64_t first : first_seqs) {
    const fs::path path = path_of(first);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      const int unlink_error = errno;
      log->warn("spool: cannot delete {}: {}", path.string(), errno_text(unlink_error));
    }
  }
}

void Spool::Impl::report_drops(std::uint64_t dropped) {
  if (dropped == 0) {
    return;
  }
  if (const std::uint64_t report = drop_warnings.add(dropped); report > 0) {
    log->warn("spool: full (max {} bytes): dropped the {} oldest un-acknowledged events", options.max_bytes, report);
  }
}

void Spool::Impl::sync_now() {
  int fd = -1;
  std::vector<int> retired;
  bool dir = false;
  {
    std::lock_guard lock(mutex);
    if (write_fd >= 0 && data_unsynced) {
      // A duplicate, so the sync runs outside the lock and a roll closing
      // write_fd meanwhile cannot make us sync a reused descriptor.
      fd = ::fcntl(write_fd, F_DUPFD_CLOEXEC, 0);
      if (fd < 0 && ::fdatasync(write_fd) != 0) {
        const int sync_error = errno;
        if (const auto n = sync_warnings.add(1); n > 0) {
          log->warn("spool: fdatasync failed ({} times): {}", n, errno_text(sync_error));
        }
      }
    }
    data_unsynced = false;
    retired.swap(retired_unsynced);
    dir = dir_unsynced;
    dir_unsynced = false;
  }
  auto sync_and_close = [this](int descriptor) {
    if (::fdatasync(descriptor) != 0) {
      const int sync_error = errno;
      if (const auto n = sync_warnings.add(1); n > 0) {
        log->warn("spool: fdatasync failed ({} times): {}", n, errno_text(sync_error));
      }
    }
    ::close(descriptor);
  };
  for (const int old : retired) {
    sync_and_close(old);
  }
  if (fd >= 0) {
    sync_and_close(fd);
  }
  if (dir) {
    ::fsync(dir_fd);
  }
}

std::uint64_t Spool::Impl::persist_acked() {
  std::lock_guard lock(ack_mutex);
  const std::uint64_t value = acked.load();
  if (value == persisted_acked) {
    return persisted_acked;
  }
  last_ack_persist.store(Clock::now().time_since_epoch().count());
  const fs::path temp = options.dir / kAckedTempFile;
  const std::string text = fmt::format("{}\n", value);
  const int fd = open_retrying(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int error = 0;
  bool ok = fd >= 0 && write_all(fd, text.data(), text.size(), error);
  if (fd < 0) {
    error = errno;
  }
  if (ok && options.fsync != FsyncPolicy::never && ::fdatasync(fd) != 0) {
    error = errno;
    ok = false;
  }
  if (fd >= 0) {
    ::close(fd);
  }
  // rename() replaces the old file atomically: `acked` is never torn.
  const fs::path target = options.dir / kAckedFile;
  if (ok && ::rename(temp.c_str(), target.c_str()) != 0) {
    error = errno;
    ok = false;
  }
  if (!ok) {
    if (const auto n = write_warnings.add(1); n > 0) {
      log->warn("spool: cannot write {} ({} times): {}", target.string(), n, errno_text(error));
    }
    return persisted_acked;
  }
  persisted_acked = value;
  return value;
}

void Spool::Impl::delete_acked_segments(std::uint64_t acked_on_disk) {
  std::vector<std::uint64_t> done;
  {
    std::lock_guard lock(mutex);
    // Only closed segments: the one being appended to stays, so its name
    // keeps carrying the next seq.
    while (segments.size() > 1 && segments[1].first_seq - 1 <= acked_on_disk) {
      total_bytes -= segments.front().bytes;
      done.push_back(segments.front().first_seq);
      segments.pop_front();
    }
  }
  unlink_segments(done);
}

void Spool::Impl::note_corrupt(std::uint64_t segment_first, std::uint64_t offset, const char* what) {
  corrupt_records.fetch_add(1);
  if (const auto n = corrupt_warnings.add(1); n > 0) {
    log->warn("spool: {} record in {} at byte {} ({} such since the last warning); the rest of that segment is skipped",
              what, path_of(segment_first).string(), offset, n);
  }
}

// ---------------------------------------------------------------------------

Spool::Spool(const SpoolOptions& options) : impl_(std::make_unique<Impl>(options)) {}

std::unique_ptr<Spool> Spool::open(const SpoolOptions& options, std::string& error) {
  std::unique_ptr<Spool> spool(new Spool(options));
  try {
    if (!spool->impl_->recover(error)) {
      return nullptr;
    }
    spool->impl_->start();
  } catch (const std::exception& e) {
    error = fmt::format("cannot open the spool {}: {}", options.dir.string(), e.what());
    return nullptr;
  }
  return spool;
}

Spool::~Spool() {
  Impl& d = *impl_;
  d.stop();
  if (d.recovered) {
    d.delete_acked_segments(d.persist_acked());
    d.sync_now();  // under every policy: closing is rare, and the loss window should end with it
    if (const std::uint64_t held_back = d.drop_warnings.take(); held_back > 0) {
      d.log->warn("spool: full (max {} bytes): dropped the {} oldest un-acknowledged events", d.options.max_bytes,
                  held_back);
    }
  }
  for (const int fd : d.retired_unsynced) {
    ::close(fd);
  }
  if (d.write_fd >= 0) {
    ::close(d.write_fd);
  }
  if (d.dir_fd >= 0) {
    ::close(d.dir_fd);
  }
  if (d.lock_fd >= 0) {
    ::close(d.lock_fd);  // releases the flock
  }
}

std::uint64_t Spool::append(const std::vector<Entry>& entries) {
  if (entries.empty()) {
    return 0;
  }
  Impl& d = *impl_;
  std::vector<std::uint64_t> dropped_segments;  // allocates only when the bound is hit
  std::uint64_t dropped = 0;
  std::uint64_t last_seq = 0;
  std::size_t kept = 0;
  std::size_t oversized = 0;
  int error = 0;
  const char* failed = nullptr;
  {
    std::lock_guard lock(d.mutex);
    if ((d.write_fd < 0 || d.roll_next || d.segments.back().bytes >= d.options.segment_bytes) &&
        !d.start_segment(error)) {
      failed = "cannot start a segment";
      kept = entries.size();
    } else {
      const std::size_t size = d.encode(entries, kept, oversized);
      Segment& current = d.segments.back();
      if (kept == 0) {
        // every entry was over kMaxBodyBytes
      } else if (write_all(d.write_fd, d.encode_buffer.data(), size, error)) {
        current.bytes += size;
        d.total_bytes += size;
        d.next_seq += kept;
        last_seq = d.next_seq - 1;
        if (d.options.fsync == FsyncPolicy::always) {
          if (::fdatasync(d.write_fd) != 0) {
            const int sync_error = errno;
            if (d.sync_warnings.add(1) > 0) {
              d.log->warn("spool: fdatasync failed: {}", errno_text(sync_error));
            }
          }
        } else {
          d.data_unsynced = true;
        }
        d.drop_oldest_over_bound(dropped_segments, dropped);
      } else {
        failed = "write failed";
        // Cut what a partial write left, so the next record starts where
        // readers expect one; if even that fails, the next append starts a
        // new segment and these seqs are skipped (never reused).
        if (::ftruncate(d.write_fd, static_cast<off_t>(current.bytes)) != 0) {
          d.roll_next = true;
          d.next_seq += kept;
        }
      }
    }
    if (d.encode_buffer.size() > kKeepBufferBytes) {
      std::vector<char>().swap(d.encode_buffer);
    }
  }
  if (failed != nullptr) {
    d.write_errors.fetch_add(1);
    d.lost_events.fetch_add(kept);
    if (const auto n = d.write_warnings.add(1); n > 0) {
      d.log->warn("spool {}: {} ({}): {} events lost ({} failed writes since the last warning)", d.options.dir.string(),
                  failed, errno_text(error), kept, n);
    }
  }
  if (oversized > 0) {
    d.lost_events.fetch_add(oversized);
    d.log->warn("spool: {} events over {} bytes cannot be stored and are lost", oversized, kMaxBodyBytes);
  }
  if (!dropped_segments.empty()) {
    d.unlink_segments(dropped_segments);
    d.report_drops(dropped);
  }
  return last_seq;
}

void Spool::acknowledge(std::uint64_t seq) {
  Impl& d = *impl_;
  bool frees_segment = false;
  {
    std::lock_guard lock(d.mutex);
    seq = std::min(seq, d.next_seq - 1);  // never beyond what was appended
    if (seq <= d.acked.load()) {
      return;
    }
    d.acked.store(seq);
    frees_segment = d.segments.size() > 1 && d.segments[1].first_seq - 1 <= seq;
  }
  const auto since_last =
      Clock::now() - Clock::time_point(Clock::duration(d.last_ack_persist.load(std::memory_order_relaxed)));
  if (!frees_segment && since_last < kAckPersistEvery) {
    return;  // the maintenance thread or a later call writes it
  }
  d.delete_acked_segments(d.persist_acked());
}

Spool::Reader Spool::reader(std::uint64_t from) {
  return Reader(*this, std::max<std::uint64_t>(from, 1));
}

std::uint64_t Spool::acked_seq() const {
  return impl_->acked.load();
}

std::uint64_t Spool::write_errors() const {
  return impl_->write_errors.load();
}

SpoolStats Spool::stats() const {
  const Impl& d = *impl_;
  SpoolStats s;
  std::lock_guard lock(d.mutex);
  s.next_seq = d.next_seq;
  s.acked_seq = d.acked.load();
  if (!d.segments.empty()) {
    const std::uint64_t floor = std::max(s.acked_seq, d.segments.front().first_seq - 1);
    s.pending_events = d.next_seq - 1 > floor ? d.next_seq - 1 - floor : 0;
  }
  s.bytes = d.total_bytes;
  s.segments = d.segments.size();
  s.dropped_events = d.dropped_events;
  s.corrupt_records = d.corrupt_records.load();
  s.lost_events = d.lost_events.load();
  return s;
}

void Spool::sync() {
  impl_->sync_now();
}

// ---------------------------------------------------------------------------

Spool::Reader::Reader(Reader&& other) noexcept
    : spool_(other.spool_),
      next_(other.next_),
      buffer_(std::move(other.buffer_)),
      read_ahead_(std::exchange(other.read_ahead_, 0)),
      spans_(std::move(other.spans_)),
      fd_(std::exchange(other.fd_, -1)),
      segment_first_(other.segment_first_),
      offset_(other.offset_),
      limit_(other.limit_),
      segment_closed_(other.segment_closed_),
      next_segment_first_(other.next_segment_first_) {}

Spool::Reader& Spool::Reader::operator=(Reader&& other) noexcept {
  if (this != &other) {
    close_segment();
    spool_ = other.spool_;
    next_ = other.next_;
    buffer_ = std::move(other.buffer_);
    read_ahead_ = std::exchange(other.read_ahead_, 0);
    spans_ = std::move(other.spans_);
    fd_ = std::exchange(other.fd_, -1);
    segment_first_ = other.segment_first_;
    offset_ = other.offset_;
    limit_ = other.limit_;
    segment_closed_ = other.segment_closed_;
    next_segment_first_ = other.next_segment_first_;
  }
  return *this;
}

Spool::Reader::~Reader() {
  close_segment();
}

void Spool::Reader::close_segment() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

// Learns from the spool how much of the open segment is complete and
// whether it is still the last; if it was deleted (acknowledged or dropped)
// or none is open, opens the one holding `next_` (or the oldest).
Spool::Reader::Where Spool::Reader::refresh() {
  Impl& d = *spool_->impl_;
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::uint64_t first = 0;
    {
      std::lock_guard lock(d.mutex);
      const auto& segments = d.segments;
      auto by_first = [](const Segment& s, std::uint64_t seq) { return s.first_seq < seq; };
      if (fd_ >= 0) {
        const auto it = std::lower_bound(segments.begin(), segments.end(), segment_first_, by_first);
        if (it != segments.end() && it->first_seq == segment_first_) {
          limit_ = it->bytes;
          segment_closed_ = it + 1 != segments.end();
          next_segment_first_ = segment_closed_ ? (it + 1)->first_seq : 0;
          return Where::same;
        }
      }
      if (segments.empty()) {
        close_segment();
        return Where::none;
      }
      // The last segment starting at or before next_, else the oldest.
      auto it = std::upper_bound(segments.begin(), segments.end(), next_,
                                 [](std::uint64_t seq, const Segment& s) { return seq < s.first_seq; });
      if (it != segments.begin()) {
        --it;
      }
      first = it->first_seq;
      limit_ = it->bytes;
      segment_closed_ = it + 1 != segments.end();
      next_segment_first_ = segment_closed_ ? (it + 1)->first_seq : 0;
    }
    close_segment();
    fd_ = open_retrying(d.path_of(first).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) {
      segment_first_ = first;
      offset_ = 0;
      return Where::moved;
    }
    if (const int open_error = errno; open_error != ENOENT) {
      if (const auto n = d.corrupt_warnings.add(1); n > 0) {
        d.log->warn("spool: cannot open {}: {}", d.path_of(first).string(), errno_text(open_error));
      }
      return Where::none;
    }
    // Deleted between the look-up and the open: look again.
  }
  return Where::none;
}

std::vector<Record> Spool::Reader::read(std::size_t max_records, std::size_t max_bytes) {
  Impl& d = *spool_->impl_;
  std::vector<Record> out;
  spans_.clear();
  if (max_records == 0) {
    return out;
  }
  // Keep what the previous call read ahead (the records it returned may go).
  buffer_.erase(0, buffer_.size() - std::min(read_ahead_, buffer_.size()));
  read_ahead_ = 0;
  if (buffer_.capacity() > kKeepBufferBytes && buffer_.size() < kKeepBufferBytes / 2) {
    buffer_.shrink_to_fit();
  }
  const Where at_start = refresh();
  if (at_start == Where::none) {
    buffer_.clear();
    return out;
  }
  if (at_start == Where::moved) {
    buffer_.clear();
  }
  std::size_t parsed = 0;  // index in buffer_ of file offset offset_; the rest is read ahead
  std::size_t emitted_bytes = 0;

  // Leaves the current segment (exhausted or corrupt) for the next one.
  auto next_segment = [&]() -> bool {
    buffer_.resize(parsed);  // what was read ahead belongs to the old segment
    next_ = std::max(next_, next_segment_first_);
    close_segment();
    return refresh() != Where::none;
  };
  // A record that cannot be read whole (`what`: "a corrupt", "a truncated")
  // is counted; a closed segment is left for the next one; in the segment
  // still being appended to, what is written so far is skipped. False: no
  // segment left to read.
  auto skip_bad_record = [&](const char* what) -> bool {
    d.note_corrupt(segment_first_, offset_, what);
    if (segment_closed_) {
      return next_segment();
    }
    buffer_.resize(parsed);
    offset_ = limit_;
    return true;
  };

  while (spans_.size() < max_records && emitted_bytes < max_bytes) {
    const std::size_t available = buffer_.size() - parsed;
    Decoded record;
    const Parse result = decode(buffer_.data() + parsed, available, record);
    if (result == Parse::ok) {
      if (record.seq >= next_) {
        spans_.push_back(Span{record.seq, record.received_us, parsed + record.origin_offset, record.origin_size,
                              parsed + record.line_offset, record.line_size});
        next_ = record.seq + 1;
        emitted_bytes += record.total;
      }
      parsed += record.total;
      offset_ += record.total;
      continue;
    }
    if (result == Parse::corrupt) {
      if (!skip_bad_record("a corrupt")) {
        break;
      }
      continue;
    }

    // Incomplete: the record (or the next header) needs more bytes.
    const std::uint64_t buffered_end = offset_ + available;
    const std::uint64_t record_end = offset_ + record.total;
    if (record_end <= limit_) {
      if (spans_.empty() && parsed > 0) {
        buffer_.erase(0, parsed);  // skipped records (seq < position) need no room
        parsed = 0;
      }
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(
          limit_ - buffered_end, std::max<std::uint64_t>(kReadChunkBytes, record_end - buffered_end)));
      const std::size_t old = buffer_.size();
      buffer_.resize(old + want);
      const ssize_t n = pread_full(fd_, buffer_.data() + old, want, buffered_end);
      if (n < 0) {
        const int read_error = errno;
        buffer_.resize(old);
        if (const auto warned = d.corrupt_warnings.add(1); warned > 0) {
          d.log->warn("spool: cannot read {}: {}", d.path_of(segment_first_).string(), errno_text(read_error));
        }
        break;
      }
      buffer_.resize(old + static_cast<std::size_t>(n));
      if (buffered_end + static_cast<std::uint64_t>(n) < record_end) {
        // Shorter than append() wrote: cut from outside.
        if (!skip_bad_record("a truncated")) {
          break;
        }
      }
      continue;
    }
    // Past what append() has finished writing.
    if (segment_closed_) {
      if (offset_ < limit_) {
        d.note_corrupt(segment_first_, offset_, "a torn");
      }
      if (!next_segment()) {
        break;
      }
      continue;
    }
    const std::uint64_t old_limit = limit_;
    const Where where = refresh();
    if (where == Where::none) {
      break;
    }
    if (where == Where::moved) {
      buffer_.resize(parsed);  // our segment was deleted; read ahead bytes are stale
      continue;
    }
    if (limit_ == old_limit && !segment_closed_) {
      break;  // nothing more appended yet
    }
  }

  read_ahead_ = buffer_.size() - parsed;
  out.reserve(spans_.size());
  for (const Span& span : spans_) {
    out.push_back(Record{span.seq, span.received_us,
                         std::string_view(buffer_.data() + span.origin_offset, span.origin_size),
                         std::string_view(buffer_.data() + span.line_offset, span.line_size)});
  }
  return out;
}

}  // namespace honeycomb::spool
