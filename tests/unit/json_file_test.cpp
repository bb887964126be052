// json_file: one alert per line, size-based rotation, batched writes.
#include "common/log.hpp"
#include "pipeline/integration.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace honeycomb::pipeline {
namespace {

namespace fs = std::filesystem;

class JsonFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::init({{}, false, false});
    dir_ = fs::temp_directory_path() / ("hc-json-file-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    spec_.name = "json_file";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Integration> make(std::map<std::string, Value, std::less<>> values) {
    args_ = ServiceArgs(std::move(values));
    const auto* factory = find_integration("json_file");
    EXPECT_NE(factory, nullptr);
    return (*factory)({spec_, args_, log::get("test")});
  }

  static std::vector<AlertRecordPtr> records(std::size_t n, std::size_t payload) {
    plugin::EventTypeSpec event{"hit", "Hit", {}, plugin::Policy::alert};
    std::vector<AlertRecordPtr> out;
    for (std::size_t i = 0; i < n; ++i) {
      Alert alert("hit");
      alert.set("request", std::string(payload, 'x')).set("n", Value{static_cast<std::int64_t>(i)});
      out.push_back(make_record(std::move(alert), event, "svc"));
    }
    return out;
  }

  static std::size_t count_lines(const fs::path& p) {
    std::ifstream in(p);
    std::size_t n = 0;
    std::string line;
    while (std::getline(in, line)) {
      ++n;
    }
    return n;
  }

  fs::path dir_;
  plugin::IntegrationSpec spec_;
  ServiceArgs args_;
};

TEST_F(JsonFileTest, RelativePathIsRefused) {
  EXPECT_THROW(make({{"filepath", Value{std::string("alerts.json")}}}), std::invalid_argument);
}

TEST_F(JsonFileTest, OneLinePerAlertAfterFlush) {
  const auto file = dir_ / "sub" / "alerts.json";
  auto out = make({{"filepath", Value{file.string()}}});
  auto batch = records(10, 10);
  auto r = out->send(batch);
  EXPECT_EQ(r.delivered, 10U);
  out->flush();
  EXPECT_EQ(count_lines(file), 10U);
  EXPECT_TRUE(out->test_connection().success);
}

TEST_F(JsonFileTest, RotatesBySizeAndKeepsBackups) {
  const auto file = dir_ / "alerts.json";
  auto out = make({{"filepath", Value{file.string()}},
                   {"max_size_mb", Value{std::int64_t{1}}},
                   {"backup_count", Value{std::int64_t{2}}}});
  // About 4.2 MiB of alerts: the live file and two backups stay, the oldest go.
  const auto batch = records(4200, 1000);
  ASSERT_EQ(out->send(batch).delivered, batch.size());
  out->flush();
  ASSERT_TRUE(fs::exists(file));
  ASSERT_TRUE(fs::exists(file.string() + ".1"));
  ASSERT_TRUE(fs::exists(file.string() + ".2"));
  EXPECT_FALSE(fs::exists(file.string() + ".3"));
  for (const auto& f : {file, fs::path(file.string() + ".1"), fs::path(file.string() + ".2")}) {
    EXPECT_LE(fs::file_size(f), 1024U * 1024U) << f;
  }
  // The newest alert is the live file's last line; .1 is older than the live file.
  std::ifstream live(file);
  std::string line;
  std::string last;
  while (std::getline(live, line)) {
    last = line;
  }
  EXPECT_NE(last.find("\"n\":4199"), std::string::npos) << last.substr(0, 80);
  const auto kept = count_lines(file) + count_lines(file.string() + ".1") + count_lines(file.string() + ".2");
  EXPECT_GT(kept, 2000U);
  EXPECT_LT(kept, 4200U);
}

TEST_F(JsonFileTest, ARotationThatFailsLeavesAlertsFlowingIntoTheSameFile) {
  const auto file = dir_ / "alerts.json";
  // filepath.1 is a folder with something in it: the rename fails (as a
  // folder that does not let the process rename would, also for root).
  fs::create_directories(file.string() + ".1/keep");
  auto out = make({{"filepath", Value{file.string()}},
                   {"max_size_mb", Value{std::int64_t{1}}},
                   {"backup_count", Value{std::int64_t{1}}}});
  const auto batch = records(2100, 1000);
  ASSERT_EQ(out->send(batch).delivered, batch.size());
  out->flush();
  EXPECT_EQ(count_lines(file), 2100U);  // every alert, none held back
  EXPECT_TRUE(fs::is_directory(file.string() + ".1"));
}

}  // namespace
}  // namespace honeycomb::pipeline
