// Starting a pot's process: fork + exec of an argv vector (never a shell),
// in its own process group (so that stopping a pot stops what it started),
// with SIGTERM when the node dies, stdin on /dev/null, stdout/stderr on the
// given descriptors and no other descriptor of the node inherited.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <variant>
#include <vector>

namespace honeycomb::node {

struct ChildCommand {
  std::vector<std::string> argv;  ///< argv[0]: a path, or a name looked up in PATH
  /// Set on top of the node's own environment (replacing same names).
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path workdir;  ///< empty: the node's
  int stdout_fd = -1;             ///< -1: /dev/null
  int stderr_fd = -1;
};

/// The child's pid, or why it could not start ("no such file: ...",
/// "cannot change to folder ...": exec errors are reported back from the
/// child through a close-on-exec pipe, so a missing command is an error
/// here rather than an exit code 127 later).
std::variant<pid_t, std::string> spawn_child(const ChildCommand& command);

/// `name` when it contains a '/', else the first executable PATH entry.
std::optional<std::filesystem::path> find_executable(const std::string& name);

/// "exited with code 3" / "killed by signal 9 (SIGKILL)".
std::string describe_exit(int wait_status);

}  // namespace honeycomb::node
