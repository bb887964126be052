// What the node's pot manager runs: one honeypot ("pot") as a child process.
// A PotSpec is made once, by the potstore from an InstallPot command (or by
// the operator's node config), saved in <data_dir>/pots/<pot_id>/pot.json and
// read back at every node start. Everything in it is data: the command is an
// argv vector (never a shell line) and config values only ever become whole
// argv elements or environment values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb::node {

struct PotSpec {
  std::string pot_id;         ///< unique on the node; valid_pot_id()
  std::string honeypot_type;  ///< the potstore entry it came from ("simple_http", "cowrie", ...)
  /// The command: argv[0] is an absolute path or a name looked up in PATH.
  std::vector<std::string> argv;
  /// Environment besides the node's own and the HONEYBEE_* variables.
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path workdir;              ///< where it runs (its install folder)
  std::map<std::string, std::string> config;  ///< InstallPot's config, as given (shown by GetPotInfo)
  std::string source;                         ///< where it was installed from, for people
  bool auto_start = false;                    ///< start once installed
  /// The pot's dynamic uid and gid are pot_uid_base + this slot (docs/POTS.md
  /// § Sandbox); given at install, unique on the node. nullopt: not given yet
  /// (a pot.json written before slots were).
  std::optional<std::uint32_t> uid_slot;
  /// The ports its config makes it listen on (the catalog's port keys, with
  /// their defaults), lowest first: a port below the unprivileged start gets
  /// the pot CAP_NET_BIND_SERVICE. nullopt: not recorded (older pot.json).
  std::optional<std::vector<std::uint16_t>> ports;

  bool operator==(const PotSpec&) const = default;
};

/// Pot ids become folder names and environment values: 1..64 characters of
/// [A-Za-z0-9._-], not starting with '.' or '-'.
bool valid_pot_id(std::string_view id);

/// pot.json: the spec as a JSON object.
std::string to_json(const PotSpec& spec);
/// Parses pot.json; the error names what is wrong.
std::variant<PotSpec, std::string> pot_spec_from_json(std::string_view text);

}  // namespace honeycomb::node
