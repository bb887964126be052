#include "honeypot/quarantine.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::honeypot {
namespace {

namespace fs = std::filesystem;

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quarantine-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// SHA-256("abc"), FIPS 180-2.
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST_F(QuarantineTest, KeepsEachContentOnceReadOnlyUnderItsHash) {
  Quarantine q(dir_, 1 << 20);
  for (int i = 0; i < 2; ++i) {
    auto upload = q.begin("s1");
    upload.write("a");
    upload.write("bc");
    const auto stored = q.finish(upload);
    EXPECT_EQ(stored.sha256, kAbc);
    EXPECT_EQ(stored.size, 3U);
    EXPECT_EQ(stored.path, (dir_ / kAbc).string());
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / kAbc).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400U);
}

TEST_F(QuarantineTest, OverTheCapItHashesButDoesNotKeep) {
  Quarantine q(dir_, 4);
  auto first = q.begin("s1");
  first.write("abc");
  EXPECT_FALSE(q.finish(first).path.empty());
  auto second = q.begin("s2");
  second.write("defgh");
  const auto stored = q.finish(second);
  EXPECT_TRUE(stored.path.empty());
  EXPECT_EQ(stored.reason, "quarantine full");
  EXPECT_EQ(stored.sha256.size(), 64U);
}

TEST_F(QuarantineTest, WithoutAFolderItOnlyHashes) {
  Quarantine q({}, 1 << 20);
  auto upload = q.begin("s1");
  upload.write("abc");
  const auto stored = q.finish(upload);
  EXPECT_EQ(stored.sha256, kAbc);
  EXPECT_EQ(stored.reason, "no quarantine folder");
}

TEST_F(QuarantineTest, AnAbandonedUploadLeavesNothing) {
  Quarantine q(dir_, 1 << 20);
  {
    auto upload = q.begin("s1");
    upload.write("partial");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 0);
}

}  // namespace
}  // namespace honeycomb::honeypot
