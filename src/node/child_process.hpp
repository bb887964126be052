// Starting a pot's process: fork + exec of an argv vector (never a shell),
// in its own process group (so that stopping a pot stops what it started),
// with SIGTERM when the node dies, stdin on /dev/null, stdout/stderr on the
// given descriptors and no other descriptor of the node inherited; and,
// when asked, in a sandbox (ChildSandbox: limits, another user, one
// capability at most, a private mount view) set up between fork and exec.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb::node {

/// What the child applies between fork and exec, in this order: the mount
/// view, the limits, the user, the capabilities, no_new_privs. Plain values
/// prepared by the caller (node/pot_sandbox.hpp decides them): after fork()
/// in a multithreaded process the child may only make system calls.
struct ChildSandbox {
  /// A private mount view (needs CAP_SYS_ADMIN): in a new mount namespace
  /// an empty tmpfs is mounted on `hide`, the folders `make_dirs` are made
  /// in it (in order) and `expose`, below `hide`, is bind-mounted there from
  /// its real place. Everything else under `hide` is gone for the child.
  /// Empty `hide`: the node's own view.
  std::string hide;
  std::vector<std::string> make_dirs;
  std::string expose;
  /// Files (outside `hide`) over which /dev/null is bind-mounted: the
  /// child reads them as empty. Only with a private view (`hide` set).
  std::vector<std::string> conceal;

  struct Limit {
    int resource = 0;  ///< RLIMIT_*
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
  };
  std::vector<Limit> limits;
  /// Added to the niceness the child inherits from the node (nice(2)); 0:
  /// the node's. Pots below the node's priority: a node whose thread loses
  /// the CPU to busy pots stops accepting and their SYNs are dropped.
  int nice = 0;

  /// Switch to uid/gid with no supplementary group (needs root), keeping no
  /// capability but CAP_NET_BIND_SERVICE when `bind_service`.
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool bind_service = false;  ///< ambient CAP_NET_BIND_SERVICE (with switch_user only)
  int last_cap = 40;          ///< /proc/sys/kernel/cap_last_cap: the bounding set is emptied up to it
};

struct ChildCommand {
  std::vector<std::string> argv;  ///< argv[0]: a path, or a name looked up in the child's PATH
  /// Set on top of the node's own environment (replacing same names).
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path workdir;  ///< empty: the node's
  int stdout_fd = -1;             ///< -1: /dev/null
  int stderr_fd = -1;
  /// Removed from the environment (after `env` is applied: a name in both is removed).
  std::vector<std::string> unset_env;
  /// nullopt: the child runs as the node does. Set: it runs sandboxed, with
  /// no_new_privs, and an error in any step is the spawn's error.
  std::optional<ChildSandbox> sandbox;
};

/// The child's pid, or why it could not start ("no such file: ...",
/// "cannot change to folder ...", "cannot switch to uid 61000: ...": exec
/// and sandbox errors are reported back from the child through a
/// close-on-exec pipe, so a missing command is an error here rather than an
/// exit code 127 later).
std::variant<pid_t, std::string> spawn_child(const ChildCommand& command);

/// `name` when it contains a '/', else the first executable entry of
/// `search_path` (nullopt: $PATH).
std::optional<std::filesystem::path> find_executable(const std::string& name,
                                                     std::optional<std::string_view> search_path = std::nullopt);

/// "exited with code 3" / "killed by signal 9 (SIGKILL)".
std::string describe_exit(int wait_status);

}  // namespace honeycomb::node
