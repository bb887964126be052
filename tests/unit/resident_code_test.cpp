// release_startup_code() (common/resident_code.hpp): the executable's
// read-only pages leave this process's memory, and everything written at
// start-up (data, relocated pointers) stays as it was.
#include "common/resident_code.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace honeycomb::resident_code {
namespace {

struct Mapping {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  bool writable = false;
};

/// This executable's mappings, from /proc/self/maps.
std::vector<Mapping> executable_mappings() {
  char exe[4096] = {};
  const auto n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::vector<Mapping> out;
  if (n <= 0) {
    return out;
  }
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, device, inode, path;
    in >> range >> perms >> offset >> device >> inode >> path;
    if (path != std::string(exe, static_cast<std::size_t>(n))) {
      continue;
    }
    Mapping m;
    m.begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    m.end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    m.writable = perms[1] == 'w';
    out.push_back(m);
  }
  return out;
}

/// Pages of [begin, end) mapped in this process (/proc/self/pagemap's
/// present bit, readable without privileges).
std::size_t present_pages(const Mapping& m) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::size_t present = 0;
  for (auto a = m.begin; a < m.end; a += page) {
    std::uint64_t entry = 0;
    if (::pread(fd, &entry, sizeof entry, static_cast<off_t>(a / page * sizeof entry)) == sizeof entry) {
      present += (entry >> 63) & 1U;
    }
  }
  ::close(fd);
  return present;
}

/// Reads one byte of each page: ASan would flag the redzones it puts
/// around read-only globals, which these reads cross on purpose.
__attribute__((no_sanitize("address"))) void touch_pages(const Mapping& m) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (auto a = m.begin; a < m.end; a += page) {
    (void)*reinterpret_cast<const volatile char*>(a);  // NOLINT(performance-no-int-to-ptr)
  }
}

int written_at_run_time = 0;  // .data/.bss: writable, must survive
int add_one(int x) {
  return x + 1;
}
int add_two(int x) {
  return x + 2;
}
// Relocated at start (.data.rel.ro under PIE): the loader wrote these.
int (*const kTable[])(int) = {add_one, add_two};

TEST(ResidentCode, ReleasesReadOnlyPagesOfTheExecutableAndKeepsWrittenData) {
  const auto mappings = executable_mappings();
  ASSERT_FALSE(mappings.empty());
  std::size_t read_only_bytes = 0;
  std::size_t before = 0;
  for (const auto& m : mappings) {
    if (m.writable) {
      continue;
    }
    read_only_bytes += m.end - m.begin;
    touch_pages(m);  // every page resident first
    before += present_pages(m);
  }
  written_at_run_time = 41;

  const auto released = release_startup_code();
  std::size_t after = 0;
  for (const auto& m : mappings) {
    if (!m.writable) {
      after += present_pages(m);
    }
  }
  ASSERT_TRUE(released.error.empty()) << released.error;
  EXPECT_GT(released.bytes, 0U);
  EXPECT_LE(released.bytes, read_only_bytes);  // never a writable mapping
  // What runs from here on (this test, gtest) faults a few pages back in.
  EXPECT_LT(after, before / 2) << "before " << before << " pages, after " << after;
  RecordProperty("pages_before", static_cast<int>(before));
  RecordProperty("pages_after", static_cast<int>(after));

  // Code runs again from the file, data written at start-up is intact.
  EXPECT_EQ(written_at_run_time + 1, 42);
  volatile std::size_t first = 0;  // through the table in memory, not folded
  EXPECT_EQ(kTable[first](40) + kTable[first + 1](0), 43);
  EXPECT_TRUE(release_startup_code().error.empty());  // again: harmless
}

TEST(ResidentCode, PolicyReleasesOnceAfterStartAndAfterEachBurst) {
  using std::chrono::seconds;
  const std::chrono::steady_clock::time_point t0{};
  ReleasePolicy policy(seconds(3), t0);
  EXPECT_FALSE(policy.due(0, t0 + seconds(2)));
  EXPECT_TRUE(policy.due(0, t0 + seconds(3)));
  EXPECT_FALSE(policy.due(0, t0 + seconds(4)));  // once
  EXPECT_FALSE(policy.due(0, t0 + seconds(100)));
  // A registration: due again 3 s after it was seen.
  EXPECT_FALSE(policy.due(1, t0 + seconds(101)));
  EXPECT_FALSE(policy.due(1, t0 + seconds(103)));
  // Another one before the release: the wait starts over.
  EXPECT_FALSE(policy.due(2, t0 + seconds(103)));
  EXPECT_FALSE(policy.due(2, t0 + seconds(105)));
  EXPECT_TRUE(policy.due(2, t0 + seconds(106)));
  EXPECT_FALSE(policy.due(2, t0 + seconds(107)));
}

}  // namespace
}  // namespace honeycomb::resident_code
