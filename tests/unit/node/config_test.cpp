#include "node/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sys/stat.h>

namespace honeycomb::node {
namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/honeycomb-node-config-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

std::variant<NodeConfig, std::string> load(const TempDir& dir, const std::string& yaml) {
  const auto file = dir.path / "node.yml";
  std::ofstream(file) << yaml;
  return load_node_config(file, NodeConfig{});
}

TEST(NodeConfig, GeneratedFileLoadsBackToTheDefaults) {
  TempDir dir;
  NodeConfig d;
  auto loaded = load(dir, generate_node_config(d));
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  const auto& c = std::get<NodeConfig>(loaded);
  EXPECT_EQ(c.event_listen.text(), "127.0.0.1:9100");
  EXPECT_EQ(c.core_host, "127.0.0.1");
  EXPECT_EQ(c.core_port, 9001);
  EXPECT_EQ(c.max_line_bytes, d.max_line_bytes);
  EXPECT_EQ(c.spool_max_bytes, d.spool_max_bytes);
  EXPECT_EQ(c.fsync, spool::FsyncPolicy::interval);
  EXPECT_EQ(c.heartbeat, d.heartbeat);
}

TEST(NodeConfig, ReadsEveryKindOfValue) {
  TempDir dir;
  auto loaded = load(dir,
                     "core: core.example:9101\nevent_listen: \"0.0.0.0:9200\"\nfsync: always\n"
                     "spool_max_mb: 10\nmax_line_bytes: 4096\n");
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  const auto& c = std::get<NodeConfig>(loaded);
  EXPECT_EQ(c.core_host, "core.example");
  EXPECT_EQ(c.core_port, 9101);
  EXPECT_EQ(c.event_listen.text(), "0.0.0.0:9200");
  EXPECT_EQ(c.fsync, spool::FsyncPolicy::always);
  EXPECT_EQ(c.spool_max_bytes, 10u << 20);
  EXPECT_EQ(c.max_line_bytes, 4096u);
  auto standalone = load(dir, "core: none\n");
  EXPECT_TRUE(std::get<NodeConfig>(standalone).standalone());
}

TEST(NodeConfig, ErrorsNameTheKey) {
  TempDir dir;
  for (const auto& [yaml, key] :
       std::vector<std::pair<std::string, std::string>>{{"fsync: sometimes\n", "fsync"},
                                                        {"max_line_bytes: 10\n", "max_line_bytes"},
                                                        {"core: host:notaport\n", "core"},
                                                        {"colour: blue\n", "colour: unknown key"},
                                                        {"verbose: maybe\n", "verbose"}}) {
    auto loaded = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<std::string>(loaded)) << yaml;
    EXPECT_NE(std::get<std::string>(loaded).find(key), std::string::npos) << std::get<std::string>(loaded);
  }
}

TEST(NodeConfig, PotsAndTheirSupervision) {
  TempDir dir;
  auto loaded = load(dir,
                     "pots:\n  - id: web-01\n    type: simple_http\n    config: {port: 8081, version: \"x y\"}\n"
                     "  - id: tar-01\n    type: example-python-pot\n    start: false\n"
                     "pot_log_max_kb: 64\npot_restart_min_ms: 200\npot_restart_max_seconds: 5\n"
                     "pot_stop_grace_seconds: 2\npotstore: /srv/potstore.json\n");
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  const auto& c = std::get<NodeConfig>(loaded);
  ASSERT_EQ(c.pots.size(), 2u);
  EXPECT_EQ(c.pots[0].pot_id, "web-01");
  EXPECT_EQ(c.pots[0].honeypot_type, "simple_http");
  EXPECT_TRUE(c.pots[0].auto_start);
  EXPECT_EQ(c.pots[0].config, (std::map<std::string, std::string>{{"port", "8081"}, {"version", "x y"}}));
  EXPECT_FALSE(c.pots[1].auto_start);
  EXPECT_FALSE(c.pots[1].config);
  EXPECT_EQ(c.pot_log_max_bytes, 64u * 1024);
  EXPECT_EQ(c.pot_restart_min, std::chrono::milliseconds(200));
  EXPECT_EQ(c.pot_restart_max, std::chrono::seconds(5));
  EXPECT_EQ(c.pot_stop_grace, std::chrono::seconds(2));
  EXPECT_EQ(c.potstore, std::filesystem::path("/srv/potstore.json"));
  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"pots: web\n", "pots"},
           {"pots:\n  - id: a\n", "pots[0]: needs an id and a type"},
           {"pots:\n  - {id: a, type: b, colour: c}\n", "pots[0].colour"},
           {"pots:\n  - {id: a, type: b, config: [1]}\n", "pots[0].config"},
           {"pots:\n  - {id: a, type: b, start: perhaps}\n", "pots[0].start"}}) {
    auto bad = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<std::string>(bad)) << yaml;
    EXPECT_NE(std::get<std::string>(bad).find(key), std::string::npos) << std::get<std::string>(bad);
  }
}

TEST(NodeId, GeneratedOnceThenKept) {
  TempDir dir;
  std::string error;
  const auto file = dir.path / "sub" / "node_id";
  auto first = load_or_create_node_id(file, error);
  ASSERT_TRUE(first) << error;
  EXPECT_NE(*first, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(load_or_create_node_id(file, error), first);
}

TEST(NodeId, AboveTwoToThe63IsReadBackExactly) {
  TempDir dir;
  std::ofstream(dir.path / "node_id") << "16298147445003569694\n";
  std::string error;
  EXPECT_EQ(load_or_create_node_id(dir.path / "node_id", error), 16298147445003569694ULL);
  std::ofstream(dir.path / "bad") << "-5\n";
  EXPECT_FALSE(load_or_create_node_id(dir.path / "bad", error));
  EXPECT_NE(error.find("not a node id"), std::string::npos);
}

}  // namespace
}  // namespace honeycomb::node
