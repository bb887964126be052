#include "honeypot/fake_shell.hpp"

#include "honeypot/bytes.hpp"
#include "honeypot/install.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <ctime>
#include <set>

namespace honeycomb::honeypot {
namespace {

constexpr int kMaxDepth = 4;  ///< sh -c "sh -c ..." nesting

void append_bounded(std::string& out, std::string_view text) {
  if (out.size() < FakeShell::kMaxOutput) {
    out.append(text.substr(0, FakeShell::kMaxOutput - out.size()));
  }
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) {
      break;
    }
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string join_lines(const std::vector<std::string_view>& lines) {
  std::string out;
  for (const auto line : lines) {
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

std::string basename_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

/// echo -e / printf escapes: \n \t \\ \xHH \0NNN; unknown ones kept.
std::string interpret_escapes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    const auto digits = [&](std::size_t max, int base) {
      int value = 0;
      std::size_t used = 0;
      while (used < max && i + 1 < s.size()) {
        const int d = hex_digit(s[i + 1]);
        if (d < 0 || d >= base) {
          break;
        }
        value = value * base + d;
        ++i;
        ++used;
      }
      return std::pair{value, used};
    };
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        const auto [value, used] = digits(2, 16);
        if (used == 0) {
          out += "\\x";
        } else {
          out.push_back(static_cast<char>(value));
        }
        break;
      }
      case '0': {
        const auto [value, used] = digits(3, 8);
        out.push_back(static_cast<char>(value & 0xff));
        break;
      }
      default:
        out.push_back('\\');
        out.push_back(e);
    }
  }
  return out;
}

}  // namespace

// ---- parsing: a command line into and-or lists of pipelines ----

struct FakeShell::Command {
  std::vector<std::string> argv;
  bool output_redirected = false;  ///< > or >>: nothing reaches the terminal
  std::string input_file;          ///< < file
};

namespace {

enum class Joint { first, sequence, and_then, or_else };

struct Step {
  Joint joint = Joint::first;
  std::vector<std::vector<std::string>> stages;  ///< raw words per pipeline stage
};

struct Expansion {
  const std::string& home;
  const std::string& user;
  const std::string& cwd;
  int status = 0;
};

/// Splits `line` into steps. Quotes, backslashes, comments, redirections
/// (kept as words starting with '>' or '<' for the caller) and a few
/// variables; command substitution is left as text, never run.
std::vector<Step> parse(std::string_view line, const Expansion& env) {
  std::vector<Step> steps(1);
  std::vector<std::string>* words = &steps.back().stages.emplace_back();
  std::string word;
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word) {
      words->push_back(std::move(word));
      word.clear();
      in_word = false;
    }
  };
  const auto variable = [&](std::size_t& i) {
    std::size_t j = i + 1;
    if (j < line.size() && line[j] == '?') {
      word += std::to_string(env.status);
      i = j;
      return;
    }
    const bool braced = j < line.size() && line[j] == '{';
    if (braced) {
      ++j;
    }
    std::size_t k = j;
    while (k < line.size() && (std::isalnum(static_cast<unsigned char>(line[k])) != 0 || line[k] == '_')) {
      ++k;
    }
    const auto name = line.substr(j, k - j);
    if (name.empty()) {
      word.push_back('$');
      return;
    }
    if (name == "HOME") {
      word += env.home;
    } else if (name == "USER" || name == "LOGNAME") {
      word += env.user;
    } else if (name == "PWD") {
      word += env.cwd;
    } else if (name == "SHELL") {
      word += "/bin/bash";
    } else if (name == "PATH") {
      word += "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
    i = braced && k < line.size() && line[k] == '}' ? k : k - 1;
  };
  const auto new_step = [&](Joint joint) {
    end_word();
    if (steps.size() >= FakeShell::kMaxCommandsPerLine) {
      return false;
    }
    steps.push_back(Step{joint, {}});
    words = &steps.back().stages.emplace_back();
    return true;
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    const char next = i + 1 < line.size() ? line[i + 1] : '\0';
    if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '\'') {
      in_word = true;
      const auto close = line.find('\'', i + 1);
      word.append(line.substr(i + 1, close == std::string_view::npos ? std::string_view::npos : close - i - 1));
      i = close == std::string_view::npos ? line.size() : close;
    } else if (c == '"') {
      in_word = true;
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() &&
            (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' || line[i + 1] == '`')) {
          word.push_back(line[++i]);
        } else if (line[i] == '$') {
          variable(i);
        } else {
          word.push_back(line[i]);
        }
      }
    } else if (c == '\\') {
      in_word = true;
      if (i + 1 < line.size()) {
        word.push_back(line[++i]);
      }
    } else if (c == '$') {
      in_word = true;
      variable(i);
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == ';' || c == '&') {
      if (!new_step(Joint::sequence)) {
        break;
      }
    } else if ((c == '&' && next == '&') || (c == '|' && next == '|')) {
      if (!new_step(c == '&' ? Joint::and_then : Joint::or_else)) {
        break;
      }
      ++i;
    } else if (c == '|') {
      end_word();
      if (steps.back().stages.size() >= FakeShell::kMaxCommandsPerLine) {
        break;
      }
      words = &steps.back().stages.emplace_back();
    } else if (c == '>' || c == '<') {
      // A redirection becomes one word ("2>", ">>", "2>&1", "&>", "<"),
      // its target the next word. "2>" and "&>": the fd belongs to it.
      std::string op;
      if (in_word && (word == "1" || word == "2" || word == "&")) {
        op = std::move(word);
        word.clear();
        in_word = false;
      }
      end_word();
      op.push_back(c);
      while (i + 1 < line.size() && (line[i + 1] == '>' || line[i + 1] == '&')) {
        op.push_back(line[++i]);
      }
      while (op.back() == '&' && i + 1 < line.size() && std::isdigit(static_cast<unsigned char>(line[i + 1])) != 0) {
        op.push_back(line[++i]);  // >&1: a copy of another fd, no target word
      }
      words->push_back(std::move(op));
    } else {
      in_word = true;
      word.push_back(c);
    }
  }
  end_word();
  return steps;
}

}  // namespace

FakeShell::FakeShell(ShellIdentity identity) : identity_(std::move(identity)) {
  const auto& seed = identity_.seed;
  home_ = identity_.user == "root" ? "/root" : "/home/" + identity_.user;
  cwd_ = home_;
  const auto abi = 13 + seeded_draw(seed, 1) % 16;
  const auto patch = 55 + seeded_draw(seed, 2) % 60;
  kernel_release_ = "6.1.0-" + std::to_string(abi) + "-amd64";
  kernel_version_ = "#1 SMP PREEMPT_DYNAMIC Debian 6.1." + std::to_string(patch) + "-1 (2024-" +
                    std::to_string(10 + seeded_draw(seed, 3) % 3) + "-" +
                    std::to_string(10 + seeded_draw(seed, 4) % 18) + ")";
  static constexpr std::array<std::string_view, 3> cpus{"Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
                                                        "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
                                                        "AMD EPYC 7282 16-Core Processor"};
  const auto cpu = cpus[seeded_draw(seed, 5) % cpus.size()];

  for (const char* dir :
       {"/",      "/bin",     "/boot",    "/dev",     "/etc",     "/home",        "/lib",      "/lib64",
        "/media", "/mnt",     "/opt",     "/proc",    "/root",    "/run",         "/sbin",     "/srv",
        "/sys",   "/tmp",     "/usr",     "/usr/bin", "/usr/lib", "/usr/local",   "/usr/sbin", "/usr/share",
        "/var",   "/var/log", "/var/tmp", "/var/www", "/var/run", "/var/backups", "/etc/ssh",  "/etc/cron.d"}) {
    dirs_.emplace(dir, 0);
  }
  dirs_.emplace(home_, 0);
  const std::string user_line =
      identity_.user == "root"
          ? std::string("debian:x:1000:1000:Debian,,,:/home/debian:/bin/bash\n")
          : identity_.user + ":x:1000:1000:" + identity_.user + ",,,:/home/" + identity_.user + ":/bin/bash\n";
  if (identity_.user == "root") {
    dirs_.emplace("/home/debian", 0);
  }
  files_["/etc/passwd"] =
      "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
      "bin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n"
      "games:x:5:60:games:/usr/games:/usr/sbin/nologin\nman:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n"
      "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
      "news:x:9:9:news:/var/spool/news:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
      "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/"
      "nologin\n"
      "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n"
      "messagebus:x:100:107::/nonexistent:/usr/sbin/nologin\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n" +
      user_line;
  files_["/etc/shadow"] = "root:$y$j9T$" + std::to_string(seeded_draw(seed, 6)) +
                          "$Qm1z0mZpA5yP8mV0uWl7m2w3bO6cX9dK4tR1hJ8sE5.:19700:0:99999:7:::\n";
  files_["/etc/group"] = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\nsudo:x:27:\nusers:x:100:\n";
  files_["/etc/hostname"] = identity_.hostname + "\n";
  files_["/etc/hosts"] =
      "127.0.0.1\tlocalhost\n127.0.1.1\t" + identity_.hostname +
      "\n\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n";
  files_["/etc/issue"] = "Debian GNU/Linux 12 \\n \\l\n\n";
  files_["/etc/debian_version"] = "12." + std::to_string(4 + seeded_draw(seed, 7) % 5) + "\n";
  files_["/etc/os-release"] =
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
      "VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n"
      "SUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n";
  files_["/etc/resolv.conf"] = "nameserver 10.0.0.2\n";
  files_["/proc/version"] = "Linux version " + kernel_release_ +
                            " (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU "
                            "Binutils for Debian) 2.40) " +
                            kernel_version_ + "\n";
  std::string cpuinfo;
  for (int n = 0; n < 2; ++n) {
    cpuinfo += "processor\t: " + std::to_string(n) +
               "\nvendor_id\t: " + (cpu.find("AMD") != std::string_view::npos ? "AuthenticAMD" : "GenuineIntel") +
               "\nmodel name\t: " + std::string(cpu) +
               "\ncpu cores\t: 2\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 "
               "apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm\n\n";
  }
  files_["/proc/cpuinfo"] = cpuinfo;
  files_["/proc/meminfo"] =
      "MemTotal:        4026532 kB\nMemFree:          211728 kB\nMemAvailable:    2871544 kB\nBuffers:          "
      "104188 kB\nCached:          2390252 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n";
  files_["/proc/uptime"] = std::to_string(86400 * (3 + seeded_draw(seed, 8) % 90)) + ".42 171234.17\n";
  files_[home_ + "/.bashrc"] = "# ~/.bashrc: executed by bash(1) for non-login shells.\n[ -z \"$PS1\" ] && return\n";
  files_[home_ + "/.profile"] = "# ~/.profile: executed by the command interpreter for login shells.\n";
  files_["/var/log/auth.log"] = "";
}

std::string FakeShell::prompt() const {
  std::string where = cwd_;
  if (where == home_) {
    where = "~";
  } else if (where.rfind(home_ + "/", 0) == 0) {
    where = "~" + where.substr(home_.size());
  }
  return identity_.user + "@" + identity_.hostname + ":" + where + (identity_.user == "root" ? "# " : "$ ");
}

std::string FakeShell::motd() const {
  const auto day = 1 + seeded_draw(identity_.seed, 10) % 28;
  return "Linux " + identity_.hostname + " " + kernel_release_ + " " + kernel_version_ +
         " x86_64\n\nThe programs included with the Debian GNU/Linux system are free software;\n"
         "the exact distribution terms for each program are described in the\n"
         "individual files in /usr/share/doc/*/copyright.\n\n"
         "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent\npermitted by applicable law.\n"
         "Last login: Mon Nov " +
         std::to_string(day) + " 0" + std::to_string(seeded_draw(identity_.seed, 11) % 10) + ":1" +
         std::to_string(seeded_draw(identity_.seed, 12) % 10) + ":2" +
         std::to_string(seeded_draw(identity_.seed, 13) % 10) + " 2026 from 10.0.0." +
         std::to_string(2 + seeded_draw(identity_.seed, 14) % 200) + "\n";
}

std::string FakeShell::resolve(std::string_view path) const {
  std::string full;
  if (path.empty()) {
    return cwd_;
  }
  if (path == "~" || path.rfind("~/", 0) == 0) {
    full = home_ + std::string(path.substr(1));
  } else if (path.front() == '/') {
    full = std::string(path);
  } else {
    full = cwd_ + "/" + std::string(path);
  }
  std::vector<std::string_view> parts;
  std::string_view rest = full;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto part = rest.substr(0, slash);
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  std::string out;
  for (const auto part : parts) {
    out += "/";
    out += part;
  }
  return out.empty() ? "/" : out;
}

const std::string* FakeShell::file(const std::string& path) const {
  const auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

bool FakeShell::is_dir(const std::string& path) const {
  return dirs_.find(path) != dirs_.end();
}

std::string FakeShell::list(const std::vector<std::string>& args) const {
  bool all = false;
  bool longer = false;
  std::vector<std::string> targets;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].size() > 1 && args[i][0] == '-') {
      all = all || args[i].find('a') != std::string::npos;
      longer = longer || args[i].find('l') != std::string::npos;
    } else {
      targets.push_back(args[i]);
    }
  }
  if (targets.empty()) {
    targets.emplace_back(".");
  }
  std::string out;
  for (const auto& target : targets) {
    const auto path = resolve(target);
    if (file(path) != nullptr) {
      out += longer ? "-rw-r--r-- 1 root root " + std::to_string(file(path)->size()) + " Nov 14 09:12 " + target + "\n"
                    : target + "\n";
      continue;
    }
    if (!is_dir(path)) {
      out += "ls: cannot access '" + target + "': No such file or directory\n";
      continue;
    }
    if (path == "/root" && identity_.user != "root") {
      out += "ls: cannot open directory '" + target + "': Permission denied\n";
      continue;
    }
    std::set<std::string> names;
    const std::string prefix = path == "/" ? "/" : path + "/";
    const auto collect = [&](const std::string& child) {
      if (child.size() > prefix.size() && child.rfind(prefix, 0) == 0 &&
          child.find('/', prefix.size()) == std::string::npos) {
        names.insert(child.substr(prefix.size()));
      }
    };
    for (const auto& [name, unused] : dirs_) {
      collect(name);
    }
    for (const auto& [name, unused] : files_) {
      collect(name);
    }
    if (all) {
      names.insert(".");
      names.insert("..");
    }
    std::string line;
    for (const auto& name : names) {
      if (!all && name.front() == '.') {
        continue;
      }
      if (longer) {
        const std::string full = prefix + name;
        const bool dir = name == "." || name == ".." || is_dir(full);
        out += (dir ? "drwxr-xr-x 2 root root 4096" : "-rw-r--r-- 1 root root " + std::to_string(file(full)->size())) +
               " Nov 14 09:12 " + name + "\n";
      } else {
        line += (line.empty() ? "" : "  ") + name;
      }
    }
    if (!longer && !line.empty()) {
      out += line + "\n";
    }
  }
  return out;
}

std::string FakeShell::uname(const std::vector<std::string>& args) const {
  std::string flags;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--all") {
      flags += "a";
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      flags += args[i].substr(1);
    }
  }
  if (flags.empty()) {
    flags = "s";
  }
  const bool all = flags.find('a') != std::string::npos;
  std::vector<std::string> parts;
  const auto want = [&](char f) { return all || flags.find(f) != std::string::npos; };
  if (want('s')) {
    parts.emplace_back("Linux");
  }
  if (want('n')) {
    parts.push_back(identity_.hostname);
  }
  if (want('r')) {
    parts.push_back(kernel_release_);
  }
  if (want('v')) {
    parts.push_back(kernel_version_);
  }
  if (want('m')) {
    parts.emplace_back("x86_64");
  }
  if (want('o')) {
    parts.emplace_back("GNU/Linux");
  }
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : " ") + p;
  }
  return out + "\n";
}

namespace {

/// The commands this shell knows (for `which`, busybox and paths).
const std::set<std::string, std::less<>>& known_commands() {
  static const std::set<std::string, std::less<>> names{
      "echo",  "printf",  "uname",  "id",     "whoami",  "hostname", "pwd",    "cd",    "ls",    "dir",
      "cat",   "head",    "tail",   "wc",     "grep",    "uptime",   "w",      "who",   "free",  "nproc",
      "ps",    "history", "exit",   "logout", "busybox", "which",    "sudo",   "nohup", "sh",    "bash",
      "ash",   "dash",    "wget",   "curl",   "tftp",    "ftpget",   "passwd", "true",  "false", "export",
      "unset", "alias",   "ulimit", "set",    "chmod",   "chown",    "chgrp",  "rm",    "mkdir", "rmdir",
      "touch", "cp",      "mv",     "ln",     "kill",    "killall",  "pkill",  "sleep", "sync",  "enable",
      "su",    "clear",   "date",   "env",    "crontab", "ifconfig", "df"};
  return names;
}

/// wget/curl/tftp/ftpget: the URL the command line asks for.
std::string download_url(const std::string& name, const std::vector<std::string>& args) {
  if (name == "tftp") {
    // tftp -g -r FILE HOST  |  tftp HOST -c get FILE
    std::string host;
    std::string remote;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if ((args[i] == "-r" || args[i] == "get") && i + 1 < args.size()) {
        remote = args[++i];
      } else if (args[i] == "-l" && i + 1 < args.size()) {
        ++i;
      } else if (!args[i].empty() && args[i][0] != '-' && host.empty() && args[i] != "-c") {
        host = args[i];
      }
    }
    return host.empty() ? "" : "tftp://" + host + "/" + remote;
  }
  if (name == "ftpget") {
    // ftpget [-u USER] [-p PASS] [-P PORT] HOST LOCAL REMOTE
    std::vector<std::string> plain;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i].size() == 2 && args[i][0] == '-') {
        ++i;
      } else {
        plain.push_back(args[i]);
      }
    }
    return plain.size() >= 3 ? "ftp://" + plain[0] + "/" + plain[2] : "";
  }
  // wget and curl: the first argument that is not an option or its value.
  static const std::set<std::string, std::less<>> with_value{"-O",
                                                             "-o",
                                                             "-P",
                                                             "-U",
                                                             "-T",
                                                             "-t",
                                                             "-e",
                                                             "-H",
                                                             "-d",
                                                             "-A",
                                                             "-u",
                                                             "-X",
                                                             "-m",
                                                             "-b",
                                                             "-c",
                                                             "-x",
                                                             "-w",
                                                             "--output",
                                                             "--output-document",
                                                             "--user-agent",
                                                             "--header",
                                                             "--data",
                                                             "--user",
                                                             "--max-time"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (with_value.count(args[i]) != 0) {
      ++i;
    } else if (!args[i].empty() && args[i][0] != '-') {
      return args[i];
    }
  }
  return {};
}

std::string host_of(std::string_view url) {
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  return std::string(url.substr(0, url.find_first_of("/:?")));
}

std::string now_text(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::array<char, 64> buf{};
  const auto n = std::strftime(buf.data(), buf.size(), format, &tm);
  return {buf.data(), n};
}

}  // namespace

ShellResult FakeShell::run(std::string_view line) {
  ShellResult result;
  if (line.find_first_not_of(" \t") == std::string_view::npos || depth_ >= kMaxDepth) {
    return result;
  }
  if (depth_ == 0) {
    if (history_.size() >= kMaxHistory) {
      history_.pop_front();
    }
    history_.emplace_back(line.substr(0, 1024));
  }
  ++depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{depth_};
  int status = 0;
  const Expansion env{home_, identity_.user, cwd_, 0};
  for (auto& step : parse(line, env)) {
    if ((step.joint == Joint::and_then && status != 0) || (step.joint == Joint::or_else && status == 0)) {
      continue;
    }
    std::string piped;
    for (auto& words : step.stages) {
      Command command;
      for (std::size_t i = 0; i < words.size(); ++i) {
        const auto& w = words[i];
        const bool redirection = w.front() == '>' || w.front() == '<' || w.rfind("1>", 0) == 0 ||
                                 w.rfind("2>", 0) == 0 || w.rfind("&>", 0) == 0;
        if (!redirection) {
          command.argv.push_back(w);
          continue;
        }
        const bool has_target = std::isdigit(static_cast<unsigned char>(w.back())) == 0 || w.size() == 1;
        const std::string target = has_target && i + 1 < words.size() ? words[i + 1] : std::string();
        i += has_target ? 1 : 0;
        if (w == "<") {
          command.input_file = target;
        } else if (w.front() != '2' && has_target) {
          command.output_redirected = true;  // > file, >> file, &> file, 1> file
        }
        // 2> file, 2>&1, >&2: this shell writes nothing on stderr.
      }
      if (command.argv.empty()) {
        piped.clear();
        continue;
      }
      std::string input = std::move(piped);
      if (!command.input_file.empty()) {
        const auto* f = file(resolve(command.input_file));
        input = f != nullptr ? *f : "";
      }
      piped = execute(command, input, status, result, 0);
      if (command.output_redirected) {
        piped.clear();
      }
      if (result.exit) {
        break;
      }
    }
    append_bounded(result.output, piped);
    if (result.exit) {
      break;
    }
  }
  return result;
}

std::string FakeShell::execute(Command& command, const std::string& input, int& status, ShellResult& result,
                               int depth) {
  auto& a = command.argv;
  status = 0;
  std::string name = a[0];
  if (name.find('/') != std::string::npos) {
    const auto dir = name.substr(0, name.rfind('/'));
    const auto base = basename_of(name);
    const bool system_dir = dir == "/bin" || dir == "/usr/bin" || dir == "/sbin" || dir == "/usr/sbin";
    if (!system_dir || known_commands().count(base) == 0) {
      status = 127;
      return "-bash: " + name + ": No such file or directory\n";
    }
    name = base;
  }
  if (name == "sudo" || name == "nohup" || name == "busybox" || name == "command" || name == "exec" ||
      name == "timeout") {
    std::size_t skip = 1;
    if (name == "timeout" && a.size() > 1) {
      skip = 2;
    }
    while (name == "sudo" && skip < a.size() && a[skip].size() > 1 && a[skip][0] == '-') {
      ++skip;
    }
    if (skip >= a.size()) {
      if (name == "busybox") {
        return "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary.\n";
      }
      return {};
    }
    if (name == "busybox" && known_commands().count(a[skip]) == 0) {
      status = 127;
      return a[skip] + ": applet not found\n";
    }
    Command inner{std::vector<std::string>(a.begin() + static_cast<std::ptrdiff_t>(skip), a.end()), false, {}};
    return depth < kMaxDepth ? execute(inner, input, status, result, depth + 1) : std::string{};
  }
  if (name == "echo") {
    bool newline = true;
    bool escapes = false;
    std::size_t i = 1;
    for (; i < a.size() && a[i].size() > 1 && a[i][0] == '-' && a[i].find_first_not_of("neE", 1) == std::string::npos;
         ++i) {
      newline = newline && a[i].find('n') == std::string::npos;
      escapes = escapes || a[i].find('e') != std::string::npos;
    }
    std::string out;
    for (std::size_t j = i; j < a.size(); ++j) {
      out += (j == i ? "" : " ") + (escapes ? interpret_escapes(a[j]) : a[j]);
    }
    return newline ? out + "\n" : out;
  }
  if (name == "printf") {
    if (a.size() < 2) {
      status = 2;
      return "printf: usage: printf [-v var] format [arguments]\n";
    }
    std::string format = interpret_escapes(a[1]);
    std::size_t arg = 2;
    std::string out;
    for (std::size_t i = 0; i < format.size(); ++i) {
      if (format[i] == '%' && i + 1 < format.size() && (format[i + 1] == 's' || format[i + 1] == 'd')) {
        out += arg < a.size() ? a[arg++] : "";
        ++i;
      } else {
        out.push_back(format[i]);
      }
    }
    return out;
  }
  if (name == "uname") {
    return uname(a);
  }
  if (name == "id") {
    return identity_.user == "root" ? "uid=0(root) gid=0(root) groups=0(root)\n"
                                    : "uid=1000(" + identity_.user + ") gid=1000(" + identity_.user + ") groups=1000(" +
                                          identity_.user + "),27(sudo)\n";
  }
  if (name == "whoami") {
    return identity_.user + "\n";
  }
  if (name == "hostname") {
    return identity_.hostname + "\n";
  }
  if (name == "pwd") {
    return cwd_ + "\n";
  }
  if (name == "cd") {
    const auto path = resolve(a.size() > 1 ? a[1] : home_);
    if (!is_dir(path)) {
      status = 1;
      return "-bash: cd: " + a[1] + ": " + (file(path) != nullptr ? "Not a directory" : "No such file or directory") +
             "\n";
    }
    cwd_ = path;
    return {};
  }
  if (name == "ls" || name == "dir") {
    return list(a);
  }
  if (name == "cat" || name == "head" || name == "tail" || name == "wc" || name == "grep") {
    std::vector<std::string> operands;
    std::vector<std::string> options;
    std::size_t first_operand = 1;
    std::string pattern;
    if (name == "grep") {
      for (; first_operand < a.size() && a[first_operand].size() > 1 && a[first_operand][0] == '-'; ++first_operand) {
        options.push_back(a[first_operand]);
      }
      if (first_operand >= a.size()) {
        status = 2;
        return "Usage: grep [OPTION]... PATTERNS [FILE]...\n";
      }
      pattern = a[first_operand++];
    }
    std::size_t count = 10;
    for (std::size_t i = first_operand; i < a.size(); ++i) {
      if (a[i] == "-n" && i + 1 < a.size()) {
        std::from_chars(a[i + 1].data(), a[i + 1].data() + a[i + 1].size(), count);
        ++i;
      } else if (a[i].size() > 1 && a[i][0] == '-') {
        options.push_back(a[i]);
        if (std::isdigit(static_cast<unsigned char>(a[i][1])) != 0) {
          std::from_chars(a[i].data() + 1, a[i].data() + a[i].size(), count);
        }
      } else {
        operands.push_back(a[i]);
      }
    }
    std::string text;
    std::string errors;
    if (operands.empty()) {
      text = input;
    }
    for (const auto& operand : operands) {
      const auto path = resolve(operand);
      const auto* f = file(path);
      if (f == nullptr) {
        status = 1;
        errors.append(name).append(": ").append(operand);
        errors += is_dir(path) ? ": Is a directory\n" : ": No such file or directory\n";
      } else if (path == "/etc/shadow" && identity_.user != "root") {
        status = 1;
        errors.append(name).append(": ").append(operand).append(": Permission denied\n");
      } else {
        append_bounded(text, *f);
      }
    }
    const auto flag = [&](char f) {
      return std::any_of(options.begin(), options.end(),
                         [&](const std::string& o) { return o.find(f) != std::string::npos; });
    };
    auto lines = split_lines(text);
    if (name == "cat") {
      return errors + text;
    }
    if (name == "head") {
      lines.resize(std::min(lines.size(), count));
      return errors + join_lines(lines);
    }
    if (name == "tail") {
      lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(std::min(lines.size(), count)));
      return errors + join_lines(lines);
    }
    if (name == "wc") {
      const auto words = [&] {
        std::size_t n = 0;
        bool in = false;
        for (const char c : text) {
          const bool space = c == ' ' || c == '\n' || c == '\t';
          n += !space && !in ? 1 : 0;
          in = !space;
        }
        return n;
      }();
      if (flag('l')) {
        return errors + std::to_string(lines.size()) + "\n";
      }
      return errors + std::to_string(lines.size()) + " " + std::to_string(words) + " " + std::to_string(text.size()) +
             "\n";
    }
    // grep [-i] [-v] [-c]
    const bool ignore_case = flag('i');
    const bool invert = flag('v');
    const std::string needle = ignore_case ? lower(pattern) : pattern;
    std::vector<std::string_view> matched;
    for (const auto l : lines) {
      const bool hit = (ignore_case ? lower(l) : std::string(l)).find(needle) != std::string::npos;
      if (hit != invert) {
        matched.push_back(l);
      }
    }
    status = matched.empty() ? 1 : status;
    if (flag('c')) {
      return errors + std::to_string(matched.size()) + "\n";
    }
    return errors + join_lines(matched);
  }
  if (name == "uptime") {
    const auto days = std::stoull(files_.at("/proc/uptime")) / 86400;
    return " " + now_text("%H:%M:%S") + " up " + std::to_string(days) +
           " days,  3:12,  1 user,  load average: 0.08, 0.03, 0.01\n";
  }
  if (name == "w" || name == "who") {
    return identity_.user + "     pts/0        " + now_text("%Y-%m-%d %H:%M") + "\n";
  }
  if (name == "free") {
    return "               total        used        free      shared  buff/cache   available\n"
           "Mem:         3932160      947328      206764        9540     2778068     2804272\n"
           "Swap:              0           0           0\n";
  }
  if (name == "nproc") {
    return "2\n";
  }
  if (name == "df") {
    return "Filesystem     1K-blocks    Used Available Use% Mounted on\n"
           "/dev/vda1       40972512 6218348  32640696  17% /\n"
           "tmpfs            2013264       0   2013264   0% /dev/shm\n";
  }
  if (name == "ps") {
    return "    PID TTY          TIME CMD\n   1021 pts/0    00:00:00 bash\n   1187 pts/0    00:00:00 ps\n";
  }
  if (name == "ifconfig") {
    const auto octet = std::to_string(10 + seeded_draw(identity_.seed, 9) % 240);
    return "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet 10.0.0." + octet +
           "  netmask 255.255.255.0  broadcast 10.0.0.255\n";
  }
  if (name == "date") {
    return now_text("%a %b %e %H:%M:%S UTC %Y") + "\n";
  }
  if (name == "history") {
    std::string out;
    std::size_t n = 1;
    for (const auto& h : history_) {
      out += "    " + std::to_string(n++) + "  " + h + "\n";
    }
    return out;
  }
  if (name == "which") {
    std::string out;
    for (std::size_t i = 1; i < a.size(); ++i) {
      if (known_commands().count(a[i]) != 0) {
        out += "/usr/bin/" + a[i] + "\n";
      } else {
        status = 1;
      }
    }
    return out;
  }
  if (name == "env") {
    return "SHELL=/bin/bash\nPWD=" + cwd_ + "\nLOGNAME=" + identity_.user + "\nHOME=" + home_ +
           "\nUSER=" + identity_.user + "\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";
  }
  if (name == "exit" || name == "logout") {
    result.exit = true;
    return {};
  }
  if (name == "sh" || name == "bash" || name == "ash" || name == "dash") {
    if (a.size() >= 3 && a[1] == "-c") {
      // The inner line runs in this shell: its downloads and cd count.
      auto inner = run(a[2]);
      result.downloads.insert(result.downloads.end(), inner.downloads.begin(), inner.downloads.end());
      result.exit = result.exit || inner.exit;
      return inner.output;
    }
    if (a.size() >= 2) {
      status = 127;
      return name + ": 0: cannot open " + a[1] + ": No such file\n";
    }
    return {};
  }
  if (name == "wget" || name == "curl" || name == "tftp" || name == "ftpget") {
    const auto url = download_url(name, a);
    if (url.empty()) {
      status = 1;
      return name == "wget" ? "wget: missing URL\nUsage: wget [OPTION]... [URL]...\n"
                            : name + ": try '" + name + " --help' for more information\n";
    }
    result.downloads.push_back(url.substr(0, 2048));
    const auto host = host_of(url);
    status = name == "curl" ? 7 : 4;
    if (name == "wget") {
      return "--" + now_text("%Y-%m-%d %H:%M:%S") + "--  " + url + "\nConnecting to " + host +
             "... failed: " + "Connection timed out.\n";
    }
    if (name == "curl") {
      return "curl: (7) Failed to connect to " + host + " port 80 after 3052 ms: Couldn't connect to server\n";
    }
    return name + ": timeout\n";
  }
  if (name == "passwd") {
    status = 1;
    return "Changing password for " + identity_.user + ".\npasswd: Authentication token manipulation error\n";
  }
  if (name == "false") {
    status = 1;
    return {};
  }
  if (name == "clear") {
    return "\x1b[H\x1b[2J";
  }
  if (known_commands().count(name) != 0) {
    return {};  // chmod, rm, mkdir, kill, export...: silent success
  }
  status = 127;
  return "-bash: " + name + ": command not found\n";
}

}  // namespace honeycomb::honeypot
