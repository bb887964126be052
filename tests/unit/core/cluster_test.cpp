// Several cores on one database (core/cluster.hpp): a command's result as it
// crosses the database, and the registry's view of nodes on other cores.
// The cores themselves, on a real PostgreSQL server: tests/e2e/test_core_cluster.py.
#include "core/cluster.hpp"

#include "core/registry.hpp"
#include "store/storage.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace honeycomb::core {
namespace {

namespace fs = std::filesystem;

TEST(ClusterResult, EveryOutcomeCrossesTheDatabaseUnchanged) {
  for (const auto outcome : {CommandResult::Outcome::answered, CommandResult::Outcome::timeout,
                             CommandResult::Outcome::unknown_node, CommandResult::Outcome::offline}) {
    CommandResult r;
    r.outcome = outcome;
    r.replies = {boost::json::parse(R"({"PotStatusUpdate":{"pot_id":"p","status":"Running"}})"),
                 boost::json::parse(R"({"NodeEvent":{"kind":"Error"}})")};
    r.error = "node 7 is \"busy\"";
    r.listing_complete = outcome == CommandResult::Outcome::answered;
    const auto back = Cluster::decode_result(Cluster::encode_result(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->outcome, r.outcome);
    EXPECT_EQ(back->replies, r.replies);
    EXPECT_EQ(back->error, r.error);
    EXPECT_EQ(back->listing_complete, r.listing_complete);
  }
}

TEST(ClusterResult, AnUnreadableAnswerIsNone) {
  EXPECT_FALSE(Cluster::decode_result("not json"));
  EXPECT_FALSE(Cluster::decode_result("[1,2]"));
  // Readable but odd: an unknown outcome is a timeout, wrong types are ignored.
  const auto odd = Cluster::decode_result(R"({"outcome":"exploded","replies":"x","error":5})");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->outcome, CommandResult::Outcome::timeout);
  EXPECT_TRUE(odd->replies.empty());
  EXPECT_TRUE(odd->error.empty());
}

class RegistryMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "honeycomb-cluster-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    store::StorageOptions o;
    o.path = (dir_ / "events.db").string();
    std::string error;
    storage_ = store::open_sqlite(o, error);
    ASSERT_TRUE(storage_) << error;
  }
  void TearDown() override {
    storage_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static store::NodeRecord record(std::uint64_t id, const std::string& name) {
    store::NodeRecord r;
    r.node_id = id;
    r.name = name;
    r.status = "Running";
    r.last_seen_us = 1;
    r.pots.push_back(store::PotRecord{"pot-" + name, "cowrie", "Running", "", 1});
    return r;
  }

  fs::path dir_;
  std::unique_ptr<store::Storage> storage_;
};

TEST_F(RegistryMergeTest, NodesOnOtherCoresShowConnectedThereAndLocalOnesStayLocal) {
  constexpr std::uint64_t kThisCore = 9, kOtherCore = 55;
  Registry registry(*storage_, std::chrono::hours(1));
  protocol::NodeRegistration reg;
  reg.node_id = 1;
  reg.node_name = "here";
  registry.on_registered(reg, 100);

  // The database still has node 1 from when another core had it, and node 2
  // on the other core now.
  registry.merge_remote({record(1, "stale"), record(2, "there")}, {{1, kOtherCore}, {2, kOtherCore}}, kThisCore);
  const auto here = registry.node(1, 200);
  ASSERT_TRUE(here);
  EXPECT_EQ(here->record.name, "here") << "a session on this core is the newest view";
  EXPECT_TRUE(here->connected);
  EXPECT_EQ(here->core_id, 0u);
  const auto there = registry.node(2, 200);
  ASSERT_TRUE(there);
  EXPECT_TRUE(there->connected);
  EXPECT_EQ(there->core_id, kOtherCore);
  EXPECT_EQ(there->record.pots.size(), 1u);
  EXPECT_EQ(registry.connected_count(), 1u) << "sessions on this core only";

  // Node 2 left the other core: offline everywhere.
  registry.merge_remote({record(2, "there")}, {}, kThisCore);
  EXPECT_FALSE(registry.node(2, 300)->connected);
  EXPECT_EQ(registry.node(2, 300)->core_id, 0u);
  EXPECT_EQ(registry.node(2, 300)->state(), "Offline");

  // It comes to this core: local again, whatever the database said.
  reg.node_id = 2;
  registry.on_registered(reg, 400);
  EXPECT_EQ(registry.node(2, 400)->core_id, 0u);
  registry.merge_remote({record(2, "there")}, {{2, kOtherCore}}, kThisCore);
  EXPECT_EQ(registry.node(2, 500)->core_id, 0u);
}

}  // namespace
}  // namespace honeycomb::core
