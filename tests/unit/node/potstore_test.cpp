#include "node/potstore.hpp"

#include "cli/commands.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace honeycomb::node {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = HONEYCOMB_SOURCE_DIR;
const fs::path kCatalog = kSource / "potstore" / "potstore.json";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/honeycomb-potstore-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path path;
};

/// A folder holding fake `git` and `python3` executables: requirement
/// checks see exactly what a test puts there.
struct FakeBin {
  explicit FakeBin(std::initializer_list<const char*> names) {
    for (const char* n : names) {
      const auto file = dir.path / n;
      std::ofstream(file) << "#!/bin/sh\nexit 0\n";
      ::chmod(file.c_str(), 0755);
    }
  }
  std::string path() const { return dir.path.string(); }
  TempDir dir;
};

Potstore shipped() {
  auto loaded = Potstore::load(kCatalog);
  if (auto* err = std::get_if<std::string>(&loaded)) {
    ADD_FAILURE() << *err;
    return std::get<Potstore>(Potstore::parse(R"({"version":1,"pots":[]})", kCatalog));
  }
  return std::get<Potstore>(std::move(loaded));
}

/// A catalog with one entry: `entry` is the JSON object's text.
std::variant<Potstore, std::string> catalog_with(const std::string& entry,
                                                 const fs::path& file = "/catalog/potstore.json") {
  return Potstore::parse(R"({"version":1,"pots":[)" + entry + "]}", file);
}

std::string load_error(const std::string& entry) {
  auto loaded = catalog_with(entry);
  if (!std::holds_alternative<std::string>(loaded)) {
    ADD_FAILURE() << "loaded, but should not have: " << entry;
    return {};
  }
  return std::get<std::string>(loaded);
}

/// An external entry with `config` keys, from a folder that the planner does
/// not need to find (tests that plan use `tool_store`).
std::string external_entry(const std::string& config, const std::string& setup_extra = "") {
  return R"({"id":"tool","name":"Tool","version":"1","type":"external","description":"d",
            "setup":{"source":{"git_url":"https://example.com/tool.git"},"run":["tool"])" +
         setup_extra + R"(},
            "honeybee":{"event_port":true,"client":"none"},"config":[)" +
         config + "]}";
}

/// A git-sourced external pot whose `name` key is a whole argv element.
Potstore tool_store() {
  auto loaded = catalog_with(external_entry(
      R"({"key":"name","type":"string","arg":"{value}"},
         {"key":"label","type":"string","arg":"--label={value}"},
         {"key":"count","type":"integer","arg":"{value}"},
         {"key":"verbose","type":"boolean","arg":"--verbose"},
         {"key":"motd","type":"string","env":"TOOL_MOTD"})"));
  if (auto* err = std::get_if<std::string>(&loaded)) {
    ADD_FAILURE() << *err;
  }
  return std::get<Potstore>(std::move(loaded));
}

struct Planner {
  Planner() : bin({"git", "python3"}) {
    paths.honeycomb_exe = "/opt/honeycomb/bin/honeycomb";
    paths.pots_dir = "/var/lib/honeycomb/node/pots";
    paths.search_path = bin.path();
  }
  std::variant<InstallPlan, std::string> plan(const Potstore& store, const protocol::InstallPot& cmd) const {
    return plan_install(store, cmd, paths);
  }
  std::string error(const Potstore& store, const protocol::InstallPot& cmd) const {
    auto planned = plan(store, cmd);
    if (!std::holds_alternative<std::string>(planned)) {
      ADD_FAILURE() << "planned, but should not have";
      return {};
    }
    return std::get<std::string>(planned);
  }
  InstallPlan ok(const Potstore& store, const protocol::InstallPot& cmd) const {
    auto planned = plan(store, cmd);
    if (auto* err = std::get_if<std::string>(&planned)) {
      ADD_FAILURE() << *err;
      return {};
    }
    return std::get<InstallPlan>(std::move(planned));
  }
  FakeBin bin;
  InstallPaths paths;
};

protocol::InstallPot install(std::string pot_id, std::string type, std::map<std::string, std::string> config = {}) {
  protocol::InstallPot cmd;
  cmd.pot_id = std::move(pot_id);
  cmd.honeypot_type = std::move(type);
  if (!config.empty()) {
    cmd.config = std::move(config);
  }
  return cmd;
}

// ---- the shipped catalog ---------------------------------------------------------

TEST(Potstore, ShippedCatalogLoadsAndListsTheBuiltInServices) {
  const Potstore store = shipped();
  const auto* http = store.find("simple_http");
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->kind, CatalogEntry::Kind::honeycomb_service);
  EXPECT_EQ(http->service, "simple_http");
  EXPECT_EQ(http->default_ports, std::vector<std::uint16_t>{8080});
  ASSERT_NE(store.find("example-python-pot"), nullptr);
  const auto* cowrie = store.find("cowrie");
  ASSERT_NE(cowrie, nullptr);
  EXPECT_EQ(cowrie->source.git_url, "https://github.com/cowrie/cowrie");
  EXPECT_EQ(cowrie->source.git_branch, "master");
  EXPECT_EQ(store.find("nope"), nullptr);
}

// Every built-in service (services/<name>/) is in the catalog, and its keys
// are parameters of the service with the same type.
TEST(Potstore, ShippedCatalogMatchesTheServicesConfigJson) {
  const Potstore store = shipped();
  std::set<std::string> listed;
  for (const auto& e : store.entries()) {
    if (e.kind == CatalogEntry::Kind::honeycomb_service) {
      listed.insert(e.service);
    }
  }
  for (const auto& dir : fs::directory_iterator(kSource / "services")) {
    const auto config_file = dir.path() / "config.json";
    if (!fs::exists(config_file)) {
      continue;
    }
    const std::string service = dir.path().filename().string();
    SCOPED_TRACE(service);
    EXPECT_TRUE(listed.contains(service)) << "services/" << service << " is missing from potstore.json";
    const CatalogEntry* entry = nullptr;
    for (const auto& e : store.entries()) {
      if (e.service == service) {
        entry = &e;
      }
    }
    if (entry == nullptr) {
      continue;
    }
    std::ifstream in(config_file);
    std::stringstream text;
    text << in.rdbuf();
    const auto params = boost::json::parse(text.str()).at("parameters").as_array();
    for (const auto& key : entry->config) {
      const boost::json::object* param = nullptr;
      for (const auto& p : params) {
        if (p.at("value").as_string() == key.key) {
          param = &p.as_object();
        }
      }
      ASSERT_NE(param, nullptr) << key.key << " is not a parameter of " << service;
      const std::string type(param->at("type").as_string());
      using Type = CatalogEntry::ConfigKey::Type;
      const Type want = type == "integer" ? Type::integer : type == "boolean" ? Type::boolean : Type::string;
      EXPECT_EQ(key.type, want) << key.key;
    }
    // A required parameter without a default needs a catalog default, or a
    // bare InstallPot could not start the pot.
    for (const auto& p : params) {
      const auto& obj = p.as_object();
      if (obj.contains("required") && obj.at("required").as_bool() && !obj.contains("default")) {
        const auto* key = entry->find_key(std::string(obj.at("value").as_string()));
        ASSERT_NE(key, nullptr);
        EXPECT_TRUE(key->default_value.has_value()) << key->key;
      }
    }
  }
}

TEST(Potstore, ShippedFolderSourcesExist) {
  const Potstore store = shipped();
  for (const auto& e : store.entries()) {
    if (e.kind == CatalogEntry::Kind::external && !e.source.is_git()) {
      EXPECT_TRUE(fs::is_directory(store.dir() / e.source.folder)) << e.id;
    }
  }
  EXPECT_TRUE(fs::exists(kSource / "potstore/pots/example-python-pot/honeybee_client.py"));
}

TEST(Potstore, DefaultFileFollowsTheEnvironment) {
  ::setenv("HONEYCOMB_POTSTORE", "/srv/potstore.json", 1);
  EXPECT_EQ(default_potstore_file(), fs::path("/srv/potstore.json"));
  ::unsetenv("HONEYCOMB_POTSTORE");
  EXPECT_EQ(default_potstore_file().filename(), "potstore.json");
  EXPECT_EQ(default_potstore_file().parent_path().filename(), "potstore");
}

// ---- catalog validation ------------------------------------------------------------

TEST(PotstoreLoad, MissingFileAndBadJsonNameTheFile) {
  auto missing = Potstore::load("/nonexistent/potstore.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(missing));
  EXPECT_THAT(std::get<std::string>(missing), HasSubstr("/nonexistent/potstore.json"));
  auto bad = Potstore::parse("{", "/c/potstore.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(bad));
  EXPECT_THAT(std::get<std::string>(bad), HasSubstr("/c/potstore.json: not valid JSON"));
}

TEST(PotstoreLoad, RejectsUnknownTopLevelKeysAndVersions) {
  auto extra = Potstore::parse(R"({"version":1,"pots":[],"extra":1})", "/c/p.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(extra));
  EXPECT_THAT(std::get<std::string>(extra), HasSubstr("/c/p.json: extra: unknown key"));
  auto v2 = Potstore::parse(R"({"version":2,"pots":[]})", "/c/p.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(v2));
  EXPECT_THAT(std::get<std::string>(v2), HasSubstr("version: 2 is not supported"));
}

TEST(PotstoreLoad, RejectsUnknownEntryKeyNamingPotAndKey) {
  std::string entry = external_entry("");
  entry.insert(entry.size() - 1, R"(,"status":"stable")");
  EXPECT_THAT(load_error(entry), HasSubstr("/catalog/potstore.json: pot \"tool\": status: unknown key"));
}

TEST(PotstoreLoad, RejectsUnknownConfigKeyField) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"port","type":"integer","arg":"{value}","flag":1})")),
              HasSubstr("pot \"tool\": config.port.flag: unknown key"));
}

TEST(PotstoreLoad, RejectsDuplicateIds) {
  auto loaded =
      Potstore::parse(R"({"version":1,"pots":[)" + external_entry("") + "," + external_entry("") + "]}", "/c/p.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(loaded));
  EXPECT_THAT(std::get<std::string>(loaded), HasSubstr("pot \"tool\": id: is listed twice"));
}

TEST(PotstoreLoad, RejectsADefaultOutOfRange) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"port","type":"integer","default":70000,"max":65535,
                                           "arg":"--port={value}"})")),
              HasSubstr("pot \"tool\": config.port.default: \"70000\" must be at most 65535"));
}

TEST(PotstoreLoad, RejectsADefaultOfTheWrongJsonType) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"port","type":"integer","default":"80","arg":"{value}"})")),
              HasSubstr("config.port.default: must be a JSON integer"));
}

TEST(PotstoreLoad, RejectsAnInvalidPattern) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"name","type":"string","pattern":"[a-","arg":"{value}"})")),
              HasSubstr("config.name.pattern: is not a valid ECMAScript regular expression"));
}

TEST(PotstoreLoad, RejectsHugeNumbersInAPattern) {
  // libstdc++ reads such a repetition count or back-reference with a signed overflow.
  EXPECT_THAT(load_error(external_entry(R"({"key":"name","type":"string","pattern":"a{1444444444444444444}",)"
                                        R"("arg":"{value}"})")),
              HasSubstr("config.name.pattern: holds a number of more than 5 digits"));
  EXPECT_THAT(load_error(external_entry(R"({"key":"name","type":"string","pattern":"(a)\\123456","arg":"{value}"})")),
              HasSubstr("config.name.pattern: holds a number of more than 5 digits"));
  EXPECT_TRUE(std::holds_alternative<Potstore>(
      catalog_with(external_entry(R"({"key":"name","type":"string","pattern":"[0-9]{1,10000}","arg":"{value}"})"))));
}

TEST(PotstoreLoad, RejectsAnArgTemplateWithoutValue) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"name","type":"string","arg":"--name"})")),
              HasSubstr("config.name.arg: must hold {value} exactly once"));
  EXPECT_THAT(load_error(external_entry(R"({"key":"name","type":"string","arg":"{value}{value}"})")),
              HasSubstr("config.name.arg"));
}

TEST(PotstoreLoad, RejectsReservedEnvironmentVariables) {
  for (const char* name : {"LD_PRELOAD", "PATH", "HONEYBEE_POT_ID", "PYTHONPATH"}) {
    EXPECT_THAT(load_error(external_entry(std::string(R"({"key":"x","type":"string","env":")") + name + "\"}")),
                HasSubstr("config.x.env: " + std::string(name) + " may not be set from a config value"));
  }
}

TEST(PotstoreLoad, RejectsBadKeyNames) {
  EXPECT_THAT(load_error(external_entry(R"({"key":"Port","type":"integer","arg":"{value}"})")),
              HasSubstr("config[0].key: \"Port\" must match ^[a-z_][a-z0-9_]*$"));
}

TEST(PotstoreLoad, ServiceKeysHaveNoArgOrEnv) {
  EXPECT_THAT(load_error(R"({"id":"svc","name":"S","version":"1","type":"honeycomb-service","description":"d",
                            "setup":{"service":"svc"},"honeybee":{"event_port":true,"client":"honeycomb"},
                            "config":[{"key":"port","type":"integer","arg":"{value}"}]})"),
              HasSubstr("pot \"svc\": config.port: a honeycomb-service key has no arg or env"));
}

TEST(PotstoreLoad, ExternalSourceNeedsFolderOrGit) {
  EXPECT_THAT(load_error(R"({"id":"x","name":"X","version":"1","type":"external","description":"d",
                            "setup":{"source":{},"run":["x"]},"honeybee":{"event_port":true,"client":"none"}})"),
              HasSubstr("pot \"x\": setup.source: needs exactly one of folder or git_url"));
  EXPECT_THAT(load_error(R"({"id":"x","name":"X","version":"1","type":"external","description":"d",
                            "setup":{"source":{"git_url":"ext::sh -c id"},"run":["x"]},
                            "honeybee":{"event_port":true,"client":"none"}})"),
              HasSubstr("setup.source.git_url: \"ext::sh -c id\""));
}

TEST(PotstoreLoad, RejectsAnUnknownType) {
  EXPECT_THAT(load_error(R"({"id":"x","name":"X","version":"1","type":"docker","description":"d",
                            "setup":{},"honeybee":{"event_port":true,"client":"none"}})"),
              HasSubstr("pot \"x\": type: \"docker\" is not honeycomb-service or external"));
}

// ---- planning: errors, one per rule ---------------------------------------------------

TEST(PotstorePlan, RejectsAnInvalidPotId) {
  const Planner p;
  const Potstore store = shipped();
  for (const char* id : {"../x", "a;rm -rf /", "", "-rf", ".hidden", "a/b", "a b"}) {
    EXPECT_THAT(p.error(store, install(id, "simple_http")), HasSubstr("invalid pot id")) << id;
  }
  EXPECT_THAT(p.error(store, install("../x", "simple_http")), HasSubstr("\"../x\""));
}

TEST(PotstorePlan, RejectsAnUnknownTypeListingTheKnownOnes) {
  const Planner p;
  const auto err = p.error(shipped(), install("p1", "dionaea"));
  EXPECT_THAT(err, HasSubstr("unknown honeypot_type \"dionaea\""));
  EXPECT_THAT(err, HasSubstr("simple_http"));
  EXPECT_THAT(err, HasSubstr("example-python-pot"));
  EXPECT_THAT(err, HasSubstr("cowrie"));
}

TEST(PotstorePlan, RejectsAnUnknownConfigKeyListingTheValidOnes) {
  const Planner p;
  const auto err = p.error(shipped(), install("p1", "simple_http", {{"prot", "80"}}));
  EXPECT_THAT(err, HasSubstr("unknown config key \"prot\""));
  EXPECT_THAT(err, HasSubstr("valid keys: port, version, threading, address, max_connections, idle_timeout"));
}

TEST(PotstorePlan, RejectsAMissingRequiredKey) {
  const Planner p;
  auto loaded = catalog_with(external_entry(R"({"key":"token","type":"string","required":true,"env":"TOOL_TOKEN"})"));
  ASSERT_TRUE(std::holds_alternative<Potstore>(loaded)) << std::get<std::string>(loaded);
  EXPECT_THAT(p.error(std::get<Potstore>(loaded), install("p1", "tool")),
              HasSubstr("missing required config key \"token\""));
}

TEST(PotstorePlan, RejectsANonInteger) {
  const Planner p;
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"port", "80x"}})),
              HasSubstr("config key \"port\": value \"80x\" must be an integer"));
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"port", ""}})), HasSubstr("must be an integer"));
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"port", "99999999999999999999"}})),
              HasSubstr("must be an integer"));
}

TEST(PotstorePlan, RejectsAValueBelowMin) {
  const Planner p;
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"port", "0"}})),
              HasSubstr("config key \"port\": value \"0\" must be at least 1"));
}

TEST(PotstorePlan, RejectsAValueAboveMax) {
  const Planner p;
  EXPECT_THAT(p.error(shipped(), install("p1", "example-python-pot", {{"port", "65536"}})),
              HasSubstr("config key \"port\": value \"65536\" must be at most 65535"));
}

TEST(PotstorePlan, RejectsAValueNotMatchingThePattern) {
  const Planner p;
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"version", "nginx\r\nX-Evil: 1"}})),
              HasSubstr("config key \"version\": value \"nginx\\x0d\\x0aX-Evil: 1\" does not match the pattern"));
}

TEST(PotstorePlan, RejectsANonBoolean) {
  const Planner p;
  EXPECT_THAT(p.error(shipped(), install("p1", "simple_http", {{"threading", "maybe"}})),
              HasSubstr("config key \"threading\": value \"maybe\" must be true or false"));
}

TEST(PotstorePlan, RejectsOverlongAndNulValues) {
  const Planner p;
  const Potstore store = tool_store();
  EXPECT_THAT(p.error(store, install("p1", "tool", {{"motd", std::string(kMaxConfigValueBytes + 1, 'a')}})),
              HasSubstr("is longer than 4096 bytes"));
  EXPECT_THAT(p.error(store, install("p1", "tool", {{"motd", std::string("a\0b", 3)}})),
              HasSubstr("contains a NUL byte"));
}

TEST(PotstorePlan, RejectsValuesThatAreNotUtf8) {
  // node.yml's pots reach the planner through yaml-cpp, which passes any
  // bytes; pot.json (JSON) could not hold them and would not read back.
  const Planner p;
  const Potstore store = tool_store();
  for (const char* bad : {"a\xff", "\xc3(", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82"}) {
    EXPECT_THAT(p.error(store, install("p1", "tool", {{"motd", bad}})), HasSubstr("is not UTF-8 text")) << bad;
  }
  const auto plan = p.ok(store, install("p1", "tool", {{"motd", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9d"}}));
  auto back = pot_spec_from_json(to_json(plan.spec));
  ASSERT_TRUE(std::holds_alternative<PotSpec>(back));
  EXPECT_EQ(std::get<PotSpec>(back), plan.spec);
  auto cmd = install("p1", "cowrie");
  cmd.git_url = "https://example.com/\xfc.git";
  EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("is not UTF-8 text"));
}

TEST(PotstorePlan, RejectsGitUrlsWithOtherSchemes) {
  const Planner p;
  for (const char* url : {"ext::sh -c touch% /tmp/pwned", "/srv/repo", "git@github.com:cowrie/cowrie", "ftp://x/y"}) {
    auto cmd = install("p1", "cowrie");
    cmd.git_url = url;
    const auto err = p.error(shipped(), cmd);
    EXPECT_THAT(err, HasSubstr("git_url")) << url;
    EXPECT_THAT(err, HasSubstr("must start with https://, http://, git://, ssh:// or file://")) << url;
  }
}

TEST(PotstorePlan, RejectsGitUrlsWithSpacesOrControlCharacters) {
  const Planner p;
  auto cmd = install("p1", "cowrie");
  cmd.git_url = "https://example.com/a b";
  EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("may not contain spaces or control characters"));
}

TEST(PotstorePlan, RejectsGitUrlsStartingWithADash) {
  const Planner p;
  auto cmd = install("p1", "cowrie");
  cmd.git_url = "--upload-pack=touch /tmp/pwned";
  EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("git_url \"--upload-pack=touch /tmp/pwned\" may not start with '-'"));
}

TEST(PotstorePlan, RejectsBranchesStartingWithADash) {
  const Planner p;
  auto cmd = install("p1", "cowrie");
  cmd.git_branch = "--upload-pack=x";
  EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("git_branch \"--upload-pack=x\" may not start with '-'"));
}

TEST(PotstorePlan, RejectsBranchesWithOtherCharacters) {
  const Planner p;
  for (const char* branch : {"main;id", "a b", "$(id)", "x`id`"}) {
    auto cmd = install("p1", "cowrie");
    cmd.git_branch = branch;
    EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("may only contain [A-Za-z0-9._/-]")) << branch;
  }
}

TEST(PotstorePlan, RejectsGitFieldsForServicePots) {
  const Planner p;
  auto cmd = install("p1", "simple_http");
  cmd.git_url = "https://example.com/x.git";
  EXPECT_THAT(p.error(shipped(), cmd), HasSubstr("git_url and git_branch apply to external pots only"));
}

TEST(PotstorePlan, RejectsAMissingRequirementNamingIt) {
  Planner p;
  const FakeBin only_git({"git"});
  p.paths.search_path = only_git.path();
  EXPECT_THAT(p.error(shipped(), install("p1", "example-python-pot")),
              HasSubstr("requirement \"python3\" not found on PATH"));
  const FakeBin only_python({"python3"});
  p.paths.search_path = only_python.path();
  EXPECT_THAT(p.error(shipped(), install("p1", "cowrie")), HasSubstr("requirement \"git\" not found on PATH"));
}

TEST(PotstorePlan, RejectsAMissingSourceFolder) {
  const Planner p;
  TempDir dir;
  auto loaded = catalog_with(R"({"id":"x","name":"X","version":"1","type":"external","description":"d",
                                 "setup":{"source":{"folder":"pots/x"},"run":["x"]},
                                 "honeybee":{"event_port":true,"client":"none"}})",
                             dir.path / "potstore.json");
  ASSERT_TRUE(std::holds_alternative<Potstore>(loaded)) << std::get<std::string>(loaded);
  EXPECT_THAT(p.error(std::get<Potstore>(loaded), install("p1", "x")),
              HasSubstr("source folder " + (dir.path / "pots/x").string() + " does not exist"));
}

// ---- planning: what runs ------------------------------------------------------------

TEST(PotstorePlan, ServicePotRunsHoneycombServiceRun) {
  const Planner p;
  auto cmd = install("web-1", "simple_http", {{"port", "8081"}, {"version", "Apache/2.4.1"}});
  cmd.auto_start = true;
  const InstallPlan plan = p.ok(shipped(), cmd);
  const PotSpec& s = plan.spec;
  EXPECT_EQ(s.pot_id, "web-1");
  EXPECT_EQ(s.honeypot_type, "simple_http");
  EXPECT_TRUE(s.auto_start);
  EXPECT_EQ(s.workdir, fs::path("/var/lib/honeycomb/node/pots/web-1"));
  EXPECT_EQ(s.argv, (std::vector<std::string>{"/opt/honeycomb/bin/honeycomb", "--home",
                                              "/var/lib/honeycomb/node/pots/web-1/home", "service", "run",
                                              "simple_http", "port=8081", "version=Apache/2.4.1", "-i", "honeybee"}));
  EXPECT_TRUE(s.env.empty());
  EXPECT_EQ(s.config, (std::map<std::string, std::string>{{"port", "8081"}, {"version", "Apache/2.4.1"}}));
  EXPECT_FALSE(s.source.empty());
  EXPECT_FALSE(plan.copy_from);
  ASSERT_EQ(plan.steps.size(), 2U);
  const std::vector<int> ok_codes{0, cli::exit_code::already_exists};
  EXPECT_EQ(plan.steps[0].argv,
            (std::vector<std::string>{"/opt/honeycomb/bin/honeycomb", "--home",
                                      "/var/lib/honeycomb/node/pots/web-1/home", "service", "install", "simple_http"}));
  EXPECT_EQ(plan.steps[0].ok_exit_codes, ok_codes);
  EXPECT_EQ(plan.steps[1].argv, (std::vector<std::string>{"/opt/honeycomb/bin/honeycomb", "--home",
                                                          "/var/lib/honeycomb/node/pots/web-1/home", "integration",
                                                          "install", "honeybee"}));
  EXPECT_EQ(plan.steps[1].ok_exit_codes, ok_codes);
  EXPECT_EQ(plan.steps[1].workdir, s.workdir);
}

TEST(PotstorePlan, ServicePotUsesDefaultsAndIamroot) {
  Planner p;
  p.paths.iamroot = true;
  const InstallPlan plan = p.ok(shipped(), install("web-2", "simple_http", {{"threading", "yes"}}));
  EXPECT_EQ(plan.spec.argv,
            (std::vector<std::string>{"/opt/honeycomb/bin/honeycomb", "--home",
                                      "/var/lib/honeycomb/node/pots/web-2/home", "--iamroot", "service", "run",
                                      "simple_http", "port=8080", "threading=true", "-i", "honeybee"}));
  EXPECT_EQ(plan.steps[0].argv[3], "--iamroot");
}

TEST(PotstorePlan, ExamplePythonPotFromItsFolder) {
  const Planner p;
  const InstallPlan plan = p.ok(shipped(), install("ex-1", "example-python-pot"));
  const PotSpec& s = plan.spec;
  const fs::path app = "/var/lib/honeycomb/node/pots/ex-1/app";
  EXPECT_EQ(s.workdir, app);
  EXPECT_EQ(s.argv, (std::vector<std::string>{"python3", "-u", "pot.py", "--port=2323"}));
  EXPECT_EQ(s.env, (std::vector<std::pair<std::string, std::string>>{{"EXAMPLE_POT_BANNER", "Ubuntu 22.04 LTS"}}));
  EXPECT_EQ(s.honeypot_type, "example-python-pot");
  ASSERT_TRUE(plan.copy_from);
  EXPECT_EQ(*plan.copy_from, (kSource / "potstore/pots/example-python-pot").lexically_normal());
  EXPECT_EQ(s.source, "folder " + plan.copy_from->string());
  ASSERT_EQ(plan.steps.size(), 1U);
  EXPECT_EQ(plan.steps[0].argv,
            (std::vector<std::string>{"python3", "-m", "py_compile", "pot.py", "honeybee_client.py"}));
  EXPECT_EQ(plan.steps[0].workdir, app);
  EXPECT_EQ(plan.steps[0].ok_exit_codes, std::vector<int>{0});
}

TEST(PotstorePlan, ExamplePythonPotWithConfig) {
  const Planner p;
  const InstallPlan plan =
      p.ok(shipped(), install("ex-2", "example-python-pot", {{"port", "2424"}, {"banner", "SSH-2.0-OpenSSH_9.6"}}));
  EXPECT_EQ(plan.spec.argv, (std::vector<std::string>{"python3", "-u", "pot.py", "--port=2424"}));
  EXPECT_EQ(plan.spec.env,
            (std::vector<std::pair<std::string, std::string>>{{"EXAMPLE_POT_BANNER", "SSH-2.0-OpenSSH_9.6"}}));
}

TEST(PotstorePlan, CatalogDirOverridesWhereFoldersAreFound) {
  Planner p;
  TempDir dir;
  fs::create_directories(dir.path / "pots/example-python-pot");
  p.paths.catalog_dir = dir.path;
  const InstallPlan plan = p.ok(shipped(), install("ex-3", "example-python-pot"));
  ASSERT_TRUE(plan.copy_from);
  EXPECT_EQ(*plan.copy_from, dir.path / "pots/example-python-pot");
}

TEST(PotstorePlan, CowrieClonesThenInstallsInItsVirtualenv) {
  const Planner p;
  const InstallPlan plan = p.ok(shipped(), install("cowrie-01", "cowrie", {{"hostname", "prod-db-02"}}));
  const fs::path pot = "/var/lib/honeycomb/node/pots/cowrie-01";
  const std::string app = (pot / "app").string();
  EXPECT_FALSE(plan.copy_from);
  ASSERT_EQ(plan.steps.size(), 4U);
  EXPECT_EQ(plan.steps[0].argv, (std::vector<std::string>{"git", "clone", "--depth", "1", "--branch", "master", "--",
                                                          "https://github.com/cowrie/cowrie", app}));
  EXPECT_EQ(plan.steps[0].workdir, pot);
  EXPECT_EQ(plan.steps[0].env, (std::vector<std::pair<std::string, std::string>>{{"GIT_TERMINAL_PROMPT", "0"}}));
  EXPECT_EQ(plan.steps[1].argv, (std::vector<std::string>{"python3", "-m", "venv", "cowrie-env"}));
  EXPECT_EQ(plan.steps[2].argv[0], app + "/cowrie-env/bin/python");
  EXPECT_EQ(plan.steps[3].workdir, fs::path(app));
  EXPECT_EQ(plan.spec.argv,
            (std::vector<std::string>{app + "/cowrie-env/bin/twistd", "-n", "--umask=0022", "--pidfile=", "cowrie"}));
  EXPECT_EQ(plan.spec.env, (std::vector<std::pair<std::string, std::string>>{
                               {"PYTHONPATH", "src"},
                               {"COWRIE_HONEYPOT_HOSTNAME", "prod-db-02"},
                               {"COWRIE_SSH_LISTEN_ENDPOINTS", "tcp:2222:interface=0.0.0.0"},
                               {"COWRIE_TELNET_ENABLED", "false"},
                               {"COWRIE_TELNET_LISTEN_ENDPOINTS", "tcp:2223:interface=0.0.0.0"}}));
  EXPECT_EQ(plan.spec.source, "git https://github.com/cowrie/cowrie branch master");
}

TEST(PotstorePlan, InstallPotGitUrlOverridesTheSource) {
  const Planner p;
  auto cmd = install("cowrie-02", "cowrie");
  cmd.git_url = "https://git.example.org/mirror/cowrie.git";
  const InstallPlan with_url = p.ok(shipped(), cmd);
  EXPECT_EQ(with_url.steps[0].argv,
            (std::vector<std::string>{"git", "clone", "--depth", "1", "--", "https://git.example.org/mirror/cowrie.git",
                                      "/var/lib/honeycomb/node/pots/cowrie-02/app"}));
  cmd.git_branch = "v2.5.0";
  EXPECT_EQ(p.ok(shipped(), cmd).steps[0].argv[5], "v2.5.0");
  auto branch_only = install("cowrie-03", "cowrie");
  branch_only.git_branch = "release/2.6";
  EXPECT_EQ(p.ok(shipped(), branch_only).steps[0].argv[5], "release/2.6");
  EXPECT_EQ(p.ok(shipped(), branch_only).steps[0].argv[7], "https://github.com/cowrie/cowrie");
  auto on_folder = install("ex-4", "example-python-pot");
  on_folder.git_url = "file:///srv/git/example-pot";
  const InstallPlan from_git = p.ok(shipped(), on_folder);
  EXPECT_FALSE(from_git.copy_from);
  EXPECT_EQ(from_git.steps[0].argv[0], "git");
  auto folder_branch = install("ex-5", "example-python-pot");
  folder_branch.git_branch = "main";
  EXPECT_THAT(p.error(shipped(), folder_branch), HasSubstr("git_branch without git_url"));
}

// ---- injection: data stays data ----------------------------------------------------------

TEST(PotstoreInjection, ShellSyntaxInAValueIsOneArgvElement) {
  const Planner p;
  const Potstore store = tool_store();
  for (const char* value : {"$(reboot)", "; ls", "a b c", "`id`", "x\ny", "'\"", "|| true", "&& rm -rf /"}) {
    const InstallPlan plan = p.ok(store, install("t1", "tool", {{"name", value}, {"label", value}}));
    EXPECT_EQ(plan.spec.argv, (std::vector<std::string>{"tool", value, std::string("--label=") + value})) << value;
  }
}

TEST(PotstoreInjection, ShellSyntaxInAValueIsOneEnvironmentValue) {
  const Planner p;
  for (const char* value : {"$(reboot)", "; ls"}) {
    const InstallPlan plan = p.ok(shipped(), install("ex-1", "example-python-pot", {{"banner", value}}));
    EXPECT_EQ(plan.spec.env, (std::vector<std::pair<std::string, std::string>>{{"EXAMPLE_POT_BANNER", value}}));
    EXPECT_EQ(plan.spec.argv, (std::vector<std::string>{"python3", "-u", "pot.py", "--port=2323"}));
  }
  // The banner's pattern (printable ASCII) refuses control characters.
  EXPECT_THAT(p.error(shipped(), install("ex-1", "example-python-pot", {{"banner", "a\nb"}})),
              HasSubstr("does not match the pattern"));
}

TEST(PotstoreInjection, ShellSyntaxInAServiceValueIsOneKeyValueElement) {
  const Planner p;
  auto loaded = catalog_with(R"({"id":"svc","name":"S","version":"1","type":"honeycomb-service","description":"d",
                                 "setup":{"service":"svc"},"honeybee":{"event_port":true,"client":"honeycomb"},
                                 "config":[{"key":"motd","type":"string"}]})");
  ASSERT_TRUE(std::holds_alternative<Potstore>(loaded)) << std::get<std::string>(loaded);
  const InstallPlan plan = p.ok(std::get<Potstore>(loaded), install("s1", "svc", {{"motd", "-rf; $(reboot)"}}));
  EXPECT_EQ(plan.spec.argv[6], "motd=-rf; $(reboot)");
  EXPECT_EQ(plan.spec.argv.size(), 9U);
}

TEST(PotstoreInjection, AWholeElementValueMayNotLookLikeAnOption) {
  const Planner p;
  const Potstore store = tool_store();
  EXPECT_THAT(p.error(store, install("t1", "tool", {{"name", "-rf"}})),
              HasSubstr("config key \"name\": value \"-rf\" may not start with '-'"));
  EXPECT_THAT(p.error(store, install("t1", "tool", {{"name", "--exec=/bin/sh"}})), HasSubstr("may not start with '-'"));
  // Inside a template, a leading '-' is harmless; an integer may be negative.
  EXPECT_EQ(p.ok(store, install("t1", "tool", {{"label", "-rf"}})).spec.argv,
            (std::vector<std::string>{"tool", "--label=-rf"}));
  EXPECT_EQ(p.ok(store, install("t1", "tool", {{"count", "-5"}})).spec.argv, (std::vector<std::string>{"tool", "-5"}));
}

TEST(PotstoreInjection, BooleanFlagsAndEnvValues) {
  const Planner p;
  const Potstore store = tool_store();
  EXPECT_EQ(p.ok(store, install("t1", "tool", {{"verbose", "true"}})).spec.argv,
            (std::vector<std::string>{"tool", "--verbose"}));
  EXPECT_EQ(p.ok(store, install("t1", "tool", {{"verbose", "no"}})).spec.argv, (std::vector<std::string>{"tool"}));
  EXPECT_EQ(p.ok(store, install("t1", "tool", {{"motd", "$(reboot)"}})).spec.env,
            (std::vector<std::pair<std::string, std::string>>{{"TOOL_MOTD", "$(reboot)"}}));
}

TEST(PotstoreInjection, ALongValueAgainstAPatternDoesNotCrash) {
  const Planner p;
  // At the size limit, against the banner's pattern (std::regex recurses per character).
  auto planned = p.plan(shipped(), install("ex-1", "example-python-pot", {{"banner", std::string(4096, 'a')}}));
  ASSERT_TRUE(std::holds_alternative<std::string>(planned));  // longer than {1,200}
  EXPECT_THAT(std::get<std::string>(planned), HasSubstr("does not match the pattern"));
  auto loaded = catalog_with(external_entry(R"({"key":"word","type":"string","pattern":"[a-z]*","env":"W"})"));
  ASSERT_TRUE(std::holds_alternative<Potstore>(loaded)) << std::get<std::string>(loaded);
  const std::string longest(kMaxConfigValueBytes, 'a');
  EXPECT_EQ(p.ok(std::get<Potstore>(loaded), install("t1", "tool", {{"word", longest}})).spec.env.at(0).second,
            longest);
}

}  // namespace
}  // namespace honeycomb::node
