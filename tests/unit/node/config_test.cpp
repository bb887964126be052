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
  ASSERT_EQ(c.cores.size(), 1u);
  EXPECT_EQ(c.cores[0].text(), "127.0.0.1:9001");
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
  ASSERT_EQ(c.cores.size(), 1u);
  EXPECT_EQ(c.cores[0].address, "core.example");
  EXPECT_EQ(c.cores[0].port, 9101);
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

std::vector<std::string> core_texts(const NodeConfig& c) {
  std::vector<std::string> out;
  for (const auto& core : c.cores) {
    out.push_back(core.text());
  }
  return out;
}

TEST(NodeConfig, CoreIsOneAddressOrAList) {
  TempDir dir;
  const std::vector<std::string> two{"a.example:7000", "b.example:7001"};
  for (const auto& yaml :
       {std::string("core: \"a.example:7000,b.example:7001\"\n"), std::string("core: a.example:7000, b.example:7001\n"),
        std::string("core:\n  - a.example:7000\n  - b.example:7001\n"),
        std::string("core: [a.example:7000, \"b.example:7001\"]\n")}) {
    auto loaded = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << yaml << std::get<std::string>(loaded);
    EXPECT_EQ(core_texts(std::get<NodeConfig>(loaded)), two) << yaml;
    EXPECT_FALSE(std::get<NodeConfig>(loaded).standalone());
  }
  // A bare port is on this host, as for a single core; IPv6 in brackets.
  auto mixed = load(dir, "core: \"7000,[::1]:7001,10.0.0.3:7002\"\n");
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(mixed)) << std::get<std::string>(mixed);
  EXPECT_EQ(core_texts(std::get<NodeConfig>(mixed)),
            (std::vector<std::string>{"127.0.0.1:7000", "[::1]:7001", "10.0.0.3:7002"}));
  // Standalone: none, an empty value or an empty list.
  for (const auto& yaml : {"core: none\n", "core:\n", "core: \"\"\n", "core: []\n"}) {
    auto loaded = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << yaml << std::get<std::string>(loaded);
    EXPECT_TRUE(std::get<NodeConfig>(loaded).standalone()) << yaml;
  }
}

TEST(NodeConfig, ABadCoreEntryIsNamedWithItsPlace) {
  TempDir dir;
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"core: a:7000,b:seven\n", "core[1]: 'b:seven' has no valid port"},
           {"core:\n  - a:7000\n  - b:70000\n", "core[1]: 'b:70000' has no valid port"},
           {"core: host-without-port\n", "core: 'host-without-port' has no valid port"},
           {"core: a:7000,\n", "core[1]: an empty entry"},
           {"core: a:7000,,b:7001\n", "core[1]: an empty entry"},
           {"core: a:7000,none\n", "core[1]: 'none'"},
           {"core: [a:0]\n", "core: 'a:0' needs a port"},
           {"core: \":7000\"\n", "core: ':7000' needs a host"},
           {"core: a:7000,b:7001,a:7000\n", "core[2]: 'a:7000' is listed twice"},
           {"core:\n  - a:7000\n  - [b, c]\n", "core[1]: must be a string"},
           {"core: {a: 7000}\n", "core: must be a string"}}) {
    auto loaded = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<std::string>(loaded)) << yaml;
    EXPECT_NE(std::get<std::string>(loaded).find(expected), std::string::npos) << std::get<std::string>(loaded);
  }
}

TEST(NodeConfig, CoreOptionValuesAddUp) {
  // --core a:7000,b:7001 --core c:7002, as the command line hands them over.
  const auto cores = parse_core_addresses("--core", {"a:7000,b:7001", "c:7002"});
  ASSERT_EQ(cores.size(), 3u);
  EXPECT_EQ(cores[2].text(), "c:7002");
  EXPECT_EQ(core_addresses_text(cores), "a:7000, b:7001, c:7002");
  EXPECT_TRUE(parse_core_addresses("--core", {"none"}).empty());
  EXPECT_EQ(core_addresses_text({}), "none (standalone)");
  try {
    parse_core_addresses("--core", {"a:7000", "none"});
    ADD_FAILURE() << "none with a core";
  } catch (const config_keys::KeyError& e) {
    EXPECT_EQ(e.message, "--core[1]: 'none' (a standalone node) cannot be listed with cores");
  }
}

TEST(NodeConfig, GeneratedFileKeepsSeveralCores) {
  TempDir dir;
  NodeConfig d;
  d.cores = {{"a.example", 7000}, {"b.example", 7001}};
  auto loaded = load(dir, generate_node_config(d));
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  EXPECT_EQ(core_texts(std::get<NodeConfig>(loaded)), (std::vector<std::string>{"a.example:7000", "b.example:7001"}));
  d.cores.clear();
  loaded = load(dir, generate_node_config(d));
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  EXPECT_TRUE(std::get<NodeConfig>(loaded).standalone());
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
