// What the core tells a node to install, and what a node stores about a
// pot, on hostile bytes. The first byte picks the shape:
//   0 InstallPot fields: POT_ID \0 TYPE \0 GIT_URL \0 GIT_BRANCH \0 then
//     KEY \0 VALUE pairs (the git fields are sent when bits 2 and 3 of the
//     first byte are set), planned against the shipped catalog
//     (potstore/potstore.json) by plan_install. Any bytes: node.yml's pots
//     reach plan_install through yaml-cpp, which passes non-UTF-8 through.
//   1 a Protocol v2 message (JSON): a NodeCommand's InstallPot is planned as
//     above; a PotEvent is normalised as the core normalises it (with its
//     envelope) and rendered as the API renders events.
//   2 a catalog (potstore.json text): Potstore::parse, then each pot planned.
//   3 pot.json: pot_spec_from_json, which must read back what to_json wrote.
// A plan must stay inside the pot's folder, name the pot it was asked for,
// carry no NUL byte into argv or the environment and read back from its
// pot.json unchanged; nothing may crash, hang or leak.
#include "core/event_json.hpp"
#include "events/normalize.hpp"
#include "node/pot_spec.hpp"
#include "node/potstore.hpp"
#include "protocol/codec.hpp"

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

namespace {

using namespace honeycomb;  // NOLINT(google-build-using-namespace)

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

const node::Potstore& catalog() {
  static const node::Potstore store = [] {
    auto loaded = node::Potstore::load(HONEYCOMB_POTSTORE_FILE);
    require(std::holds_alternative<node::Potstore>(loaded));
    return std::get<node::Potstore>(std::move(loaded));
  }();
  return store;
}

const node::InstallPaths& paths() {
  static const node::InstallPaths p = [] {
    node::InstallPaths out;
    out.honeycomb_exe = "/usr/bin/honeycomb";
    out.pots_dir = "/var/lib/honeycomb/node/pots";
    out.search_path = "/usr/local/bin:/usr/bin:/bin";
    return out;
  }();
  return p;
}

bool no_nul(std::string_view s) {
  return s.find('\0') == std::string_view::npos;
}

bool inside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  const auto normal = path.lexically_normal().string();
  const auto base = dir.lexically_normal().string();
  return normal == base || normal.rfind(base + "/", 0) == 0;
}

void check_spec_round_trip(const node::PotSpec& spec) {
  auto back = node::pot_spec_from_json(node::to_json(spec));
  require(std::holds_alternative<node::PotSpec>(back));
  require(std::get<node::PotSpec>(back) == spec);
}

void plan(const node::Potstore& store, const protocol::InstallPot& cmd) {
  auto planned = node::plan_install(store, cmd, paths());
  if (const auto* error = std::get_if<std::string>(&planned)) {
    require(!error->empty());
    return;
  }
  const auto& p = std::get<node::InstallPlan>(planned);
  require(node::valid_pot_id(cmd.pot_id) && p.spec.pot_id == cmd.pot_id);
  const auto pot_dir = paths().pots_dir / cmd.pot_id;
  require(inside(p.spec.workdir, pot_dir));
  require(!p.spec.argv.empty());
  for (const auto& arg : p.spec.argv) {
    require(no_nul(arg));
  }
  for (const auto& [name, value] : p.spec.env) {
    require(!name.empty() && no_nul(name) && no_nul(value) && !name.starts_with("HONEYBEE_"));
  }
  for (const auto& step : p.steps) {
    require(!step.argv.empty() && inside(step.workdir, pot_dir));
    for (const auto& arg : step.argv) {
      require(no_nul(arg));
    }
  }
  check_spec_round_trip(p.spec);
}

std::string_view take(std::string_view& input) {
  const auto end = input.find('\0');
  const auto piece = input.substr(0, end);
  input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
  return piece;
}

void install_fields(unsigned flags, std::string_view input) {
  protocol::InstallPot cmd;
  cmd.pot_id = std::string(take(input));
  cmd.honeypot_type = std::string(take(input));
  const auto git_url = take(input);
  const auto git_branch = take(input);
  if ((flags & 4U) != 0) {
    cmd.git_url = std::string(git_url);
  }
  if ((flags & 8U) != 0) {
    cmd.git_branch = std::string(git_branch);
  }
  cmd.auto_start = (flags & 16U) != 0;
  if (!input.empty()) {
    std::map<std::string, std::string> config;
    while (!input.empty()) {
      const auto key = take(input);
      config[std::string(key)] = std::string(take(input));
    }
    cmd.config = std::move(config);
  }
  plan(catalog(), cmd);
}

void message(std::string_view input) {
  boost::system::error_code ec;
  auto value = boost::json::parse(input, ec);
  if (ec) {
    return;
  }
  auto decoded = protocol::decode(value);
  const auto* ok = std::get_if<protocol::Decoded>(&decoded);
  if (ok == nullptr) {
    return;
  }
  if (const auto* command = std::get_if<protocol::NodeCommand>(&ok->message)) {
    if (command->command.install) {
      plan(catalog(), *command->command.install);
    }
    return;
  }
  if (const auto* m = std::get_if<protocol::PotEvent>(&ok->message)) {
    // As the core's node session does (src/core/node_server.cpp).
    events::Envelope env;
    env.node_id = 16298147445003569694ULL;
    env.pot_id = m->pot_id;
    env.pot_type = m->pot_type;
    env.event_type = m->event_type;
    env.timestamp = m->timestamp;
    env.event_id = m->event_id.value_or(std::string());
    const auto event = events::normalize(m->data, env, 1'700'000'000'000'000);
    require(event.node_id == env.node_id);
    std::string json;
    core::append_event_json(json, event, 7);
    auto back = boost::json::parse(json, ec);
    require(!ec && back.is_object());
    auto raw = boost::json::parse(event.raw_json, ec);
    require(!ec && raw.is_object());
    (void)events::format_time_us(event.event_us);
  }
}

void catalog_text(std::string_view input) {
  auto parsed = node::Potstore::parse(input, "/usr/share/honeycomb/potstore/potstore.json");
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    require(!error->empty());
    return;
  }
  const auto& store = std::get<node::Potstore>(parsed);
  for (const auto& entry : store.entries()) {
    protocol::InstallPot cmd;
    cmd.pot_id = "pot-1";
    cmd.honeypot_type = entry.id;
    plan(store, cmd);
  }
}

void pot_json(std::string_view input) {
  auto parsed = node::pot_spec_from_json(input);
  if (const auto* spec = std::get_if<node::PotSpec>(&parsed)) {
    check_spec_round_trip(*spec);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)catalog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT
  switch (data[0] % 4) {
    case 0:
      install_fields(data[0], input);
      break;
    case 1:
      message(input);
      break;
    case 2:
      catalog_text(input);
      break;
    default:
      pot_json(input);
      break;
  }
  return 0;
}
