// The shell an attacker gets after a "successful" login to the ssh and
// telnet honeypots: a Debian-like bash that answers the commands bots and
// people run first (uname, id, ls, cat of a small fake filesystem, echo,
// pipes into grep/wc/head...), records every wget/curl/tftp/ftpget as a
// download attempt without fetching anything, and never runs anything.
//
// It runs on attacker input: the line, the number of commands in it, the
// output and the history are all bounded; nothing throws on input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace honeycomb::honeypot {

struct ShellIdentity {
  std::string user = "root";
  std::string hostname = "srv01";
  std::uint64_t seed = 0;  ///< per-install variation (kernel build, addresses...)
};

struct ShellResult {
  std::string output;                  ///< what the terminal shows; lines end in '\n'
  std::vector<std::string> downloads;  ///< URLs the command line tried to fetch
  bool exit = false;                   ///< the line ended the session (exit, logout)
};

class FakeShell {
 public:
  static constexpr std::size_t kMaxOutput = std::size_t{64} * 1024;
  static constexpr std::size_t kMaxCommandsPerLine = 64;
  static constexpr std::size_t kMaxHistory = 200;

  explicit FakeShell(ShellIdentity identity);

  /// "root@web-03:~# ", "admin@web-03:/tmp$ "
  [[nodiscard]] std::string prompt() const;
  /// What Debian prints after a login: kernel line, the licence notice and
  /// a "Last login" from a private address. Lines end in '\n'.
  [[nodiscard]] std::string motd() const;
  /// Runs one command line.
  ShellResult run(std::string_view line);
  [[nodiscard]] const std::string& cwd() const { return cwd_; }

 private:
  struct Command;
  std::string execute(Command& command, const std::string& input, int& status, ShellResult& result, int depth);
  [[nodiscard]] std::string resolve(std::string_view path) const;
  [[nodiscard]] const std::string* file(const std::string& path) const;
  [[nodiscard]] bool is_dir(const std::string& path) const;
  [[nodiscard]] std::string list(const std::vector<std::string>& args) const;
  [[nodiscard]] std::string uname(const std::vector<std::string>& args) const;

  ShellIdentity identity_;
  std::string home_;
  std::string cwd_;
  std::string kernel_release_;
  std::string kernel_version_;
  std::map<std::string, std::string, std::less<>> files_;
  std::map<std::string, int, std::less<>> dirs_;
  std::deque<std::string> history_;
  int depth_ = 0;  ///< run() inside run() (sh -c): bounded by kMaxDepth
};

}  // namespace honeycomb::honeypot
