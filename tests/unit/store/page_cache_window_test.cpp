// PageCacheWindow against the real kernel: which pages of a file are in the
// page cache is read with mincore() on a mapping of it.
#include "store/page_cache_window.hpp"

#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace honeycomb::store {
namespace {

using test_support::cached_share;

constexpr std::int64_t kMiB = std::int64_t{1} << 20;

/// Appends `bytes` to the file and writes them back (clean pages: the
/// state a checkpoint leaves them in).
void grow(const std::string& path, std::int64_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  const std::string chunk(static_cast<std::size_t>(kMiB), 'x');
  for (std::int64_t done = 0; done < bytes; done += kMiB) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  ASSERT_EQ(::fdatasync(fd), 0);
  ::close(fd);
}

class PageCacheWindowTest : public ::testing::Test {
 protected:
  test_support::TempDir dir_;
};

// Each part of the file is dropped once the file has grown the window past
// it; the newest window stays cached, and so does what the file held when
// the window was opened and what a reader brings back later.
TEST_F(PageCacheWindowTest, DropsWhatTheFileGrewPastOnce) {
  const auto path = dir_.file("grows");
  grow(path, 8 * kMiB);  // there before: left to the kernel
  PageCacheWindow window(path, 16 * kMiB);
  ASSERT_TRUE(window.active());
  grow(path, 12 * kMiB);
  EXPECT_EQ(window.trim(), 0);  // 20 MiB: nothing new is 16 MiB behind the end yet
  grow(path, 36 * kMiB);        // 56 MiB
  EXPECT_EQ(window.trim(), 32 * kMiB);
  EXPECT_GT(cached_share(path, 0, 8 * kMiB), 0.99);
  EXPECT_LT(cached_share(path, 8 * kMiB, 40 * kMiB), 0.01);
  EXPECT_GT(cached_share(path, 40 * kMiB, 56 * kMiB), 0.99);

  // A reader brings a dropped part back: the next trims leave it cached.
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    std::string buf(static_cast<std::size_t>(4 * kMiB), '\0');
    ASSERT_EQ(::pread(fd, buf.data(), buf.size(), 8 * kMiB), static_cast<ssize_t>(buf.size()));
    ::close(fd);
  }
  EXPECT_EQ(window.trim(), 0);
  grow(path, 8 * kMiB);  // 64 MiB
  EXPECT_EQ(window.trim(), 8 * kMiB);
  EXPECT_GT(cached_share(path, 8 * kMiB, 12 * kMiB), 0.99);
  EXPECT_LT(cached_share(path, 40 * kMiB, 48 * kMiB), 0.01);
  EXPECT_GT(cached_share(path, 48 * kMiB, 64 * kMiB), 0.99);
}

TEST_F(PageCacheWindowTest, ZeroWindowOrNoFileDoesNothing) {
  const auto path = dir_.file("kept");
  grow(path, 4 * kMiB);
  PageCacheWindow off(path, 0);
  EXPECT_FALSE(off.active());
  grow(path, 8 * kMiB);
  EXPECT_EQ(off.trim(), 0);
  EXPECT_GT(cached_share(path, 0, 12 * kMiB), 0.99);
  PageCacheWindow missing(dir_.file("none"), 16 * kMiB);
  EXPECT_FALSE(missing.active());
  EXPECT_EQ(missing.trim(), 0);
}

}  // namespace
}  // namespace honeycomb::store
