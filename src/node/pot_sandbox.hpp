// Pot sandboxing (docs/POTS.md § Sandbox). When the node runs as root, each
// pot runs as its own unprivileged user (a dynamic uid, pot_uid_base + the
// pot's slot, named in no /etc/passwd; or the configured pot_user), with
// resource limits, with no capability but CAP_NET_BIND_SERVICE (and that only
// when its config makes it listen below the unprivileged port start), with
// no_new_privs, and without the node's files: in a private mount view the
// node's data_dir holds only the pot's own folder (file modes keep the rest
// closed where a mount namespace cannot be made). A node that is not root
// runs its pots as its own user, with the limits.
//
// Everything is decided here, in the node, before fork: the child only
// applies a ChildSandbox with system calls (child_process.hpp).
//
// Files: <pots_dir>/<id>/ belongs to root (group: the pot's, mode 0710: the
// pot may pass, not write: the node writes pot.json and state there, and a
// folder the pot could write would let it swap them for links); its logs/
// are the node's (0700; the node writes them through the pot's pipes);
// home/ (HOME, and the working folder of honeycomb-service pots) and app/
// (an external pot's files) are the pot's.
#pragma once

#include "node/child_process.hpp"
#include "node/pot_spec.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb::node {

struct CatalogEntry;

/// The node config's sandbox keys (node.yml, docs/POTS.md § Sandbox).
struct PotSandboxOptions {
  /// pot_user: the account every pot runs as; empty: a dynamic uid per pot.
  std::string user;
  /// pot_uid_base: dynamic uids and gids are this + the pot's slot
  /// (< kPotUidSlots). 61000..65095 by default: above Debian's normal users,
  /// below nobody (65534); the first 184 are below systemd's DynamicUser
  /// range (61184..65519).
  std::uint32_t uid_base = 61000;
  std::uint64_t memory_mb = 1024;  ///< pot_memory_mb: RLIMIT_AS; 0: unlimited
  std::uint64_t cpu_seconds = 0;   ///< pot_cpu_seconds: RLIMIT_CPU, a total per process; 0: unlimited
  /// pot_open_files: RLIMIT_NOFILE's hard limit (the soft one starts at
  /// 1024 at most, as systemd does, for programs that use select()).
  std::uint64_t open_files = 16384;
  std::uint64_t processes = 256;  ///< pot_processes: RLIMIT_NPROC, per uid (threads count)
  /// pot_nice: added to the node's niceness for every pot and install step
  /// (0..19), so that busy pots cannot keep the event port from the CPU.
  int nice = 5;
  /// pot_private_mounts: give each pot a mount namespace in which data_dir
  /// holds only its folder, when the node can (root with CAP_SYS_ADMIN).
  bool private_mounts = true;
  /// Files of the node's outside data_dir (its config file, given with
  /// --config) that a pot's private view shows empty. Not a node.yml key:
  /// the node fills it in.
  std::vector<std::filesystem::path> conceal;

  bool operator==(const PotSandboxOptions&) const = default;
};

/// Dynamic uids are pot_uid_base + a slot below this.
inline constexpr std::uint32_t kPotUidSlots = 4096;
/// Ports recorded per pot (the lowest: they decide the capability).
inline constexpr std::size_t kMaxRecordedPorts = 64;

/// The ports a pot listens on according to its config, lowest first,
/// unique, at most kMaxRecordedPorts: the values (given, else the catalog's
/// default) of keys named `port` or `*_port` (a number), `ports` or
/// `*_ports` (a list such as "21,23,8000-8003"), and Twisted endpoints
/// ("tcp:2222:interface=0.0.0.0") in any string value; the entry's
/// default_ports when no key names one. `entry` null: the config's own
/// keys only (a pot installed before ports were recorded, whose catalog
/// entry is gone).
std::vector<std::uint16_t> pot_ports(const CatalogEntry* entry, const std::map<std::string, std::string>& config);

/// /proc/sys/net/ipv4/ip_unprivileged_port_start (1024 when unreadable):
/// ports below it need CAP_NET_BIND_SERVICE.
std::uint16_t unprivileged_port_start();

/// The smallest slot not in `used` whose uid and gid (base + slot) belong to
/// no account and no group of this machine; nullopt when none is left.
std::optional<std::uint32_t> free_uid_slot(std::uint32_t base, const std::set<std::uint32_t>& used);

/// Gives `root` and everything below it to uid:gid without following a
/// symbolic link (each folder opened with O_NOFOLLOW, relative to its
/// parent's descriptor, so that a link swapped in meanwhile is changed
/// itself, never its target). A file with several hard links is left alone
/// (it may be a link to a file of someone else). Error text, or empty.
std::string give_tree(const std::filesystem::path& root, uid_t uid, gid_t gid);

/// The sandbox policy of one node: decided at start() from the options and
/// the machine, then applied to each pot start and install step.
/// Not thread-safe: the pot manager's thread uses it.
class PotSandbox {
 public:
  PotSandbox(PotSandboxOptions options, const std::filesystem::path& pots_dir);

  /// Looks at the machine once: root or not, pot_user's account, whether a
  /// mount namespace can be made, the unprivileged port start, the
  /// capability count. Returns the warnings to log (once).
  std::vector<std::string> start();

  /// How one command of a pot runs.
  struct Plan {
    ChildSandbox child;
    std::vector<std::pair<std::string, std::string>> env;  ///< HOME, USER, LOGNAME, PATH
    std::vector<std::string> unset_env;                    ///< the node's XDG_* folders
    std::filesystem::path workdir;                         ///< where it runs
    std::string json;                                      ///< for GetPotInfo: {"user",...}
    std::string summary;                                   ///< for the logs: "uid 61003, memory 1024 MiB, ..."
  };
  /// The plan for running `argv` in `workdir` for `spec`: its own command
  /// (`as_pot`: the pot itself, which may get CAP_NET_BIND_SERVICE) or one of
  /// its install steps run as the pot (never a capability). No file is
  /// touched. Error text when it cannot run as configured (pot_user unknown,
  /// no uid slot, the command or its folder out of the pot's reach).
  std::variant<Plan, std::string> plan(const PotSpec& spec, const std::vector<std::string>& argv,
                                       const std::filesystem::path& workdir, bool as_pot) const;
  /// Makes the pot's files ready for it (as root; nothing otherwise): its
  /// folder root's with its group and 0710, logs/ 0700, home/ made and its
  /// own, app/ its own; without a mount namespace, data_dir and the pots
  /// folder 0711 and the rest of data_dir closed to others. Error text.
  std::string prepare_files(const PotSpec& spec);
  /// After the node's own install steps (copy, clone, plugin install, run as
  /// the node): home/ and app/ become the pot's. Error text.
  std::string hand_over(const PotSpec& spec);

  /// Where a pot runs: its spec's folder, except that a pot whose folder
  /// is its pot folder itself (a honeycomb-service pot) runs in its home:
  /// the pot folder is the node's.
  std::filesystem::path workdir_of(const PotSpec& spec) const;
  std::filesystem::path pot_dir(const PotSpec& spec) const { return pots_dir_ / spec.pot_id; }
  std::filesystem::path home_of(const PotSpec& spec) const { return pot_dir(spec) / "home"; }
  /// "own uid per pot, private mount view" etc., for the node's start line.
  std::string describe() const;
  bool switches_user() const { return root_; }
  bool private_mounts() const { return mounts_; }
  std::uint16_t port_start() const { return port_start_; }
  const PotSandboxOptions& options() const { return options_; }

 private:
  struct Identity {
    std::string user;  ///< shown: the account, "dynamic" or the node's
    uid_t uid = 0;
    gid_t gid = 0;
  };
  std::variant<Identity, std::string> identity(const PotSpec& spec) const;

  PotSandboxOptions options_;
  std::filesystem::path pots_dir_;
  std::filesystem::path data_dir_;
  bool root_ = false;    ///< the node is root: pots get their own user
  bool mounts_ = false;  ///< and a private mount view
  std::optional<Identity> account_;
  std::string account_error_;
  std::uint16_t port_start_ = 1024;
  int last_cap_ = 40;
  std::uint64_t hard_open_files_ = 0;  ///< the node's own hard limits (a non-root node cannot raise them)
  std::uint64_t hard_cpu_ = 0;
  std::uint64_t hard_memory_ = 0;
  std::uint64_t nr_open_ = 1 << 20;  ///< /proc/sys/fs/nr_open: RLIMIT_NOFILE's ceiling
};

}  // namespace honeycomb::node
