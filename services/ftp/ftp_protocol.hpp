// The ftp honeypot's pure parts, apart from its session coroutine: a
// command line cut into verb and argument, paths resolved in the fake
// tree, the tree itself. No I/O; fuzzed by fuzz/services_fuzz.cpp.
#pragma once

#include <string>
#include <string_view>

namespace honeycomb::services::ftp {

/// One control-connection line: "retr /pub/x" -> {"RETR", "/pub/x"}.
struct CommandLine {
  std::string verb;  ///< the text before the first space, ASCII upper-cased
  std::string arg;   ///< everything after the first space, verbatim (may hold spaces)
};
CommandLine parse_command(std::string_view line);

/// ASCII upper case; other bytes unchanged.
std::string upper(std::string_view s);

/// `path` (absolute, or relative to `cwd`) with "." and ".." applied and
/// empty parts dropped: always absolute, "/" at the least.
std::string resolve(const std::string& cwd, std::string_view path);

/// The fake tree: a few folders and one file, as an anonymous-style archive.
struct FakeTree {
  std::string readme;
  [[nodiscard]] static bool is_dir(const std::string& path) {
    return path == "/" || path == "/pub" || path == "/upload";
  }
  [[nodiscard]] const std::string* file(const std::string& path) const { return path == "/README" ? &readme : nullptr; }
  /// LIST's lines for `dir` (empty for a folder with nothing in it or none).
  [[nodiscard]] std::string listing(const std::string& dir) const;
};

}  // namespace honeycomb::services::ftp
