// Pot sandboxing: the pure parts (ports from a pot's config, the node.yml
// keys, pot.json's slot and ports, uid slots), the plan a PotSandbox makes,
// and what a sandboxed child really gets (limits, no_new_privs; as root
// also its user, its single capability, its mount view and the files given
// to it), read from the child's own /proc/self/status and /proc/self/limits.
#include "node/pot_sandbox.hpp"

#include "node/child_process.hpp"
#include "node/config.hpp"
#include "node/potstore.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <pwd.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace honeycomb::node {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kCatalog = fs::path(HONEYCOMB_SOURCE_DIR) / "potstore" / "potstore.json";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/honeycomb-sandbox-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path path;
};

Potstore shipped() {
  auto loaded = Potstore::load(kCatalog);
  if (auto* err = std::get_if<std::string>(&loaded)) {
    ADD_FAILURE() << *err;
    return std::get<Potstore>(Potstore::parse(R"({"version":1,"pots":[]})", kCatalog));
  }
  return std::get<Potstore>(std::move(loaded));
}

using Ports = std::vector<std::uint16_t>;

// ---- ports ----

TEST(PotPorts, FromThePortKeyOrItsDefault) {
  const auto store = shipped();
  const auto* http = store.find("simple_http");
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(pot_ports(http, {{"port", "81"}}), Ports{81});
  EXPECT_EQ(pot_ports(http, {}), Ports{8080});  // the catalog's default
  EXPECT_EQ(pot_ports(http, {{"port", "81"}, {"version", "tcp:22"}}), (Ports{22, 81}));
  const auto* python = store.find("example-python-pot");
  ASSERT_NE(python, nullptr);
  EXPECT_EQ(pot_ports(python, {{"port", "23"}, {"banner", "hello"}}), Ports{23});
}

TEST(PotPorts, ListsRangesAndTwistedEndpoints) {
  const auto store = shipped();
  const auto* banner = store.find("banner");
  ASSERT_NE(banner, nullptr);
  EXPECT_EQ(pot_ports(banner, {{"ports", "8003-8005, 21,23"}}), (Ports{21, 23, 8003, 8004, 8005}));
  EXPECT_EQ(pot_ports(banner, {}), (Ports{2121, 2323, 5900}));
  // A huge range keeps its lowest ports: they decide the capability.
  const auto wide = pot_ports(banner, {{"ports", "80-65535"}});
  ASSERT_EQ(wide.size(), kMaxRecordedPorts);
  EXPECT_EQ(wide.front(), 80);
  const auto* cowrie = store.find("cowrie");
  ASSERT_NE(cowrie, nullptr);
  EXPECT_EQ(pot_ports(cowrie, {{"ssh_listen_endpoints", "tcp:22:interface=0.0.0.0"}}), (Ports{22, 2223}));
}

TEST(PotPorts, DefaultPortsWhenNoKeyNamesOne) {
  auto parsed = Potstore::parse(R"({"version":1,"pots":[{"id":"quiet","name":"q","version":"1","type":"external",
      "description":"d","default_ports":[445,139],"setup":{"source":{"folder":"/tmp"},"run":["true"]},
      "honeybee":{"event_port":true,"client":"none"},
      "config":[{"key":"verbose","type":"boolean","arg":"--verbose"}]}]})",
                                "/catalog/potstore.json");
  ASSERT_TRUE(std::holds_alternative<Potstore>(parsed)) << std::get<std::string>(parsed);
  const auto& store = std::get<Potstore>(parsed);
  EXPECT_EQ(pot_ports(store.find("quiet"), {{"verbose", "true"}}), (Ports{139, 445}));
}

TEST(PotPorts, WithoutTheCatalogFromTheConfigAlone) {
  EXPECT_EQ(pot_ports(nullptr, {{"port", "80"}, {"admin_port", "8443"}, {"name", "x"}}), (Ports{80, 8443}));
  EXPECT_EQ(pot_ports(nullptr, {{"port", "0"}, {"ports", "nonsense,70000"}}), Ports{});
  EXPECT_EQ(pot_ports(nullptr, {}), Ports{});
}

TEST(PotPorts, CatalogInstallCommandsRunAsThePotAndFetchingAsTheNode) {
  const auto store = shipped();
  InstallPaths paths;
  paths.honeycomb_exe = "/opt/honeycomb/bin/honeycomb";
  paths.pots_dir = "/var/lib/honeycomb/pots";
  paths.search_path = "/usr/bin:/bin";
  protocol::InstallPot cmd;
  cmd.pot_id = "web";
  cmd.honeypot_type = "simple_http";
  auto service = plan_install(store, cmd, paths);
  ASSERT_TRUE(std::holds_alternative<InstallPlan>(service)) << std::get<std::string>(service);
  for (const auto& step : std::get<InstallPlan>(service).steps) {
    EXPECT_FALSE(step.as_pot) << step.what;  // plugin install: the node's library, as the node
  }
  cmd.honeypot_type = "example-python-pot";
  auto external = plan_install(store, cmd, paths);
  ASSERT_TRUE(std::holds_alternative<InstallPlan>(external)) << std::get<std::string>(external);
  ASSERT_FALSE(std::get<InstallPlan>(external).steps.empty());
  for (const auto& step : std::get<InstallPlan>(external).steps) {
    EXPECT_TRUE(step.as_pot) << step.what;  // py_compile of the pot's code: as the pot
  }
}

// ---- pot.json ----

TEST(PotSpecSandbox, SlotAndPortsRoundTrip) {
  PotSpec spec;
  spec.pot_id = "web";
  spec.honeypot_type = "simple_http";
  spec.argv = {"honeycomb"};
  spec.workdir = "/x";
  spec.uid_slot = 7;
  spec.ports = Ports{81, 8080};
  auto back = pot_spec_from_json(to_json(spec));
  ASSERT_TRUE(std::holds_alternative<PotSpec>(back)) << std::get<std::string>(back);
  EXPECT_EQ(std::get<PotSpec>(back), spec);

  // Written before slots and ports existed: both unknown.
  spec.uid_slot.reset();
  spec.ports.reset();
  back = pot_spec_from_json(to_json(spec));
  ASSERT_TRUE(std::holds_alternative<PotSpec>(back));
  EXPECT_FALSE(std::get<PotSpec>(back).uid_slot.has_value());
  EXPECT_FALSE(std::get<PotSpec>(back).ports.has_value());

  const std::string base = R"({"pot_id":"a","honeypot_type":"t","workdir":"/w","source":"s","argv":["x"],)";
  for (const auto* bad :
       {R"("uid_slot":-1})", R"("uid_slot":"3"})", R"("ports":[0]})", R"("ports":[70000]})", R"("ports":"80"})"}) {
    auto parsed = pot_spec_from_json(base + bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(parsed)) << bad;
  }
}

// ---- node.yml ----

std::variant<NodeConfig, std::string> load(const TempDir& dir, const std::string& yaml) {
  const auto file = dir.path / "node.yml";
  std::ofstream(file) << yaml;
  return load_node_config(file, NodeConfig{});
}

TEST(PotSandboxConfig, DefaultsAndTheGeneratedFile) {
  const PotSandboxOptions d;
  EXPECT_EQ(d.user, "");
  EXPECT_EQ(d.uid_base, 61000U);
  EXPECT_EQ(d.memory_mb, 1024U);
  EXPECT_EQ(d.cpu_seconds, 0U);
  EXPECT_EQ(d.open_files, 16384U);
  EXPECT_EQ(d.processes, 256U);
  EXPECT_TRUE(d.private_mounts);
  EXPECT_EQ(d.nice, 5);
  TempDir dir;
  const auto text = generate_node_config(NodeConfig{});
  for (const auto* key : {"pot_uid_base: 61000", "pot_memory_mb: 1024", "pot_cpu_seconds: 0", "pot_open_files: 16384",
                          "pot_processes: 256", "pot_private_mounts: true", "# pot_user: nobody", "pot_nice: 5"}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
  auto loaded = load(dir, text);
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  EXPECT_EQ(std::get<NodeConfig>(loaded).pot_sandbox, d);
}

TEST(PotSandboxConfig, ReadsEveryKey) {
  TempDir dir;
  auto loaded = load(dir,
                     "pot_user: honeypots\npot_uid_base: 200000\npot_memory_mb: 0\npot_cpu_seconds: 3600\n"
                     "pot_open_files: 512\npot_processes: 64\npot_private_mounts: false\npot_nice: 0\n");
  ASSERT_TRUE(std::holds_alternative<NodeConfig>(loaded)) << std::get<std::string>(loaded);
  const auto& s = std::get<NodeConfig>(loaded).pot_sandbox;
  EXPECT_EQ(s.user, "honeypots");
  EXPECT_EQ(s.uid_base, 200000U);
  EXPECT_EQ(s.memory_mb, 0U);
  EXPECT_EQ(s.cpu_seconds, 3600U);
  EXPECT_EQ(s.open_files, 512U);
  EXPECT_EQ(s.processes, 64U);
  EXPECT_FALSE(s.private_mounts);
  EXPECT_EQ(s.nice, 0);
}

TEST(PotSandboxConfig, ErrorsNameTheKey) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pot_user: \"root; rm\"\n", "pot_user"},
      {"pot_user: Root\n", "pot_user"},
      {"pot_uid_base: 0\n", "pot_uid_base"},
      {"pot_uid_base: 4294967290\n", "pot_uid_base"},
      {"pot_memory_mb: 10\n", "pot_memory_mb"},
      {"pot_memory_mb: -1\n", "pot_memory_mb"},
      {"pot_open_files: 1\n", "pot_open_files"},
      {"pot_processes: 0\n", "pot_processes"},
      {"pot_private_mounts: maybe\n", "pot_private_mounts"},
      {"pot_nice: -1\n", "pot_nice"},
      {"pot_nice: 20\n", "pot_nice"},
  };
  for (const auto& [yaml, key] : cases) {
    auto loaded = load(dir, yaml);
    ASSERT_TRUE(std::holds_alternative<std::string>(loaded)) << yaml;
    EXPECT_THAT(std::get<std::string>(loaded), HasSubstr(key)) << yaml;
  }
}

// ---- uid slots ----

bool has_account(uid_t uid) {
  return ::getpwuid(uid) != nullptr;
}

TEST(PotUidSlots, SkipsSlotsInUseAndIdsOfThisMachine) {
  // From base 0 the first slots are root, daemon, ...: never given.
  const auto slot = free_uid_slot(0, {});
  ASSERT_TRUE(slot.has_value());
  EXPECT_GT(*slot, 0U);
  EXPECT_FALSE(has_account(*slot));
  std::set<std::uint32_t> used = {0, 1, 2};
  const auto next = free_uid_slot(61000, used);
  ASSERT_TRUE(next.has_value());
  EXPECT_GE(*next, 3U);
  EXPECT_FALSE(has_account(61000 + *next));
  for (std::uint32_t i = 0; i < kPotUidSlots; ++i) {
    used.insert(i);
  }
  EXPECT_FALSE(free_uid_slot(61000, used).has_value());
}

// ---- the plan ----

PotSpec spec_in(const fs::path& pots, const std::string& id, Ports ports) {
  PotSpec spec;
  spec.pot_id = id;
  spec.honeypot_type = "simple_http";
  spec.argv = {"/bin/cat"};
  spec.workdir = pots / id;
  spec.uid_slot = 5;
  spec.ports = std::move(ports);
  fs::create_directories(pots / id);
  return spec;
}

const ChildSandbox::Limit* find_limit(const ChildSandbox& c, int resource) {
  for (const auto& l : c.limits) {
    if (l.resource == resource) {
      return &l;
    }
  }
  return nullptr;
}

TEST(PotSandboxPlan, LimitsUserCapabilityAndFolder) {
  TempDir dir;
  const auto pots = dir.path / "data" / "pots";
  PotSandboxOptions options;
  options.uid_base = 62000;
  options.memory_mb = 512;
  options.cpu_seconds = 100;
  options.open_files = 2048;
  options.processes = 32;
  options.nice = 9;
  PotSandbox sandbox(options, pots);
  sandbox.start();
  const bool root = ::geteuid() == 0;
  EXPECT_EQ(sandbox.switches_user(), root);

  const auto spec = spec_in(pots, "low", Ports{81, 8080});
  // A honeycomb-service pot's folder is the node's: it runs in its home.
  EXPECT_EQ(sandbox.workdir_of(spec), pots / "low" / "home");
  auto planned = sandbox.plan(spec, spec.argv, sandbox.workdir_of(spec), true);
  ASSERT_TRUE(std::holds_alternative<PotSandbox::Plan>(planned)) << std::get<std::string>(planned);
  const auto& plan = std::get<PotSandbox::Plan>(planned);
  const auto& c = plan.child;
  rlimit node_files{};
  ::getrlimit(RLIMIT_NOFILE, &node_files);
  const auto* files = find_limit(c, RLIMIT_NOFILE);
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->hard, root ? 2048U : std::min<std::uint64_t>(2048, node_files.rlim_max));
  EXPECT_LE(files->soft, 1024U);
  const auto* cpu = find_limit(c, RLIMIT_CPU);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->soft, 100U);
  EXPECT_THAT(plan.json, HasSubstr(R"("cpu_seconds":100)"));
  EXPECT_EQ(c.nice, 9);
  EXPECT_THAT(plan.json, HasSubstr(R"("nice":9)"));
  EXPECT_THAT(plan.json, HasSubstr(R"("ports":[81,8080])"));
  EXPECT_THAT(plan.json, HasSubstr(R"("no_new_privs":true)"));
  if (const auto* memory = find_limit(c, RLIMIT_AS)) {
    EXPECT_EQ(memory->hard, std::uint64_t{512} << 20);
    EXPECT_THAT(plan.json, HasSubstr(R"("memory_mb":512)"));
  } else {
    EXPECT_THAT(plan.json, HasSubstr("sanitizer"));  // a sanitizer build cannot live under RLIMIT_AS
  }
  if (!root) {
    EXPECT_FALSE(c.switch_user);
    EXPECT_EQ(find_limit(c, RLIMIT_NPROC), nullptr);  // the node's own uid: not counted per pot
    GTEST_SKIP() << "not root: no user, capability or mount view to check";
  }
  ASSERT_NE(find_limit(c, RLIMIT_NPROC), nullptr);
  EXPECT_EQ(find_limit(c, RLIMIT_NPROC)->hard, 32U);
  EXPECT_TRUE(c.switch_user);
  EXPECT_EQ(c.uid, 62005U);
  EXPECT_EQ(c.gid, 62005U);
  EXPECT_EQ(c.bind_service, unprivileged_port_start() > 81);
  EXPECT_THAT(plan.env, ::testing::Contains(std::pair<std::string, std::string>("HOME", (pots / "low" / "home"))));
  {
    // Its PATH leaves out what it cannot enter (root's ~/.pyenv/shims, say).
    const std::string saved = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    ::setenv("PATH", (dir.path.string() + "/bin:/usr/bin:relative").c_str(), 1);
    auto with_path = sandbox.plan(spec, {"cat"}, pots / "low", true);
    ::setenv("PATH", saved.c_str(), 1);
    ASSERT_TRUE(std::holds_alternative<PotSandbox::Plan>(with_path)) << std::get<std::string>(with_path);
    EXPECT_THAT(std::get<PotSandbox::Plan>(with_path).env,
                ::testing::Contains(std::pair<std::string, std::string>("PATH", "/usr/bin")));
  }
  // An install step never gets the capability.
  auto step = sandbox.plan(spec, spec.argv, pots / "low", false);
  ASSERT_TRUE(std::holds_alternative<PotSandbox::Plan>(step));
  EXPECT_FALSE(std::get<PotSandbox::Plan>(step).child.bind_service);
  // High ports: none either.
  const auto high_spec = spec_in(pots, "high", Ports{8080});
  auto high = sandbox.plan(high_spec, high_spec.argv, pots / "high", true);
  ASSERT_TRUE(std::holds_alternative<PotSandbox::Plan>(high));
  EXPECT_FALSE(std::get<PotSandbox::Plan>(high).child.bind_service);
  EXPECT_THAT(std::get<PotSandbox::Plan>(high).json, HasSubstr(R"("capabilities":[])"));
  if (sandbox.private_mounts()) {
    // /tmp/honeycomb-sandbox-XXXXXX is 0700: the view hides it all but the pot.
    EXPECT_EQ(c.hide, dir.path.string());
    EXPECT_EQ(c.expose, (pots / "low").string());
    EXPECT_EQ(c.make_dirs,
              (std::vector<std::string>{(dir.path / "data").string(), pots.string(), (pots / "low").string()}));
  }
  // A pot without a slot, or a pot_user that does not exist, cannot run.
  auto no_slot = spec;
  no_slot.uid_slot.reset();
  EXPECT_TRUE(std::holds_alternative<std::string>(sandbox.plan(no_slot, no_slot.argv, pots, true)));
  options.user = "no-such-account-here";
  PotSandbox unknown(options, pots);
  unknown.start();
  auto refused = unknown.plan(spec, spec.argv, pots, true);
  ASSERT_TRUE(std::holds_alternative<std::string>(refused));
  EXPECT_THAT(std::get<std::string>(refused), HasSubstr("no-such-account-here"));
  options.user = "root";
  PotSandbox as_root(options, pots);
  as_root.start();
  EXPECT_TRUE(std::holds_alternative<std::string>(as_root.plan(spec, spec.argv, pots, true)));
}

// ---- the child ----

/// Runs `command` to its end; its stdout and stderr, and its exit status
/// (or the spawn error in `output`).
struct Ran {
  int status = -1;
  std::string output;
};
Ran run(ChildCommand command) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  command.stdout_fd = pipe_fds[1];
  command.stderr_fd = pipe_fds[1];
  auto spawned = spawn_child(command);
  ::close(pipe_fds[1]);
  Ran r;
  if (auto* error = std::get_if<std::string>(&spawned)) {
    ::close(pipe_fds[0]);
    r.output = *error;
    return r;
  }
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    r.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  ::waitpid(std::get<pid_t>(spawned), &r.status, 0);
  return r;
}

/// "Uid:\t61000\t61000..." -> "61000\t61000...".
std::string field(const std::string& status, const std::string& name) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + ":", 0) == 0) {
      const auto value = line.find_first_not_of(" \t", name.size() + 1);
      return value == std::string::npos ? std::string() : line.substr(value);
    }
  }
  return "?";
}

TEST(SandboxedChild, GetsItsLimitsAndNoNewPrivileges) {
  ChildSandbox sandbox;
  sandbox.limits = {{RLIMIT_NOFILE, 100, 200}, {RLIMIT_CPU, 50, 51}};
  ChildCommand command{{"/bin/cat", "/proc/self/status", "/proc/self/limits"}, {}, {}, -1, -1};
  command.sandbox = sandbox;
  const auto r = run(command);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(field(r.output, "NoNewPrivs"), "1");
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Max open files +100 +200 +files"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Max cpu time +50 +51 +seconds"));
  EXPECT_EQ(field(r.output, "CapAmb"), "0000000000000000");
}

TEST(SandboxedChild, RunsBelowTheNodesPriority) {
  ChildSandbox sandbox;
  sandbox.nice = 6;
  ChildCommand command{{"/bin/cat", "/proc/self/stat"}, {}, {}, -1, -1};
  command.sandbox = sandbox;
  const auto r = run(command);
  ASSERT_EQ(r.status, 0) << r.output;
  // The fields after "(comm)": state is the 3rd of the line, nice the 19th.
  std::istringstream after(r.output.substr(r.output.rfind(')') + 1));
  std::vector<std::string> fields{std::istream_iterator<std::string>(after), {}};
  ASSERT_GT(fields.size(), 16U) << r.output;
  errno = 0;
  const int node_nice = ::getpriority(PRIO_PROCESS, 0);
  EXPECT_EQ(std::stoi(fields[16]), std::min(node_nice + 6, 19));
}

TEST(SandboxedChild, ReportsTheStepThatFailed) {
  ChildSandbox sandbox;
  rlimit current{};
  ::getrlimit(RLIMIT_NOFILE, &current);
  sandbox.limits = {{RLIMIT_NOFILE, 10, 5}};  // soft above hard: EINVAL
  ChildCommand command{{"/bin/true"}, {}, {}, -1, -1};
  command.sandbox = sandbox;
  const auto r = run(command);
  EXPECT_EQ(r.status, -1);
  EXPECT_THAT(r.output, HasSubstr("cannot set RLIMIT_NOFILE (open files)"));
}

TEST(SandboxedChild, AsRootRunsAsItsUserWithOneCapabilityAtMost) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  ChildSandbox sandbox;
  sandbox.switch_user = true;
  sandbox.uid = 61990;
  sandbox.gid = 61991;
  sandbox.limits = {{RLIMIT_NPROC, 16, 16}};
  std::ifstream("/proc/sys/kernel/cap_last_cap") >> sandbox.last_cap;
  ChildCommand command{{"/bin/cat", "/proc/self/status", "/proc/self/limits"}, {}, {}, -1, -1};
  command.sandbox = sandbox;
  auto r = run(command);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(field(r.output, "Uid"), "61990\t61990\t61990\t61990");
  EXPECT_EQ(field(r.output, "Gid"), "61991\t61991\t61991\t61991");
  EXPECT_EQ(field(r.output, "Groups"), "");
  EXPECT_EQ(field(r.output, "CapEff"), "0000000000000000");
  EXPECT_EQ(field(r.output, "CapPrm"), "0000000000000000");
  EXPECT_EQ(field(r.output, "CapBnd"), "0000000000000000");
  EXPECT_EQ(field(r.output, "NoNewPrivs"), "1");
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Max processes +16 +16 +processes"));

  command.sandbox->bind_service = true;
  r = run(command);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(field(r.output, "Uid"), "61990\t61990\t61990\t61990");
  const std::string bind = "0000000000000400";  // bit 10, CAP_NET_BIND_SERVICE
  EXPECT_EQ(field(r.output, "CapEff"), bind);
  EXPECT_EQ(field(r.output, "CapPrm"), bind);
  EXPECT_EQ(field(r.output, "CapAmb"), bind);
  EXPECT_EQ(field(r.output, "CapBnd"), bind);
}

TEST(SandboxedChild, AsRootSeesOnlyItsOwnFolder) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  TempDir dir;  // 0700, like a data_dir
  fs::create_directories(dir.path / "pots" / "mine");
  std::ofstream(dir.path / "node_id") << "12345\n";
  std::ofstream(dir.path / "pots" / "mine" / "file") << "visible\n";
  ::chmod((dir.path / "pots" / "mine").c_str(), 0755);
  ::chmod((dir.path / "pots" / "mine" / "file").c_str(), 0644);
  ChildSandbox sandbox;
  sandbox.hide = dir.path.string();
  sandbox.make_dirs = {(dir.path / "pots").string(), (dir.path / "pots" / "mine").string()};
  sandbox.expose = (dir.path / "pots" / "mine").string();
  sandbox.switch_user = true;
  sandbox.uid = 61990;
  sandbox.gid = 61990;
  ChildCommand command{{"/bin/cat", (dir.path / "pots" / "mine" / "file").string()}, {}, {}, -1, -1};
  command.sandbox = sandbox;
  auto r = run(command);
  if (r.status == -1 && r.output.find("mount namespace") != std::string::npos) {
    GTEST_SKIP() << "no mount namespace here: " << r.output;
  }
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "visible\n");
  // The node's file is not closed to the pot: it is not there at all.
  command.argv = {"/bin/cat", (dir.path / "node_id").string()};
  r = run(command);
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("No such file or directory"));
  // And the node's own view is unchanged.
  EXPECT_TRUE(fs::exists(dir.path / "node_id"));
}

TEST(GiveTree, GivesEverythingButFollowsNoLink) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  TempDir dir;
  const auto outside = dir.path / "outside";
  std::ofstream(outside) << "root's\n";
  const auto tree = dir.path / "tree";
  fs::create_directories(tree / "a" / "b");
  std::ofstream(tree / "a" / "b" / "file") << "x";
  fs::create_symlink(outside, tree / "a" / "link");
  fs::create_directory_symlink(dir.path, tree / "dirlink");
  fs::create_hard_link(outside, tree / "hard");
  EXPECT_EQ(give_tree(tree, 61990, 61991), "");
  auto owner = [](const fs::path& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return std::pair<uid_t, gid_t>(st.st_uid, st.st_gid);
  };
  const std::pair<uid_t, gid_t> pot{61990, 61991};
  const std::pair<uid_t, gid_t> node{0, 0};
  EXPECT_EQ(owner(tree), pot);
  EXPECT_EQ(owner(tree / "a" / "b"), pot);
  EXPECT_EQ(owner(tree / "a" / "b" / "file"), pot);
  EXPECT_EQ(owner(tree / "a" / "link"), pot);  // the link itself
  EXPECT_EQ(owner(outside), node);             // never its target
  EXPECT_EQ(owner(dir.path), node);
  EXPECT_EQ(owner(tree / "hard"), node);  // a second name of another's file
  EXPECT_EQ(give_tree(dir.path / "missing", 61990, 61991), "");
}

}  // namespace
}  // namespace honeycomb::node
