// The debug log: JSON records with the reference's keys; loggers obtained
// before a re-initialisation (as in a daemon) write to the new sinks.
#include "common/log.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace honeycomb::log {
namespace {

namespace fs = std::filesystem;

std::vector<boost::json::object> records(const fs::path& file) {
  std::vector<boost::json::object> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(boost::json::parse(line).as_object());
  }
  return out;
}

TEST(DebugLog, RecordsHaveReferenceKeysAndFollowReinit) {
  const fs::path dir = fs::temp_directory_path() / ("hc-log-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  init({dir / "first.log", false, false});
  auto early = get("integration.early");
  early->info("before");
  init({dir / "second.log", false, false});
  early->warn("after \"quoted\"");
  flush();

  const auto first = records(dir / "first.log");
  ASSERT_EQ(first.size(), 1U);
  const auto second = records(dir / "second.log");
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].at("levelname").as_string(), "WARNING");
  EXPECT_EQ(second[0].at("name").as_string(), "honeycomb.integration.early");
  EXPECT_EQ(second[0].at("message").as_string(), "after \"quoted\"");
  EXPECT_TRUE(second[0].contains("asctime"));
  init({{}, false, false});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace honeycomb::log
