// The potstore: the catalog of pots a node can install (potstore/potstore.json,
// format in potstore/README.md) and the planner that turns an InstallPot
// command into a PotSpec plus the steps that install it.
//
// Everything the core sends is data. A pot id becomes a folder name only once
// valid_pot_id() accepted it; a config value becomes exactly one argv element
// (through the catalog's `arg` template) or one environment value (`env`),
// after the catalog's type, range and pattern checks. No shell ever sees
// either; the planner never runs anything (the pot manager runs the steps).
#pragma once

#include "node/pot_spec.hpp"
#include "protocol/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb::node {

/// A config value longer than this is refused (it ends up in an argv element
/// or the environment; the catalog's pattern is matched against it).
inline constexpr std::size_t kMaxConfigValueBytes = 4096;
/// Git URLs and branch names longer than these are refused.
inline constexpr std::size_t kMaxGitUrlBytes = 2048;
inline constexpr std::size_t kMaxGitBranchBytes = 255;

/// One pot of the catalog, validated. Immutable once loaded.
struct CatalogEntry {
  enum class Kind {
    honeycomb_service,  ///< "honeycomb-service": a plugin-library service run by `honeycomb service run`
    external,           ///< "external": any program, from a folder or a git repository
  };

  /// One `config` key the InstallPot command may set.
  struct ConfigKey {
    enum class Type { string, integer, boolean };
    std::string key;  ///< ^[a-z_][a-z0-9_]*$
    Type type = Type::string;
    /// Normalised text ("true"/"false" for booleans, decimal for integers).
    std::optional<std::string> default_value;
    bool required = false;  ///< must be set or have a default
    std::optional<std::int64_t> min;
    std::optional<std::int64_t> max;
    std::string pattern;  ///< ECMAScript; the whole value must match; empty: any
    std::shared_ptr<const std::regex> pattern_regex;
    /// External pots: argv element template holding "{value}" once (a
    /// boolean's template may lack it: the element is added when true).
    std::optional<std::string> arg;
    std::optional<std::string> env;  ///< external pots: environment variable name
    std::string description;
  };

  /// Where an external pot's files come from.
  struct Source {
    std::filesystem::path folder;  ///< as written; relative to the catalog's folder
    std::string git_url;           ///< empty for a folder source
    std::optional<std::string> git_branch;
    bool is_git() const { return !git_url.empty(); }
  };

  /// How the pot reports events (informative; the node always offers its
  /// event port).
  struct Integration {
    bool event_port = true;  ///< writes JSON lines to HONEYBEE_EVENT_PORT
    std::string client;      ///< "honeycomb" | "python" | "php" | "cpp" | "shell" | "cowrie-output" | "none"
  };

  std::string id;  ///< the honeypot_type InstallPot names
  std::string name;
  std::string version;
  Kind kind = Kind::external;
  std::string description;
  std::vector<std::string> protocols;
  std::vector<std::uint16_t> default_ports;
  std::vector<std::string> requirements;  ///< commands that must be found on PATH

  // setup
  std::string service;                            ///< honeycomb_service: the library service name
  Source source;                                  ///< external
  std::vector<std::vector<std::string>> install;  ///< external: argv of each install command, run in the pot's folder
  std::vector<std::string> run;                   ///< external: the command's fixed argv prefix
  std::vector<std::pair<std::string, std::string>> env;  ///< external: fixed environment

  Integration honeybee;
  std::vector<ConfigKey> config;  ///< in catalog order (the order of the arguments)

  const ConfigKey* find_key(std::string_view key) const;
};

/// The catalog file, loaded and validated as a whole.
class Potstore {
 public:
  /// Reads and validates `file`. Strict: unknown keys, wrong types and
  /// duplicate ids are errors; the text names the file, the pot id and the
  /// key ("potstore.json: pot \"cowrie\": config.hostname.pattern: ...").
  static std::variant<Potstore, std::string> load(const std::filesystem::path& file);
  /// The same from text; `file` only names it in errors and anchors relative
  /// folder sources.
  static std::variant<Potstore, std::string> parse(std::string_view text, const std::filesystem::path& file);

  const CatalogEntry* find(std::string_view id) const;
  const std::vector<CatalogEntry>& entries() const { return entries_; }
  const std::filesystem::path& file() const { return file_; }
  /// The folder relative folder sources are resolved against.
  std::filesystem::path dir() const { return file_.parent_path(); }

 private:
  std::filesystem::path file_;
  std::vector<CatalogEntry> entries_;
};

/// The catalog the node uses: $HONEYCOMB_POTSTORE if set, else
/// <exe>/../share/honeycomb/potstore/potstore.json (build tree and installed
/// prefix alike, as host::default_library()).
std::filesystem::path default_potstore_file();

/// Where the planner puts things.
struct InstallPaths {
  std::filesystem::path honeycomb_exe;  ///< absolute path of this binary (service pots run it)
  std::filesystem::path pots_dir;       ///< <data_dir>/pots: one folder per pot id
  /// Relative folder sources are resolved here; empty: the catalog file's folder.
  std::filesystem::path catalog_dir;
  bool iamroot = false;  ///< pass --iamroot to service pots
  /// The PATH that requirements are looked up in; nullopt: $PATH.
  std::optional<std::string> search_path;
};

/// One command the pot manager runs (no shell) before the pot is installed.
struct InstallStep {
  std::string what;  ///< for logs and errors ("clone https://...")
  std::vector<std::string> argv;
  std::filesystem::path workdir;
  std::vector<std::pair<std::string, std::string>> env;  ///< besides the node's own environment
  std::vector<int> ok_exit_codes{0};                     ///< exit codes that mean success
  /// Run as the pot (its uid, limits, mount view: docs/POTS.md § Sandbox):
  /// the catalog's install commands, which run the pot's code. false: the
  /// node's own fetching (clone, plugin install), whose result the pot
  /// manager then gives to the pot.
  bool as_pot = false;

  bool operator==(const InstallStep&) const = default;
};

/// How to install one pot. The manager creates <pots_dir>/<pot_id> (every
/// step's workdir is it or spec.workdir below it), copies `copy_from`, runs the
/// steps in order (a step failing with an exit code not in ok_exit_codes fails
/// the install), then saves `spec`.
struct InstallPlan {
  PotSpec spec;
  /// A folder source: the manager copies it (following symbolic links) to
  /// spec.workdir before the steps.
  std::optional<std::filesystem::path> copy_from;
  std::vector<InstallStep> steps;  ///< in order, after the copy; a git clone is a step
};

/// What installing `cmd` means, or why it cannot be installed (the text names
/// the pot id, type, key or value at fault). Checks the pot id, the type, every
/// config key and value, the git URL and branch, and that each requirement is
/// on the search path. Runs nothing and touches no file.
std::variant<InstallPlan, std::string> plan_install(const Potstore& store, const protocol::InstallPot& cmd,
                                                    const InstallPaths& paths);

}  // namespace honeycomb::node
