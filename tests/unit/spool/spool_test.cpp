#include "spool/spool.hpp"

#include "spool/crc32c.hpp"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace honeycomb::spool {
namespace {

namespace fs = std::filesystem;

// Bytes one record takes on disk: header, fixed body fields, origin, line.
constexpr std::size_t record_bytes(std::size_t origin, std::size_t line) {
  return 8 + 18 + origin + line;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "honeycomb-spool-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Segment files of a spool folder, oldest first.
std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir)) {
    if (item.path().extension() == ".seg") {
      files.push_back(item.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::uint64_t first_seq_of(const fs::path& segment) {
  return std::stoull(segment.stem().string());
}

std::string line_for(std::uint64_t i) {
  std::string line = "{\"event\":" + std::to_string(i) + ",\"pad\":\"";
  line.append(i % 50, 'x');
  line += "\"}";
  return line;
}

class SpoolTest : public ::testing::Test {
 protected:
  SpoolOptions options(std::uint64_t segment_bytes = std::uint64_t{64} << 20) const {
    SpoolOptions o;
    o.dir = temp_.path() / "spool";
    o.segment_bytes = segment_bytes;
    o.fsync = FsyncPolicy::never;  // durability is not what these tests look at
    return o;
  }

  std::unique_ptr<Spool> open_ok(const SpoolOptions& o) const {
    std::string error;
    auto spool = Spool::open(o, error);
    EXPECT_NE(spool, nullptr) << error;
    return spool;
  }

  // Appends events `from`..`to` (their seqs, on a fresh spool) in batches.
  static void append_range(Spool& spool, std::uint64_t from, std::uint64_t to, std::size_t batch = 7) {
    std::vector<std::string> lines;
    std::vector<Entry> entries;
    for (std::uint64_t i = from; i <= to;) {
      lines.clear();
      entries.clear();
      for (std::size_t k = 0; k < batch && i <= to; ++k, ++i) {
        lines.push_back(line_for(i));
      }
      for (std::size_t k = 0; k < lines.size(); ++k) {
        entries.push_back(Entry{static_cast<std::int64_t>(1000 + from + k), "pot-1", lines[k]});
      }
      spool.append(entries);
    }
  }

  // Reads everything the reader has, in small reads to exercise resuming.
  static std::vector<std::uint64_t> read_all(Spool::Reader& reader, std::size_t per_read = 5) {
    std::vector<std::uint64_t> seqs;
    for (;;) {
      const auto records = reader.read(per_read, 1 << 20);
      if (records.empty()) {
        return seqs;
      }
      for (const Record& r : records) {
        EXPECT_EQ(r.line, line_for(r.seq)) << "seq " << r.seq;
        seqs.push_back(r.seq);
      }
    }
  }

  static std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = from; i <= to; ++i) {
      v.push_back(i);
    }
    return v;
  }

  TempDir temp_;
};

TEST(Crc32c, KnownVector) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(detail::crc32c_table("123456789", 0), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // Chaining: the CRC of a whole equals the CRC of its parts fed in turn.
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
}

TEST(Crc32c, HardwareMatchesTable) {
  if (!detail::crc32c_hardware_available()) {
    GTEST_SKIP() << "no SSE4.2 on this CPU";
  }
  EXPECT_EQ(detail::crc32c_hardware("123456789", 0), 0xE3069283u);
  std::mt19937 random(42);
  std::string bytes(4096 + 16, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(random());
  }
  for (std::size_t start = 0; start < 9; ++start) {  // every alignment
    for (std::size_t size : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 200, 1000, 4096}) {
      const std::string_view piece(bytes.data() + start, size);
      ASSERT_EQ(detail::crc32c_hardware(piece, 0), detail::crc32c_table(piece, 0)) << start << "+" << size;
      ASSERT_EQ(detail::crc32c_hardware(piece, 0x12345678u), detail::crc32c_table(piece, 0x12345678u));
    }
  }
}

TEST_F(SpoolTest, AppendThenReadInOrder) {
  auto spool = open_ok(options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->append({}), 0u);
  const std::string big_origin(70'000, 'o');  // over the u16 length: cut to 65,535
  std::vector<Entry> batch{{111, "pot-a", "{\"a\":1}"}, {222, "", "{\"b\":2}"}, {333, big_origin, ""}};
  EXPECT_EQ(spool->append(batch), 3u);
  EXPECT_EQ(spool->append({{444, "pot-b", "{\"c\":3}"}}), 4u);

  auto reader = spool->reader(1);
  const auto first = reader.read(2, 1 << 20);  // max_records is honoured
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].seq, 1u);
  EXPECT_EQ(first[0].received_us, 111);
  EXPECT_EQ(first[0].origin, "pot-a");
  EXPECT_EQ(first[0].line, "{\"a\":1}");
  EXPECT_EQ(first[1].seq, 2u);
  EXPECT_EQ(first[1].origin, "");
  EXPECT_EQ(reader.position(), 3u);
  const auto rest = reader.read(100, 1 << 20);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].seq, 3u);
  EXPECT_EQ(rest[0].origin, std::string(65'535, 'o'));
  EXPECT_EQ(rest[0].line, "");
  EXPECT_EQ(rest[1].seq, 4u);
  EXPECT_EQ(rest[1].received_us, 444);
  EXPECT_EQ(rest[1].line, "{\"c\":3}");
  EXPECT_TRUE(reader.read(100, 1 << 20).empty());

  const SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.next_seq, 5u);
  EXPECT_EQ(stats.pending_events, 4u);
  EXPECT_EQ(stats.segments, 1u);
  EXPECT_EQ(stats.bytes, fs::file_size(segment_files(options().dir).at(0)));
  EXPECT_EQ(spool->write_errors(), 0u);

  auto middle = spool->reader(3);  // a reader may start anywhere
  const auto from_three = middle.read(100, 1 << 20);
  ASSERT_EQ(from_three.size(), 2u);
  EXPECT_EQ(from_three[0].seq, 3u);
}

TEST_F(SpoolTest, EveryFsyncPolicyAppendsAndReadsBack) {
  for (const FsyncPolicy policy : {FsyncPolicy::never, FsyncPolicy::interval, FsyncPolicy::always}) {
    SpoolOptions o = options(2000);
    o.dir = temp_.path() / ("policy-" + std::to_string(static_cast<int>(policy)));
    o.fsync = policy;
    o.fsync_interval = std::chrono::milliseconds(1);
    {
      auto spool = open_ok(o);
      ASSERT_TRUE(spool);
      append_range(*spool, 1, 200);
      spool->sync();
    }
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    auto reader = spool->reader(1);
    EXPECT_EQ(read_all(reader), iota(1, 200));
  }
}

TEST_F(SpoolTest, SeqContinuesAcrossReopen) {
  {
    auto spool = open_ok(options());
    ASSERT_TRUE(spool);
    append_range(*spool, 1, 10);
  }
  auto spool = open_ok(options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().next_seq, 11u);
  EXPECT_EQ(spool->append({{1, "", line_for(11)}}), 11u);
  auto reader = spool->reader(1);
  EXPECT_EQ(read_all(reader), iota(1, 11));
}

TEST_F(SpoolTest, AckDeletesSegmentsAndSurvivesReopen) {
  const auto o = options(1000);  // a segment holds about 10 events
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    append_range(*spool, 1, 100, 1);
    const std::size_t before = segment_files(o.dir).size();
    ASSERT_GT(before, 5u);
    for (std::uint64_t seq = 1; seq <= 50; ++seq) {  // many small acks, coalesced
      spool->acknowledge(seq);
    }
    spool->acknowledge(20);  // lower: ignored
    EXPECT_EQ(spool->acked_seq(), 50u);
    const auto files = segment_files(o.dir);
    EXPECT_LT(files.size(), before);
    // Every remaining segment still holds an un-acknowledged event.
    for (std::size_t i = 0; i + 1 < files.size(); ++i) {
      EXPECT_GT(first_seq_of(files[i + 1]) - 1, 50u) << files[i];
    }
    EXPECT_LE(first_seq_of(files.front()), 51u);
    EXPECT_EQ(spool->stats().pending_events, 50u);
  }
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->acked_seq(), 50u);
    auto reader = spool->reader(spool->acked_seq() + 1);
    EXPECT_EQ(read_all(reader), iota(51, 100));
    spool->acknowledge(100);
  }
  // Everything acknowledged: no segment is left, and seqs still go on.
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  EXPECT_TRUE(segment_files(o.dir).empty());
  EXPECT_EQ(spool->stats().next_seq, 101u);
  EXPECT_EQ(spool->stats().pending_events, 0u);
  EXPECT_EQ(spool->append({{1, "", line_for(101)}}), 101u);
}

TEST_F(SpoolTest, NextSeqFollowsAckedWhenNoSegmentIsLeft) {
  const auto o = options();
  fs::create_directories(o.dir);
  std::ofstream(o.dir / "acked") << "500\n";
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->acked_seq(), 500u);
    EXPECT_EQ(spool->stats().next_seq, 501u);
    EXPECT_EQ(spool->append({{1, "", line_for(501)}}), 501u);
    spool->acknowledge(501);
  }
  std::ifstream acked(o.dir / "acked");
  std::string text((std::istreambuf_iterator<char>(acked)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "501\n");
}

TEST_F(SpoolTest, AckBeyondAppendedIsCapped) {
  auto spool = open_ok(options());
  ASSERT_TRUE(spool);
  append_range(*spool, 1, 3);
  spool->acknowledge(1000);
  EXPECT_EQ(spool->acked_seq(), 3u);
}

TEST_F(SpoolTest, TornTailIsCutAtOpen) {
  const auto o = options();
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    append_range(*spool, 1, 10);
  }
  const fs::path segment = segment_files(o.dir).at(0);
  const auto full_size = fs::file_size(segment);
  // A crash in the middle of writing event 10.
  fs::resize_file(segment, full_size - 5);
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    const SpoolStats stats = spool->stats();
    EXPECT_EQ(stats.corrupt_records, 1u);
    EXPECT_EQ(stats.next_seq, 10u);  // 10 never existed whole
    EXPECT_EQ(fs::file_size(segment), full_size - record_bytes(5, line_for(10).size()));
    auto reader = spool->reader(1);
    EXPECT_EQ(read_all(reader), iota(1, 9));
    EXPECT_EQ(spool->append({{1, "pot-1", line_for(10)}}), 10u);
  }
  // Garbage after the last whole record.
  const auto good_size = fs::file_size(segment);
  {
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    const char garbage[] = "\x13\x00\x00\x00garbage that is no record at all";
    out.write(garbage, sizeof garbage - 1);
  }
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().corrupt_records, 1u);
  EXPECT_EQ(spool->stats().next_seq, 11u);
  EXPECT_EQ(fs::file_size(segment), good_size);
  auto reader = spool->reader(1);
  EXPECT_EQ(read_all(reader), iota(1, 10));
}

TEST_F(SpoolTest, EmptyLastSegmentStillCarriesTheNextSeq) {
  const auto o = options();
  fs::create_directories(o.dir);
  std::ofstream(o.dir / "00000000000000000042.seg").flush();  // a crash right after creating it
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().next_seq, 42u);
  EXPECT_EQ(spool->append({{1, "", line_for(42)}}), 42u);
}

TEST_F(SpoolTest, CorruptRecordInMiddleSegmentIsSkippedAndCounted) {
  const auto o = options(1000);
  {
    auto spool = open_ok(o);
    ASSERT_TRUE(spool);
    append_range(*spool, 1, 60, 1);
  }
  const auto files = segment_files(o.dir);
  ASSERT_GE(files.size(), 3u);
  // Flip a byte in the line of the second record of the second segment.
  const std::uint64_t first = first_seq_of(files[1]);
  const std::uint64_t second_record_offset = record_bytes(5, line_for(first).size());
  {
    std::fstream file(files[1], std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(second_record_offset + 8 + 18 + 5 + 3));
    file.put('#');
  }
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().corrupt_records, 0u);  // only the last segment is checked at open
  auto reader = spool->reader(1);
  const auto seqs = read_all(reader);
  std::vector<std::uint64_t> expected = iota(1, first);  // up to the first record of segment 2
  for (std::uint64_t seq = first_seq_of(files[2]); seq <= 60; ++seq) {
    expected.push_back(seq);
  }
  EXPECT_EQ(seqs, expected);
  EXPECT_EQ(spool->stats().corrupt_records, 1u);
}

TEST_F(SpoolTest, MaxBytesDropsOldestAndCountsDroppedEvents) {
  auto o = options(1000);
  o.max_bytes = 4000;
  std::ostringstream log_text;
  o.logger = std::make_shared<spdlog::logger>("spool-test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text));
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  append_range(*spool, 1, 5, 1);
  spool->acknowledge(3);  // acknowledged events are not counted as dropped
  append_range(*spool, 6, 200, 1);

  const SpoolStats stats = spool->stats();
  const auto files = segment_files(o.dir);
  ASSERT_FALSE(files.empty());
  std::uint64_t on_disk = 0;
  for (const auto& f : files) {
    on_disk += fs::file_size(f);
  }
  EXPECT_EQ(stats.bytes, on_disk);
  EXPECT_EQ(stats.segments, files.size());
  EXPECT_LE(stats.bytes, o.max_bytes);
  const std::uint64_t oldest = first_seq_of(files.front());
  EXPECT_GT(oldest, 100u);
  EXPECT_EQ(stats.dropped_events, oldest - 1 - 3);
  EXPECT_EQ(stats.pending_events, 200 - oldest + 1);
  // A reader from the start resumes at the oldest event still on disk.
  auto reader = spool->reader(1);
  EXPECT_EQ(read_all(reader), iota(oldest, 200));

  // Many drops within a second: one warning, the rest reported at close,
  // together carrying the full count.
  spool.reset();
  const std::string text = log_text.str();
  const std::regex dropped_line("dropped the ([0-9]+) oldest");
  std::uint64_t reported = 0;
  int lines = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), dropped_line); it != std::sregex_iterator(); ++it) {
    reported += std::stoull((*it)[1].str());
    ++lines;
  }
  EXPECT_EQ(reported, stats.dropped_events) << text;
  EXPECT_EQ(lines, 2) << text;
}

TEST_F(SpoolTest, MaxBytesNeverDropsTheSegmentBeingWritten) {
  auto o = options(1 << 20);
  o.max_bytes = 100;  // smaller than one segment
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  append_range(*spool, 1, 50);
  EXPECT_EQ(spool->stats().dropped_events, 0u);
  auto reader = spool->reader(1);
  EXPECT_EQ(read_all(reader), iota(1, 50));
}

TEST_F(SpoolTest, ReaderSeesRecordsAppendedAfterItWasCreated) {
  auto spool = open_ok(options(1000));
  ASSERT_TRUE(spool);
  auto reader = spool->reader(1);
  EXPECT_TRUE(reader.read(10, 1 << 20).empty());
  append_range(*spool, 1, 3);
  EXPECT_EQ(read_all(reader), iota(1, 3));
  EXPECT_TRUE(reader.read(10, 1 << 20).empty());
  append_range(*spool, 4, 80, 1);  // several new segments meanwhile
  EXPECT_EQ(read_all(reader), iota(4, 80));
  Spool::Reader moved = std::move(reader);  // a reader can be moved (it owns an fd)
  append_range(*spool, 81, 81);
  EXPECT_EQ(read_all(moved), iota(81, 81));
}

TEST_F(SpoolTest, LargeRecordIsReadWhole) {
  auto spool = open_ok(options());
  ASSERT_TRUE(spool);
  std::string large(3 << 20, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<char>('a' + i % 26);
  }
  spool->append({{1, "", "small-1"}, {2, "pot", large}, {3, "", "small-3"}});
  auto reader = spool->reader(1);
  std::vector<std::string> lines;
  for (int i = 0; i < 10 && lines.size() < 3; ++i) {
    for (const Record& r : reader.read(100, 64 << 10)) {
      lines.emplace_back(r.line);
    }
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "small-1");
  EXPECT_TRUE(lines[1] == large) << "the 3 MiB line differs";
  EXPECT_EQ(lines[2], "small-3");
}

TEST_F(SpoolTest, ReaderContinuesAfterItsSegmentIsDeleted) {
  const auto o = options(1000);
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  append_range(*spool, 1, 60, 1);
  auto reader = spool->reader(1);
  ASSERT_EQ(reader.read(2, 1 << 20).size(), 2u);
  auto files = segment_files(o.dir);
  ASSERT_GE(files.size(), 4u);
  // The core acknowledged through segment 2 over another connection.
  const std::uint64_t third = first_seq_of(files[2]);
  spool->acknowledge(third - 1);
  EXPECT_FALSE(fs::exists(files[0]));
  EXPECT_FALSE(fs::exists(files[1]));
  EXPECT_EQ(read_all(reader), iota(third, 60));

  // The same when the size bound drops the reader's segment.
  auto o2 = options(1000);
  o2.dir = temp_.path() / "bounded";
  o2.max_bytes = 3000;
  auto bounded = open_ok(o2);
  ASSERT_TRUE(bounded);
  append_range(*bounded, 1, 20, 1);
  auto behind = bounded->reader(1);
  ASSERT_EQ(behind.read(1, 1 << 20).size(), 1u);
  append_range(*bounded, 21, 120, 1);
  const std::uint64_t oldest = first_seq_of(segment_files(o2.dir).front());
  ASSERT_GT(oldest, 20u);
  EXPECT_EQ(read_all(behind), iota(oldest, 120));
}

TEST_F(SpoolTest, ReaderKeepsUpWithAConcurrentWriter) {
  auto spool = open_ok(options(64 << 10));  // rolls often
  ASSERT_TRUE(spool);
  constexpr std::uint64_t kEvents = 50'000;
  std::atomic<bool> written{false};
  std::thread writer([&] {
    append_range(*spool, 1, kEvents, 16);
    written = true;
  });
  auto reader = spool->reader(1);
  std::uint64_t expected = 1;
  bool in_order = true;
  int empty_reads_after_writer = 0;
  while (expected <= kEvents && in_order && empty_reads_after_writer < 2) {
    const bool writer_done = written.load();
    const auto records = reader.read(1000, 256 << 10);
    for (const Record& r : records) {
      in_order = in_order && r.seq == expected && r.line == line_for(expected);
      ++expected;
    }
    if (records.empty()) {
      empty_reads_after_writer += writer_done ? 1 : 0;
      std::this_thread::yield();
    }
  }
  writer.join();
  EXPECT_TRUE(in_order) << "at seq " << expected;
  EXPECT_EQ(expected, kEvents + 1);
  EXPECT_EQ(spool->stats().corrupt_records, 0u);
}

// Appends under a file size limit (the kernel's RLIMIT_FSIZE): the write
// stops part-way, as on a full disk.
TEST_F(SpoolTest, FailedWriteIsCountedAndLeavesNoTornRecord) {
  const auto o = options();
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  append_range(*spool, 1, 10);
  const fs::path segment = segment_files(o.dir).at(0);
  const auto good_size = fs::file_size(segment);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = good_size + 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::vector<std::string> lines;
  std::vector<Entry> batch;
  for (std::uint64_t i = 11; i <= 20; ++i) {
    lines.push_back(line_for(i));
  }
  for (const auto& line : lines) {
    batch.push_back(Entry{1, "pot-1", line});
  }
  const std::uint64_t returned = spool->append(batch);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);

  EXPECT_EQ(returned, 0u);
  EXPECT_EQ(spool->write_errors(), 1u);
  EXPECT_EQ(spool->stats().lost_events, 10u);
  EXPECT_EQ(fs::file_size(segment), good_size);  // the partial write was cut off
  // The lost batch's seqs were never on disk, so they are given again.
  EXPECT_EQ(spool->append(batch), 20u);
  auto reader = spool->reader(1);
  EXPECT_EQ(read_all(reader), iota(1, 20));
  EXPECT_EQ(spool->stats().corrupt_records, 0u);
}

TEST_F(SpoolTest, ReaderStaysConsistentWhileTheBoundDropsUnderIt) {
  auto o = options(16 << 10);
  o.max_bytes = 64 << 10;
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  constexpr std::uint64_t kEvents = 50'000;
  std::atomic<bool> written{false};
  std::thread writer([&] {
    append_range(*spool, 1, kEvents, 4);
    written = true;
  });
  auto reader = spool->reader(1);
  std::uint64_t last = 0;
  bool consistent = true;
  int empty_reads_after_writer = 0;
  while (consistent && last < kEvents && empty_reads_after_writer < 2) {
    const bool writer_done = written.load();
    const auto records = reader.read(50, 1 << 20);
    for (const Record& r : records) {
      consistent = consistent && r.seq > last && r.line == line_for(r.seq);
      last = r.seq;
    }
    if (records.empty()) {
      empty_reads_after_writer += writer_done ? 1 : 0;
      std::this_thread::yield();
    }
  }
  writer.join();
  EXPECT_TRUE(consistent) << "after seq " << last;
  EXPECT_EQ(last, kEvents);
  EXPECT_GT(spool->stats().dropped_events, 0u);
  EXPECT_EQ(spool->stats().corrupt_records, 0u);
}

TEST_F(SpoolTest, SecondOpenOfTheSameFolderFails) {
  auto first = open_ok(options());
  ASSERT_TRUE(first);
  std::string error;
  EXPECT_EQ(Spool::open(options(), error), nullptr);
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  first.reset();
  EXPECT_NE(Spool::open(options(), error), nullptr) << error;  // free again once closed
}

TEST_F(SpoolTest, FileInPlaceOfTheFolderIsRefused) {
  SpoolOptions o = options();
  o.dir = temp_.path() / "a-file";
  std::ofstream(o.dir).put('x');
  std::string error;
  EXPECT_EQ(Spool::open(o, error), nullptr);
  EXPECT_NE(error.find("not a folder"), std::string::npos) << error;
}

TEST_F(SpoolTest, ReadOnlyFolderIsRefused) {
  SpoolOptions o = options();
  o.dir = temp_.path() / "read-only";
  fs::create_directories(o.dir);
  fs::permissions(o.dir,
                  fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read | fs::perms::others_exec);
  // Root may write anywhere: as root (CI), the check runs in a child that
  // has become `nobody`.
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    fs::permissions(temp_.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  }
  const pid_t child = as_root ? ::fork() : 0;
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Group first (our gid 0 would select the folder's group bits), then user.
    if (as_root && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                    ::setresuid(65534, 65534, 65534) != 0)) {
      ::_exit(3);
    }
    std::string error;
    const bool refused = Spool::open(o, error) == nullptr && error.find("not writable") != std::string::npos;
    if (!refused) {
      std::fprintf(stderr, "open as uid %d: %s\n", static_cast<int>(::geteuid()), error.c_str());
    }
    if (as_root) {
      ::_exit(refused ? 0 : 1);
    }
    EXPECT_TRUE(refused) << error;
  } else {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "as nobody, the read-only folder was not refused";
  }
  fs::permissions(o.dir, fs::perms::owner_all);
}

TEST_F(SpoolTest, CreatesItsFolderPrivate) {
  SpoolOptions o = options();
  o.dir = temp_.path() / "deep" / "er" / "spool";
  auto spool = open_ok(o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(fs::status(o.dir).permissions() & fs::perms::all, fs::perms::owner_all);
}

}  // namespace
}  // namespace honeycomb::spool
